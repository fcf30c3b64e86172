-- name: drift
-- purpose: strategic drift index per calendar quarter: half the summed gaps
--          between the actual mix of new inbound work and the target mix in
--          force on the quarter's first day (metrics.md "Strategic drift");
--          targets: work_type_targets, with the mixes edited in the app (the store)
--          replacing the Parquet mix of the same date
-- grain: one row per calendar quarter overlapping the window, oldest first
-- param: basis choice(count|value) = count
with

-- the target mix: a mix saved in the app (the store) replaces the Parquet
-- mix of the same effective_from; other Parquet dates still apply
targets_ as (
    select work_type, target_share, effective_from
    from target_mix_current
    union all
    select work_type, target_share, effective_from
    from work_type_targets
    where effective_from not in (select effective_from from target_mix_current)
),

quarters as (
    select cast(q as date) as quarter_start
    from generate_series(
        cast(date_trunc('quarter', $start::date) as timestamp),
        cast(date_trunc('quarter', $end::date) as timestamp),
        interval 3 month
    ) as t(q)
),

inbound as (
    select
        cast(date_trunc('quarter', referred_on) as date) as quarter_start,
        work_type,
        -- the basis: one per referral, or its estimated value (nulls excluded below)
        case when $basis = 'count' then 1.0 else estimated_value end as weight
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on between $start and $end
),

quarter_referrals as (
    select quarter_start, count(*) as referrals
    from inbound
    group by quarter_start
),

actual as (
    select quarter_start, work_type, sum(weight) as weight
    from inbound
    where weight is not null
    group by quarter_start, work_type
),

actual_totals as (
    select quarter_start, nullif(sum(weight), 0) as total
    from actual
    group by quarter_start
),

actual_shares as (
    select a.quarter_start, a.work_type, a.weight / t.total as actual_share
    from actual as a
    join actual_totals as t on t.quarter_start = a.quarter_start
    where t.total is not null
),

-- the target mix in force on each quarter's first day: the latest effective_from on or before it
target_dates as (
    select q.quarter_start, max(t.effective_from) as effective_from
    from quarters as q
    join targets_ as t on t.effective_from <= q.quarter_start
    group by q.quarter_start
),

targets as (
    select d.quarter_start, t.work_type, sum(t.target_share) as target_share
    from target_dates as d
    join targets_ as t on t.effective_from = d.effective_from
    group by d.quarter_start, t.work_type
),

mix as (
    select
        coalesce(a.quarter_start, t.quarter_start) as quarter_start,
        coalesce(a.work_type, t.work_type)         as work_type,
        a.actual_share,
        coalesce(t.target_share, 0)                as target_share
    from actual_shares as a
    full join targets as t
        on t.quarter_start = a.quarter_start and t.work_type = a.work_type
),

quarter_drift as (
    -- a quarter with nothing on the basis has no actual shares, so no drift
    select
        m.quarter_start,
        0.5 * sum(abs(coalesce(m.actual_share, 0) - m.target_share)) as drift_tvd
    from mix as m
    join actual_totals as t on t.quarter_start = m.quarter_start
    where t.total is not null
    group by m.quarter_start
)

select
    year(q.quarter_start) || 'Q' || quarter(q.quarter_start) as quarter,
    q.quarter_start,
    coalesce(r.referrals, 0)                                 as referrals,
    d.drift_tvd
from quarters as q
left join quarter_referrals as r on r.quarter_start = q.quarter_start
left join quarter_drift as d on d.quarter_start = q.quarter_start
order by q.quarter_start
