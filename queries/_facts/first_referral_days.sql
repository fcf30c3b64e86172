-- name: first_referral_days
-- purpose: clients first brought in per referrer and day: a client's earliest inbound referral (by
--          referred_on, ties by referral_id; any status) is from that referrer on that day
--          (referrer_lifetime's clients_brought_in to any window end without ranking every referral)
-- grain: one row per (brought_in_on, referrer) with a client first brought in, in date order
with

first_referral as (
    select client_id, referrer_id, referred_on as brought_in_on
    from referrals
    where direction = 'inbound' and referred_on is not null and client_id is not null
    qualify row_number() over (partition by client_id order by referred_on, referral_id) = 1
)

select brought_in_on, referrer_id, count(*) as clients
from first_referral
group by brought_in_on, referrer_id
order by brought_in_on
