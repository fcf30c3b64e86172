-- name: fee_facts
-- purpose: every fee row of a known matter with the matter's referral, team and work type, and that
--          referral's direction, referrer, office, referrer type and region ("fees follow the work")
-- grain: one row per fee row whose matter exists, by the matter's team and the office, then
--        billed_on, matter_id and amount (see referral_facts)
select
    f.*,
    m.referral_id,
    m.team              as fact_team,
    m.work_type         as fact_work_type,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region,
    rf.direction        as fact_direction,
    rf.referrer_id      as fact_referrer_id
from fees as f
join matters as m on m.matter_id = f.matter_id
left join referrals as rf on rf.referral_id = m.referral_id
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
order by m.team, fe.office, f.billed_on, f.matter_id, f.amount
