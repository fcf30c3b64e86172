-- name: journey_codes
-- purpose: the converting journeys of metrics.md "Multi-touch attribution" as numbers, for the
--          models of dashboard/attribution.py: the journey_facts rows of the conversions (matters
--          opened in the window kept by the filters, as kept_matters). Before any lookback: the
--          models keep the touchpoints with d ≤ lookback_days, which are each journey's last ones
--          (journey_touches is the same journeys with the lookback applied, as text).
--          channel_code and referrer_code: journey_code_names; -1 for none.
-- grain: one row per (conversion, touchpoint), by journey then position; a conversion without
--        touchpoints has one row with n = 0 and position 0
select
    journey,
    cast(n as integer) as n,
    cast(coalesce(position, 0) as integer) as position,
    cast(coalesce(d, 0) as integer) as d,
    coalesce(channel_code, -1) as channel_code,
    coalesce(referrer_code, -1) as referrer_code
from kept_journey_facts($team, $office, $work_type, $referrer_type, $region)
where opened_on between $start and $end
