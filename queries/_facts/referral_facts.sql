-- name: referral_facts
-- purpose: every referral with its fee earner's office and its referrer's type and region
-- grain: one row per referral, by to_team and office (the team and office filters' columns), then
--        referred_on and referral_id: a team or office filter reads its row groups only, and a
--        window's days still skip the others' (each team's and office's rows are in date order)
select
    rf.*,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from referrals as rf
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
order by rf.to_team, fe.office, rf.referred_on, rf.referral_id
