-- name: mover_fees
-- purpose: the fee rows moved_contacts reads, as fee_facts has them: fees on matters from an inbound
--          referral made by a contact who moved firm (contact_moves)
-- grain: one row per such fee row
select
    f.*,
    m.referral_id,
    m.team              as fact_team,
    m.work_type         as fact_work_type,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from fees as f
join matters as m on m.matter_id = f.matter_id
join referrals as rf on rf.referral_id = m.referral_id
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
where rf.direction = 'inbound'
  and rf.contact_id in (select contact_id from contact_moves)
