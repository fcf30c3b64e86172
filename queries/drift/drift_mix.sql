-- name: drift_mix
-- purpose: the actual mix of new inbound work against the target mix in force,
--          per calendar quarter and work type (metrics.md "Strategic drift");
--          the shares behind the drift query's drift_tvd
-- grain: one row per (quarter, work type) with an actual or a target share in
--        the quarter, oldest quarter first, largest target then actual share first
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
        case when $basis = 'count' then 1.0 else estimated_value end as weight
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on between $start and $end
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
)

select
    year(m.quarter_start) || 'Q' || quarter(m.quarter_start) as quarter,
    m.work_type,
    -- 0 for a target-only work type in a quarter with work; null in a quarter with nothing
    case when t.total is not null then coalesce(m.actual_share, 0) end as actual_share,
    m.target_share
from mix as m
left join actual_totals as t on t.quarter_start = m.quarter_start
order by m.quarter_start, m.target_share desc, round(case when t.total is not null then coalesce(m.actual_share, 0) end, 9) desc nulls last, m.work_type
