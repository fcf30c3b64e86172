-- name: reciprocity
-- purpose: reciprocity with external referrers: inbound referrals they sent us
--          against outbound referrals we sent them in the window (as the
--          scorecard's referrals and outbound_referrals), flagging one-way
--          relationships: no_return_from_them (we sent work, none came back)
--          and no_return_from_us (they sent work, we sent none)
-- grain: one row per kept referrer with an inbound or outbound referral in the
--        window, most lopsided first
with

referrers_ as (
    select referrer_id, name, referrer_type
    from kept_referrers($referrer_type, $region)
),

referrals_ as (
    select referrer_id, direction, status, referred_on
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction in ('inbound', 'outbound')
      and referred_on <= $end
),

per_referrer as (
    select
        referrer_id,
        count(*) filter (where direction = 'inbound' and referred_on >= $start)  as inbound_referrals,
        count(*) filter (where direction = 'outbound' and referred_on >= $start) as outbound_referrals,
        count(*) filter (where direction = 'outbound' and referred_on >= $start
                         and status = 'won')                                   as outbound_won,
        max(referred_on) filter (where direction = 'inbound')                  as last_inbound_on,
        max(referred_on) filter (where direction = 'outbound')                 as last_outbound_on
    from referrals_
    group by referrer_id
)

select
    r.referrer_id,
    r.name,
    r.referrer_type,
    p.inbound_referrals,
    p.outbound_referrals,
    p.outbound_won,
    p.inbound_referrals - p.outbound_referrals                  as reciprocity_balance,
    p.outbound_referrals > 0 and p.inbound_referrals = 0         as no_return_from_them,
    p.inbound_referrals > 0 and p.outbound_referrals = 0         as no_return_from_us,
    p.last_inbound_on,
    p.last_outbound_on
from per_referrer as p
join referrers_ as r on r.referrer_id = p.referrer_id
where p.inbound_referrals + p.outbound_referrals > 0
order by abs(p.inbound_referrals - p.outbound_referrals) desc, r.referrer_id
