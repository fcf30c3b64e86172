-- name: fee_months
-- purpose: fee_days summed per calendar month: a window's whole months of referred fees without
--          reading every day (the days at its edges come from fee_days)
-- grain: one row per (month, direction, referrer, from_team, to_team) with a fee row
select
    cast(date_trunc('month', billed_on) as date) as month_on,
    direction,
    referrer_id,
    from_team,
    to_team,
    fact_referrer_type,
    fact_region,
    sum(amount)                                  as amount,
    sum(fee_rows)::bigint                        as fee_rows
from fee_days
group by month_on, direction, referrer_id, from_team, to_team, fact_referrer_type, fact_region
order by month_on
