-- name: referral_facts
-- purpose: every referral with its fee earner's office and its referrer's type and region
-- grain: one row per referral
select
    rf.*,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from referrals as rf
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
