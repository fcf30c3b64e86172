-- name: matter_facts
-- purpose: every matter with the office and referrer of the referral it came from (null without one)
-- grain: one row per matter, by team and office, then opened_on and matter_id (see referral_facts)
select
    m.*,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from matters as m
left join referrals as rf on rf.referral_id = m.referral_id
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
order by m.team, fe.office, m.opened_on, m.matter_id
