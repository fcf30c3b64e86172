-- name: funnel
-- purpose: the conversion funnel of inbound referrals received in the window
--          (metrics.md "Conversion funnel"): received → decided → won → billed
-- grain: one row per step, in funnel order
with

inbound as not materialized (
    select referral_id, status
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound' and referred_on between $start and $end
),

counts as (
    select
        count(*) as received,
        count(*) filter (where status in ('won', 'lost', 'declined')) as decided,
        count(*) filter (where status = 'won') as won
    from inbound
),

billed as (
    -- won referrals with at least one fee row billed on or before `end` on a matter from them
    select count(*) as billed
    from inbound
    where status = 'won'
      and exists (
        select 1
        from kept_fees($team, $office, $work_type, $referrer_type, $region) as f
        where f.referral_id = inbound.referral_id and f.billed_on <= $end
      )
),

steps as (
    select 1 as position, 'received' as step, received as referrals from counts
    union all
    select 2, 'decided', decided from counts
    union all
    select 3, 'won', won from counts
    union all
    select 4, 'billed', billed from billed
)

select
    step,
    referrals,
    referrals / nullif(lag(referrals) over (order by position), 0) as rate_from_previous
from steps
order by position
