-- name: journey_fees
-- purpose: every fee row by the number of its matter's journey (journey_conversions), so that a
--          conversion's value (fees billed up to a day) is summed over integers, not matter ids
-- grain: one row per fee row of a matter with a journey, by journey then billed_on
select c.journey, f.billed_on, f.amount
from fees as f
join journey_conversions as c on c.matter_id = f.matter_id
order by c.journey, f.billed_on
