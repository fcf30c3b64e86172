-- name: fee_days
-- purpose: fees of known matters summed per day and per the referral the matter came from: its
--          direction and referrer (inbound, outbound), or its from and to team (internal), with the
--          referrer's type and region; what referred fees and internal flows read when no team,
--          office or work-type filter is set, instead of every fee row (fee_facts)
-- grain: one row per (billed_on, direction, referrer, from_team, to_team) with a fee row, in date order
select
    f.billed_on,
    f.fact_direction                                          as direction,
    f.fact_referrer_id                                        as referrer_id,
    rf.from_team,
    rf.to_team,
    f.fact_referrer_type,
    f.fact_region,
    sum(f.amount)                                             as amount,
    count(*)                                                  as fee_rows
from fee_facts as f
-- the teams of internal referrals only: the other directions have none here
left join referrals as rf on rf.referral_id = f.referral_id and f.fact_direction = 'internal'
group by f.billed_on, f.fact_direction, f.fact_referrer_id, rf.from_team, rf.to_team,
         f.fact_referrer_type, f.fact_region
order by f.billed_on
