-- name: journey_conversions
-- purpose: every matter as a conversion of metrics.md "Multi-touch attribution", numbered in
--          (opened_on, matter_id) order, so that the conversions of any window are one range of
--          numbers; with the day of the client's previous conversion (a matter opened on a strictly
--          earlier day, whatever its team or referral) and the columns the sidebar filters test
--          (as matter_facts). A matter without a client or an opening day has no journey. client:
--          the client's touch_codes number (null when it has no touchpoint).
-- grain: one row per matter, by journey
with

conversion_days as (
    select distinct client_id, opened_on
    from matters
    where client_id is not null and opened_on is not null
),

previous_days as (
    select
        client_id,
        opened_on,
        lag(opened_on) over (partition by client_id order by opened_on) as previous_on
    from conversion_days
)

select
    row_number() over (order by m.opened_on, m.matter_id) - 1 as journey,
    m.matter_id,
    m.client_id,
    cl.code as client,
    m.opened_on,
    p.previous_on,
    m.team,
    m.work_type,
    m.fact_office,
    m.fact_referrer_type,
    m.fact_region
from matter_facts as m
join previous_days as p on p.client_id = m.client_id and p.opened_on = m.opened_on
left join touch_codes as cl on cl.kind = 'client' and cl.name = m.client_id
order by journey
