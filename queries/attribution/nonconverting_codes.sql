-- name: nonconverting_codes
-- purpose: the non-converting journeys of metrics.md "Multi-touch attribution" as numbers, for the
--          Markov model and the path explorer (dashboard/attribution.py): per client, its
--          touchpoints in the window after the end of the day of its last conversion on or before
--          `end`, all of them if it has none (nonconverting_journeys is the same journeys as text):
--          the touchpoints in the window whose client's next conversion (touch_facts) is after
--          `end` or never. client, channel_code and referrer_code: touch_codes numbers; -1 for none.
-- grain: one row per touchpoint of a non-converting journey, by client then time (seq)
select seq, client, channel_code, referrer_code
from touch_facts
where touched_at >= cast($start as date)
  and touched_at < cast($end as date) + interval 1 day
  and (next_conversion_on is null or next_conversion_on > $end)
order by seq
