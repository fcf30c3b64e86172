-- name: referrer_referrals
-- purpose: one referrer's referrals in the window, both ways (inbound: work it sent us; outbound:
--          work we sent it), with who made or received them, the days since its previous inbound
--          referral, and for inbound referrals when its referrer was told what became of them
--          (the edit store's "told on" mark)
-- grain: one row per inbound or outbound referral of the referrer with referred_on in the window,
--        newest first
-- param: referrer str =
with

referrals_ as (
    select referral_id, referred_on, direction, work_type, status, estimated_value, closed_on, contact_id,
           fee_earner_id, to_team
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where referrer_id = $referrer
      and direction in ('inbound', 'outbound')
      and referred_on between $start and $end
),

gaps as (
    select
        referral_id,
        referred_on - lag(referred_on) over (order by referred_on, referral_id) as days_since_previous
    from referrals_
    where direction = 'inbound'
),

marks as (
    select referral_id, told_on
    from loop_closed_current
    where told_on is not null
)

select
    rf.referral_id,
    rf.referred_on,
    rf.direction,
    rf.work_type,
    rf.status,
    rf.estimated_value,
    rf.closed_on,
    c.full_name             as contact,
    fe.full_name            as fee_earner,
    rf.to_team              as team,
    g.days_since_previous,
    m.told_on
from referrals_ as rf
left join gaps as g on g.referral_id = rf.referral_id
left join marks as m on m.referral_id = rf.referral_id
left join contacts as c on c.contact_id = rf.contact_id
left join fee_earners as fe on fe.fee_earner_id = rf.fee_earner_id
order by rf.referred_on desc, rf.referral_id desc
