-- name: funnel
-- purpose: the conversion funnel of inbound referrals received in the window
--          (metrics.md "Conversion funnel"): received → decided → won → billed
-- grain: one row per step, in funnel order
with

inbound as (
    select referral_id, status
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound' and referred_on between $start and $end
),

billed as (
    -- at least one fee row billed on or before `end` on a matter from the referral
    select distinct referral_id
    from kept_fees($team, $office, $work_type, $referrer_type, $region)
    where billed_on <= $end and referral_id is not null
),

steps as (
    select 1 as position, 'received' as step, count(*) as referrals from inbound
    union all
    select 2, 'decided', count(*) from inbound where status in ('won', 'lost', 'declined')
    union all
    select 3, 'won', count(*) from inbound where status = 'won'
    union all
    select 4, 'billed', count(*)
    from inbound
    where status = 'won' and referral_id in (select referral_id from billed)
)

select
    step,
    referrals,
    referrals / nullif(lag(referrals) over (order by position), 0) as rate_from_previous
from steps
order by position
