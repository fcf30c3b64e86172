-- name: referral_months
-- purpose: inbound and outbound referrals counted per referrer, direction and calendar month (all,
--          and by status), with their first and last referred_on and the referrer's type and
--          region: a window's whole months without reading every referral (the days at its edges
--          come from referral_facts, which is in date order)
-- grain: one row per (referrer, direction, month) with an inbound or outbound referral
select
    rf.referrer_id,
    rf.direction,
    cast(date_trunc('month', rf.referred_on) as date) as month_on,
    r.referrer_type                                   as fact_referrer_type,
    r.region                                          as fact_region,
    count(*)                                          as referrals,
    count(*) filter (where rf.status = 'won')         as won,
    count(*) filter (where rf.status = 'lost')        as lost,
    count(*) filter (where rf.status = 'declined')    as declined,
    count(*) filter (where rf.status = 'open')        as open,
    min(rf.referred_on)                               as first_on,
    max(rf.referred_on)                               as last_on
from referrals as rf
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
left join referrers as r on r.referrer_id = rf.referrer_id
where rf.direction in ('inbound', 'outbound')
group by rf.referrer_id, rf.direction, month_on, r.referrer_type, r.region
order by month_on
