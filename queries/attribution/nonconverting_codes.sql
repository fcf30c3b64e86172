-- name: nonconverting_codes
-- purpose: the non-converting journeys of metrics.md "Multi-touch attribution" as numbers, for the
--          Markov model and the path explorer (dashboard/attribution.py): per client, its
--          touchpoints in the window after the end of the day of its last conversion on or before
--          `end`, all of them if it has none (nonconverting_journeys is the same journeys as text).
--          client, channel_code and referrer_code: touch_codes numbers; -1 for none.
-- grain: one row per touchpoint of a non-converting journey, by client then time (seq)
with

last_conversion as (
    select client, max(opened_on) as last_on
    from journey_conversions
    where opened_on <= $end
      and client is not null
    group by client
)

select t.seq, t.client, t.channel_code, t.referrer_code
from touch_facts as t
left join last_conversion as l on l.client = t.client
where t.touched_at >= cast($start as date)
  and t.touched_at < cast($end as date) + interval 1 day
  and (l.last_on is null or t.touched_at >= l.last_on + interval 1 day)
order by t.seq
