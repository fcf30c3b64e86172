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

-- fees follow the work: billed in the window, whenever the internal referral was made
pair_fees as (
    select rf.from_team, rf.to_team, sum(f.amount) as referred_fees
    from kept_fees($team, $office, $work_type, $referrer_type, $region) as f
    join referrals as rf on rf.referral_id = f.referral_id
    where rf.direction = 'internal'
      and f.billed_on between $start and $end
    group by rf.from_team, rf.to_team
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
order by c.referrals desc, referred_fees desc, c.from_team, c.to_team
