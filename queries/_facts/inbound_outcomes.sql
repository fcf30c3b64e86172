-- name: inbound_outcomes
-- purpose: inbound referrals counted per day referred, status and first fee (the earliest billed_on of
--          a fee row on a matter from the referral; null when none), with the referrer's type and
--          region: the conversion funnel without joining every referral to every fee
-- grain: one row per (referred_on, status, first_billed_on, referrer type, region) with an inbound
--        referral, in date order
with

first_fees as (
    select referral_id, min(billed_on) as first_billed_on
    from fee_facts
    where referral_id is not null
    group by referral_id
)

select
    rf.referred_on,
    rf.status,
    b.first_billed_on,
    rf.fact_referrer_type,
    rf.fact_region,
    count(*)            as referrals
from referral_facts as rf
left join first_fees as b on b.referral_id = rf.referral_id
where rf.direction = 'inbound'
group by rf.referred_on, rf.status, b.first_billed_on, rf.fact_referrer_type, rf.fact_region
order by rf.referred_on
