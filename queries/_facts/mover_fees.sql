-- name: mover_fees
-- purpose: the fee rows moved_contacts reads, as fee_facts has them: fees on matters from an inbound
--          referral made by a contact who moved firm (contact_moves)
-- grain: one row per such fee row
select * exclude (fact_direction, fact_referrer_id)
from fee_facts
where fact_direction = 'inbound'
  and referral_id in (select referral_id
                      from referrals
                      where contact_id in (select contact_id from contact_moves))
