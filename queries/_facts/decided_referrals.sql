-- name: decided_referrals
-- purpose: the inbound referrals decided (won, lost, declined) by the day they were decided
--          (closed_on; referred_on when closed_on is missing), with referral_facts' filter columns:
--          closing the loop reads the decision days of its window (whole row groups skipped by their
--          date range) instead of every referral
-- grain: one row per decided inbound referral, by decided_on then referral_id
select
    referral_id,
    referrer_id,
    contact_id,
    fee_earner_id,
    to_team,
    work_type,
    status,
    referred_on,
    coalesce(closed_on, referred_on) as decided_on,
    estimated_value,
    fact_office,
    fact_referrer_type,
    fact_region
from referral_facts
where direction = 'inbound'
  and status in ('won', 'lost', 'declined')
order by decided_on, referral_id
