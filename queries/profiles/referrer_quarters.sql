-- name: referrer_quarters
-- purpose: one referrer's trend per calendar quarter of the window: inbound referrals it sent and
--          how many were won, outbound referrals we sent it, referred fees billed (fees follow the
--          work, as the scorecard) and the cost of our investment in it (hours x cost rate +
--          expense); the quarters sum to the referrer's scorecard row
-- grain: one row per calendar quarter overlapping the window, oldest first
-- param: referrer str =
with

quarters as (
    select cast(q as date) as quarter_start
    from generate_series(
        cast(date_trunc('quarter', $start::date) as timestamp),
        cast(date_trunc('quarter', $end::date) as timestamp),
        interval 3 month
    ) as t(q)
),

referrals_ as (
    select cast(date_trunc('quarter', referred_on) as date) as quarter_start, direction, status
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where referrer_id = $referrer
      and direction in ('inbound', 'outbound')
      and referred_on between $start and $end
),

fees_ as (
    -- the fee facts carry their referral's direction and referrer: no join to every referral
    select cast(date_trunc('quarter', f.billed_on) as date) as quarter_start, f.amount
    from kept_fee_facts($team, $office, $work_type, $referrer_type, $region) as f
    where f.fact_direction = 'inbound'
      and f.fact_referrer_id = $referrer
      and f.billed_on between $start and $end
),

investment as (
    select
        cast(date_trunc('quarter', a.occurred_on) as date) as quarter_start,
        a.hours * fe.cost_rate + a.expense                 as cost
    from kept_activities($team, $office, $referrer_type, $region) as a
    left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
    where a.referrer_id = $referrer
      and a.occurred_on between $start and $end
),

referral_counts as (
    select
        quarter_start,
        count(*) filter (where direction = 'inbound')                    as referrals,
        count(*) filter (where direction = 'inbound' and status = 'won') as won,
        count(*) filter (where direction = 'outbound')                   as outbound_referrals
    from referrals_
    group by quarter_start
),

fee_sums as (
    select quarter_start, sum(amount) as referred_fees
    from fees_
    group by quarter_start
),

cost_sums as (
    select quarter_start, sum(cost) as investment_cost
    from investment
    group by quarter_start
)

select
    year(q.quarter_start) || 'Q' || quarter(q.quarter_start) as quarter,
    q.quarter_start,
    coalesce(r.referrals, 0)                                 as referrals,
    coalesce(r.won, 0)                                       as won,
    coalesce(r.outbound_referrals, 0)                        as outbound_referrals,
    coalesce(f.referred_fees, 0)                             as referred_fees,
    coalesce(c.investment_cost, 0)                           as investment_cost
from quarters as q
left join referral_counts as r on r.quarter_start = q.quarter_start
left join fee_sums as f on f.quarter_start = q.quarter_start
left join cost_sums as c on c.quarter_start = q.quarter_start
order by q.quarter_start
