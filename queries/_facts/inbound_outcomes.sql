-- name: inbound_outcomes
-- purpose: inbound referrals counted per day referred, status and first fee (the earliest billed_on of
--          a fee row on a matter from the referral; null when none), with the referrer's type and
--          region: the conversion funnel without joining every referral to every fee
-- grain: one row per (referred_on, status, first_billed_on, referrer type, region) with an inbound
--        referral, in date order
with

first_fees as (
    select m.referral_id, min(f.billed_on) as first_billed_on
    from fees as f
    join matters as m on m.matter_id = f.matter_id
    where m.referral_id is not null
    group by m.referral_id
)

select
    rf.referred_on,
    rf.status,
    b.first_billed_on,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region,
    count(*)            as referrals
from referrals as rf
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
left join first_fees as b on b.referral_id = rf.referral_id
where rf.direction = 'inbound'
group by rf.referred_on, rf.status, b.first_billed_on, r.referrer_type, r.region
order by rf.referred_on
