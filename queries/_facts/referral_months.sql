-- name: referral_months
-- purpose: inbound and outbound referrals counted per referrer, direction and calendar month (all,
--          and by status), with their first and last referred_on and the referrer's type and
--          region: a window's whole months without reading every referral (the days at its edges
--          come from referral_facts, which is in date order)
-- grain: one row per (referrer, direction, month) with an inbound or outbound referral
select
    referrer_id,
    direction,
    cast(date_trunc('month', referred_on) as date) as month_on,
    fact_referrer_type,
    fact_region,
    count(*)                                       as referrals,
    count(*) filter (where status = 'won')         as won,
    count(*) filter (where status = 'lost')        as lost,
    count(*) filter (where status = 'declined')    as declined,
    count(*) filter (where status = 'open')        as open,
    min(referred_on)                               as first_on,
    max(referred_on)                               as last_on
from referral_facts
where direction in ('inbound', 'outbound')
group by referrer_id, direction, month_on, fact_referrer_type, fact_region
order by month_on
