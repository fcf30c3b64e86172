-- name: journey_facts
-- purpose: the converting journeys of metrics.md "Multi-touch attribution" before any lookback:
--          each conversion (journey_conversions) with every touchpoint of its client before the
--          end of its opened_on day and after the end of the day of the client's previous
--          conversion (same-day matters share one journey). A lookback keeps the touchpoints with
--          d ≤ lookback_days, which are the last ones of a journey. Channels and referrers as
--          touch_codes numbers; the conversion's matter, client, window and filter columns
--          repeated on each row (read only by the queries that show them).
-- grain: one row per (conversion, touchpoint), by journey then position; a conversion without
--        touchpoints has one row with n = 0 and the touchpoint columns null
with

touches as (
    select
        c.journey,
        t.touchpoint_id,
        t.touched_at,
        t.channel,
        t.referrer_id,
        date_diff('day', cast(t.touched_at as date), c.opened_on) as d
    from journey_conversions as c
    join touchpoints as t
        on t.client_id = c.client_id
       and t.touched_at < c.opened_on + interval 1 day
       and (c.previous_on is null or t.touched_at >= c.previous_on + interval 1 day)
)

select
    c.journey,
    c.matter_id,
    c.client_id,
    c.opened_on,
    c.team,
    c.work_type,
    c.fact_office,
    c.fact_referrer_type,
    c.fact_region,
    count(t.touchpoint_id) over (partition by c.journey) as n,
    case when t.touchpoint_id is not null then
        row_number() over (partition by c.journey order by t.touched_at, t.touchpoint_id)
    end as position,
    t.touchpoint_id,
    t.touched_at,
    t.d,
    ch.code as channel_code,
    rf.code as referrer_code
from journey_conversions as c
left join touches as t on t.journey = c.journey
left join touch_codes as ch on ch.kind = 'channel' and ch.name = t.channel
left join touch_codes as rf on rf.kind = 'referrer' and rf.name = t.referrer_id
order by c.journey, position
