-- name: mover_referrals
-- purpose: the inbound referrals moved_contacts reads, as referral_facts has them: those made by a
--          contact who moved firm (contact_moves) and those from a firm a contact moved to
-- grain: one row per such inbound referral
select
    rf.*,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from referrals as rf
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
where rf.direction = 'inbound'
  and (rf.contact_id in (select contact_id from contact_moves)
       or rf.referrer_id in (select to_referrer_id from contact_moves))
