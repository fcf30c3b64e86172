-- name: journey_touches
-- purpose: the converting journeys of metrics.md "Multi-touch attribution", as text: each
--          conversion (a matter opened in the window) with the client's touchpoints before the
--          end of its opened_on day, after the end of the day of the client's previous
--          conversion (a matter opened on a strictly earlier day; same-day matters share one
--          journey) and on or after opened_on − lookback_days at midnight. value = all fee rows
--          billed on the matter up to `end`, credit notes included. Filters: the conversions are
--          the matters kept by kept_matters (team and work type by the matter's own, office,
--          referrer type and region through the referral the matter came from); the
--          previous-conversion cut uses all the client's matters, so a conversion's journey never
--          depends on the filters. Read from journey_facts (the journeys before any lookback),
--          as the models read journey_codes.
-- grain: one row per (conversion, touchpoint), by conversion (opened_on, then matter_id) then
--        position; a conversion with an empty journey (unattributed) has one row with n = 0 and
--        the touchpoint columns null
-- param: lookback_days int = 365
with

kept as (
    select
        journey,
        matter_id,
        client_id,
        opened_on,
        n,
        position,
        touchpoint_id,
        touched_at,
        d,
        channel_code,
        referrer_code,
        d <= $lookback_days as inside
    from kept_journey_facts($team, $office, $work_type, $referrer_type, $region)
    where opened_on between $start and $end
),

counted as (
    select
        *,
        count(case when inside then 1 end) over (partition by journey) as kept_n,
        -- the touchpoints within the lookback are the journey's last ones: the first of them
        -- becomes position 1
        min(case when inside then position end) over (partition by journey) as first_kept
    from kept
),

touches as (
    -- a journey's touchpoints within the lookback, or one row without a touchpoint when none is
    select
        journey,
        matter_id,
        client_id,
        opened_on,
        kept_n as n,
        case when inside then position - first_kept + 1 end as position,
        case when inside then touchpoint_id end as touchpoint_id,
        case when inside then touched_at end as touched_at,
        case when inside then channel_code end as channel_code,
        case when inside then referrer_code end as referrer_code,
        case when inside then d end as d
    from counted
    where inside or (kept_n = 0 and (n = 0 or position = n))
),

window_journeys as (
    select min(journey) as first_journey, max(journey) as last_journey
    from journey_conversions
    where opened_on between $start and $end
),

values_ as (
    select f.journey, sum(f.amount) as value
    from journey_fees as f
    where f.journey >= (select first_journey from window_journeys)
      and f.journey <= (select last_journey from window_journeys)
      and f.billed_on <= $end
    group by f.journey
)

select
    t.matter_id,
    t.client_id,
    t.opened_on,
    coalesce(v.value, 0.0) as value,
    t.n,
    t.position,
    t.touchpoint_id,
    t.touched_at,
    names.channels[t.channel_code + 1] as channel,
    names.referrers[t.referrer_code + 1] as referrer_id,
    t.d
from touches as t
cross join touch_names() as names
left join values_ as v on v.journey = t.journey
order by t.journey, t.position
