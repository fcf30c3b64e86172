-- name: fee_days
-- purpose: fees of known matters summed per day and per the referral the matter came from: its
--          direction and referrer (inbound, outbound), or its from and to team (internal), with the
--          referrer's type and region; what referred fees and internal flows read when no team,
--          office or work-type filter is set, instead of every fee row (fee_facts)
-- grain: one row per (billed_on, direction, referrer, from_team, to_team) with a fee row, in date order
select
    f.billed_on,
    rf.direction,
    rf.referrer_id,
    case when rf.direction = 'internal' then rf.from_team end as from_team,
    case when rf.direction = 'internal' then rf.to_team end   as to_team,
    r.referrer_type                                           as fact_referrer_type,
    r.region                                                  as fact_region,
    sum(f.amount)                                             as amount,
    count(*)                                                  as fee_rows
from fees as f
join matters as m on m.matter_id = f.matter_id
left join referrals as rf on rf.referral_id = m.referral_id
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
group by f.billed_on, rf.direction, rf.referrer_id, 4, 5, r.referrer_type, r.region
order by f.billed_on
