-- name: activity_months
-- purpose: business development activities summed per referrer, activity type and calendar month
--          (count, hours, expense, cost = hours x the fee earner's cost_rate + expense), with the
--          referrer's type and region: the scorecard's investment and the service levels over whole
--          months without reading every activity (the days at a window's edges come from
--          activity_facts)
-- grain: one row per (referrer, activity type, month) with an activity
select
    a.referrer_id,
    a.activity_type,
    cast(date_trunc('month', a.occurred_on) as date) as month_on,
    r.referrer_type                                  as fact_referrer_type,
    r.region                                         as fact_region,
    count(*)                                         as activities,
    sum(a.hours)                                     as hours,
    sum(a.expense)                                   as expense,
    sum(a.hours * fe.cost_rate + a.expense)          as cost
from activities as a
left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
left join referrers as r on r.referrer_id = a.referrer_id
group by a.referrer_id, a.activity_type, month_on, r.referrer_type, r.region
order by month_on
