-- name: nonconverting_journeys
-- purpose: the non-converting journeys of metrics.md "Multi-touch attribution", used only
--          by the Markov model (and the path explorer's conversion rates): per client, its
--          touchpoints in the window after the end of the day of its last conversion on or
--          before `end`, all of them if it has none. Not narrowed by the sidebar filters:
--          a journey that led to no matter has no team, work type or referral to filter by.
-- grain: one row per touchpoint of a non-converting journey, by client_id then position
with

touches as (
    -- touch_facts: every touchpoint by client, then time, with the day of the client's next
    -- conversion; one with none by `end` is in a non-converting journey (as nonconverting_codes reads)
    select
        seq,
        client_id,
        count(*) over (partition by client) as n,
        row_number() over (partition by client order by seq) as position,
        touchpoint_id,
        touched_at,
        channel_code,
        referrer_code
    from touch_facts
    where touched_at >= cast($start as date)
      and touched_at < cast($end as date) + interval 1 day
      and (next_conversion_on is null or next_conversion_on > $end)
)

select
    t.client_id,
    t.n,
    t.position,
    t.touchpoint_id,
    t.touched_at,
    names.channels[t.channel_code + 1] as channel,
    names.referrers[t.referrer_code + 1] as referrer_id
from touches as t
cross join touch_names() as names
order by t.seq
