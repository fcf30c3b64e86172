-- name: mover_referrals
-- purpose: the inbound referrals moved_contacts reads, as referral_facts has them: those made by a
--          contact who moved firm (contact_moves) and those from a firm a contact moved to
-- grain: one row per such inbound referral
select *
from referral_facts
where direction = 'inbound'
  and (contact_id in (select contact_id from contact_moves)
       or referrer_id in (select to_referrer_id from contact_moves))
