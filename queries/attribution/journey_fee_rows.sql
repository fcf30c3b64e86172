-- name: journey_fee_rows
-- purpose: the fee rows that make up the value of every conversion of the window (metrics.md
--          "Multi-touch attribution": all fee rows billed on the matter up to `end`, credit notes
--          included), by journey number; the models add them up per journey
--          (dashboard/attribution.py). Conversions are numbered by opening day, so the window's
--          are one range of journey numbers. Not narrowed by the filters: the models look up the
--          conversions journey_codes kept.
-- grain: one row per fee row billed up to `end` on a conversion opened in the window, by journey
--        then billed_on
with

window_journeys as (
    select min(journey) as first_journey, max(journey) as last_journey
    from journey_conversions
    where opened_on between $start and $end
)

select f.journey, f.amount
from journey_fees as f
where f.journey >= (select first_journey from window_journeys)
  and f.journey <= (select last_journey from window_journeys)
  and f.billed_on <= $end
