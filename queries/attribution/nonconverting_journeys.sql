-- name: nonconverting_journeys
-- purpose: the non-converting journeys of metrics.md "Multi-touch attribution", used only
--          by the Markov model (and the path explorer's conversion rates): per client, its
--          touchpoints in the window after the end of the day of its last conversion on or
--          before `end`, all of them if it has none. Not narrowed by the sidebar filters:
--          a journey that led to no matter has no team, work type or referral to filter by.
-- grain: one row per touchpoint of a non-converting journey, by client_id then position
with

last_conversion as (
    select client_id, max(opened_on) as last_on
    from matters
    where opened_on <= $end
    group by client_id
),

touches as (
    select t.touchpoint_id, t.client_id, t.touched_at, t.channel, t.referrer_id
    from touchpoints as t
    left join last_conversion as l on l.client_id = t.client_id
    where t.touched_at >= cast($start as date)
      and t.touched_at < cast($end as date) + interval 1 day
      and (l.last_on is null or t.touched_at >= l.last_on + interval 1 day)
)

select
    client_id,
    count(*) over (partition by client_id) as n,
    row_number() over (partition by client_id order by touched_at, touchpoint_id) as position,
    touchpoint_id,
    touched_at,
    channel,
    referrer_id
from touches
order by client_id, position
