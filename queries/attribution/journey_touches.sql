-- name: journey_touches
-- purpose: the converting journeys of metrics.md "Multi-touch attribution", built once
--          for all ten models: each conversion (a matter opened in the window) with the
--          client's touchpoints before the end of its opened_on day, after the end of the
--          day of the client's previous conversion (a matter opened on a strictly earlier
--          day; same-day matters share one journey) and on or after opened_on −
--          lookback_days at midnight. value = all fee rows billed on the matter up to
--          `end`, credit notes included. Filters: the conversions are the matters kept
--          by kept_matters (team and work type by the matter's own, office, referrer type
--          and region through the referral the matter came from); the previous-conversion
--          cut uses all the client's matters, so a conversion's journey never depends on
--          the filters.
-- grain: one row per (conversion, touchpoint), by matter_id then position; a conversion
--        with an empty journey (unattributed) has one row with n = 0 and the touchpoint
--        columns null
-- param: lookback_days int = 365
with

conversions as (
    select matter_id, client_id, opened_on
    from kept_matters($team, $office, $work_type, $referrer_type, $region)
    where opened_on between $start and $end
),

conversion_days as (
    -- every day on which a client converted, whatever the filters or the window
    select distinct client_id, opened_on
    from matters
    where client_id in (select client_id from conversions)
),

previous_days as (
    select
        client_id,
        opened_on,
        lag(opened_on) over (partition by client_id order by opened_on) as previous_on
    from conversion_days
),

values_ as (
    select f.matter_id, sum(f.amount) as value
    from fees as f
    where f.billed_on <= $end
      and f.matter_id in (select matter_id from conversions)
    group by f.matter_id
),

journeys as (
    select
        -- an integer per journey in matter_id order: the windows and the final sort below then
        -- partition and order millions of rows by a number, not by a string
        row_number() over (order by c.matter_id) as journey,
        c.matter_id,
        c.client_id,
        c.opened_on,
        p.previous_on,
        coalesce(v.value, 0.0) as value
    from conversions as c
    join previous_days as p on p.client_id = c.client_id and p.opened_on = c.opened_on
    left join values_ as v on v.matter_id = c.matter_id
),

touches as (
    select
        j.journey,
        t.touchpoint_id,
        t.touched_at,
        t.channel,
        t.referrer_id,
        date_diff('day', cast(t.touched_at as date), j.opened_on) as d
    from journeys as j
    join touchpoints as t
        on t.client_id = j.client_id
       and t.touched_at < j.opened_on + interval 1 day
       and t.touched_at >= j.opened_on - to_days($lookback_days)
       and (j.previous_on is null or t.touched_at >= j.previous_on + interval 1 day)
)

select
    j.matter_id,
    j.client_id,
    j.opened_on,
    j.value,
    count(t.touchpoint_id) over (partition by j.journey) as n,
    case when t.touchpoint_id is not null then
        row_number() over (partition by j.journey order by t.touched_at, t.touchpoint_id)
    end as position,
    t.touchpoint_id,
    t.touched_at,
    t.channel,
    t.referrer_id,
    t.d
from journeys as j
left join touches as t on t.journey = j.journey
order by j.journey, position
