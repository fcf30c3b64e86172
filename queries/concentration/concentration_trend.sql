-- name: concentration_trend
-- purpose: concentration of referred fees over time: at each calendar quarter
--          end in the window, the concentration figures (metrics.md
--          "Concentration") over the rolling 12 months to that date
--          [quarter end − 12 months + 1 day, quarter end], which may reach
--          before the window's start
-- grain: one row per calendar quarter end inside the window, oldest first
with

quarter_ends as (
    select
        cast(q + interval 3 month - interval 1 day as date) as period_end,
        cast(q - interval 9 month as date)                  as period_start
    from generate_series(
        cast(date_trunc('quarter', $start::date) as timestamp),
        cast(date_trunc('quarter', $end::date) as timestamp),
        interval 3 month
    ) as t(q)
),

periods as (
    select period_start, period_end
    from quarter_ends
    where period_end between $start and $end
),

-- referred fees as referred_fees_by_referrer: inbound referrals' matters, whenever referred, billed
-- from the first period's start to the window's end; per referrer and month (periods are whole months)
fees as (
    select f.referrer_id, f.month_on, sum(f.amount) as amount
    from kept_fee_tallies(
        cast(date_trunc('quarter', $start::date) - interval 9 month as date), $end,
        $team, $office, $work_type, $referrer_type, $region) as f
    where f.direction = 'inbound'
      and f.referrer_id in (select referrer_id from kept_referrers($referrer_type, $region))
    group by f.referrer_id, month_on
),

positive as (
    -- cents as in concentration.sql: exact shares at the 80% line
    select p.period_end, f.referrer_id, sum(f.amount) as referred_fees,
           round(sum(f.amount) * 100)::bigint as cents
    from periods as p
    join fees as f on f.month_on between p.period_start and p.period_end
    group by p.period_end, f.referrer_id
    having sum(f.amount) > 0
),

ranked as (
    select
        period_end,
        referred_fees,
        referred_fees / sum(referred_fees) over per_period as share,
        coalesce(
            sum(cents) over (
                partition by period_end
                order by cents desc, referrer_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) / sum(cents) over per_period as share_before,
        row_number() over (partition by period_end order by cents desc, referrer_id) as rank,
        row_number() over (partition by period_end order by referred_fees) as ascending_rank,
        count(*) over per_period as n
    from positive
    window per_period as (partition by period_end)
),

stats as (
    select
        period_end,
        count(*)                                   as referrers_with_fees,
        sum(referred_fees)                         as total_referred_fees,
        sum(share) filter (where rank <= 3)        as top3_share,
        sum(share * share)                         as hhi,
        sum((2 * ascending_rank - n - 1) * referred_fees)
            / (count(*) * sum(referred_fees))      as gini,
        count(*) filter (where share_before < 0.8) as referrers_for_80pct
    from ranked
    group by period_end
)

select
    year(p.period_end) || 'Q' || quarter(p.period_end) as quarter,
    p.period_start,
    p.period_end,
    coalesce(s.referrers_with_fees, 0)                  as referrers_with_fees,
    coalesce(s.total_referred_fees, 0)                  as total_referred_fees,
    s.top3_share,
    s.hhi,
    s.gini,
    coalesce(s.referrers_for_80pct, 0)                  as referrers_for_80pct
from periods as p
left join stats as s on s.period_end = p.period_end
order by p.period_end
