-- name: internal_flows
-- purpose: cross-selling between our teams: internal referrals from one team to
--          another in the window, those won, and the fees billed in the window
--          on matters from internal referrals between the two teams, whenever
--          referred (metrics.md "Internal flows and reciprocity")
-- grain: one row per (from_team, to_team) with an internal referral in the
--        window, most referrals first
with

internal as (
    select referral_id, from_team, to_team, status
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'internal'
      and referred_on between $start and $end
),

pair_counts as (
    select
        from_team,
        to_team,
        count(*)                               as referrals,
        count(*) filter (where status = 'won') as won
    from internal
    group by from_team, to_team
),

-- fees follow the work: billed in the window, whenever the internal referral was made; without a
-- team, office or work-type filter from the facts (fee_months for whole months, fee_days for the
-- window's edge days), else from the fee rows
internal_fees as (
    select from_team, to_team, amount
    from fee_months
    where month_facts_apply($team, $office, $work_type)
      and direction = 'internal'
      and filter_keeps($referrer_type, fact_referrer_type)
      and filter_keeps($region, fact_region)
      and month_on between whole_months_from($start) and whole_months_to($end)
    union all
    select from_team, to_team, amount
    from fee_days
    where month_facts_apply($team, $office, $work_type)
      and direction = 'internal'
      and filter_keeps($referrer_type, fact_referrer_type)
      and filter_keeps($region, fact_region)
      and (billed_on between $start and edge_head_to($start, $end, true)
           or billed_on between edge_tail_from($start, $end, true) and $end)
    union all
    select rf.from_team, rf.to_team, f.amount
    from kept_fees($team, $office, $work_type, $referrer_type, $region) as f
    join referrals as rf on rf.referral_id = f.referral_id
    where not month_facts_apply($team, $office, $work_type)
      and rf.direction = 'internal'
      and f.billed_on between $start and $end
),

pair_fees as (
    select from_team, to_team, sum(amount) as referred_fees
    from internal_fees
    group by from_team, to_team
)

select
    c.from_team,
    c.to_team,
    c.referrals,
    c.won,
    coalesce(f.referred_fees, 0) as referred_fees
from pair_counts as c
left join pair_fees as f
    on f.from_team is not distinct from c.from_team
   and f.to_team is not distinct from c.to_team
order by c.referrals desc, round(coalesce(f.referred_fees, 0), 2) desc, c.from_team, c.to_team
