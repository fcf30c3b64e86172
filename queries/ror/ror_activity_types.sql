-- name: ror_activity_types
-- purpose: return on relationships per activity type (what do seminars, lunches,
--          secondments return?): activities, hours and cost in the window, the
--          referred fees of the referrers who received that type of activity,
--          apportioned by each referrer's share of cost, and ror = referred_fees / cost
-- grain: one row per activity type with an activity in the window kept by the
--        filters, most cost first (ties by activity_type)
--
-- Cost follows metrics.md's investment_cost: Σ (hours × the fee earner's
-- cost_rate) + Σ expense, activities in the window (by occurred_on) kept by
-- the filters, exactly as the scorecard computes it.
--
-- Apportioning rule. A referrer's referred fees (the scorecard's
-- referred_fees: fees billed in the window on matters from its inbound
-- referrals, whenever referred) are shared out over the activity types it
-- received in the window in proportion to their cost:
--     referred_fees(type) = Σ over referrers r of
--         referred_fees(r) × cost(r, type) / investment_cost(r).
-- When a referrer's activities in the window cost nothing in total (e.g.
-- newsletters only), its fees are shared by number of activities instead,
-- activities(r, type) / activities(r). So each invested-in referrer's fees
-- are counted once, split over its types; the fees of referrers with no
-- activity in the window belong to no type. ror is null when cost is 0.
with

activities_ as (
    select
        a.referrer_id,
        a.activity_type,
        a.hours,
        a.hours * fe.cost_rate + a.expense as cost
    from kept_activities($team, $office, $referrer_type, $region) as a
    left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
    where a.occurred_on between $start and $end
),

referred_fees as (
    select referrer_id, referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

by_referrer_type as (
    select
        referrer_id,
        activity_type,
        count(*)   as activities,
        sum(hours) as hours,
        sum(cost)  as cost
    from activities_
    group by referrer_id, activity_type
),

shares as (
    select
        referrer_id,
        activity_type,
        activities,
        hours,
        cost,
        case
            when sum(cost) over (partition by referrer_id) <> 0
                then cost / sum(cost) over (partition by referrer_id)
            else activities / sum(activities) over (partition by referrer_id)
        end as share
    from by_referrer_type
),

apportioned as (
    select
        s.activity_type,
        s.referrer_id,
        s.activities,
        s.hours,
        s.cost,
        coalesce(f.referred_fees, 0) * s.share as referred_fees
    from shares as s
    left join referred_fees as f on f.referrer_id = s.referrer_id
)

select
    activity_type,
    cast(sum(activities) as bigint)             as activities,
    count(distinct referrer_id)                 as referrers,
    sum(hours)                                  as hours,
    sum(cost)                                   as cost,
    sum(referred_fees)                          as referred_fees,
    sum(referred_fees) / nullif(sum(cost), 0)   as ror
from apportioned
group by activity_type
order by round(sum(cost), 2) desc, activity_type
