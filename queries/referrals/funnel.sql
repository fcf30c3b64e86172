-- name: funnel
-- purpose: the conversion funnel of inbound referrals received in the window
--          (metrics.md "Conversion funnel"): received → decided → won → billed
-- grain: one row per step, in funnel order
--
-- Without a team, office or work-type filter the counts come from the fact inbound_outcomes (each
-- referral's first fee day); with one, from the referrals and fee rows.
with

inbound as not materialized (
    select referral_id, status
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where not month_facts_apply($team, $office, $work_type)
      and direction = 'inbound' and referred_on between $start and $end
),

outcomes as not materialized (
    select status, first_billed_on, referrals
    from inbound_outcomes
    where month_facts_apply($team, $office, $work_type)
      and filter_keeps($referrer_type, fact_referrer_type)
      and filter_keeps($region, fact_region)
      and referred_on between $start and $end
),

counts as (
    select
        sum(received)::bigint as received,
        sum(decided)::bigint  as decided,
        sum(won)::bigint      as won
    from (
        select
            count(*) as received,
            count(*) filter (where status in ('won', 'lost', 'declined')) as decided,
            count(*) filter (where status = 'won') as won
        from inbound
        union all
        select
            coalesce(sum(referrals), 0),
            coalesce(sum(referrals) filter (where status in ('won', 'lost', 'declined')), 0),
            coalesce(sum(referrals) filter (where status = 'won'), 0)
        from outcomes
    ) as t
),

billed as (
    -- won referrals with at least one fee row billed on or before `end` on a matter from them
    select sum(billed)::bigint as billed
    from (
        select count(*) as billed
        from inbound
        where status = 'won'
          and exists (
            select 1
            from kept_fees($team, $office, $work_type, $referrer_type, $region) as f
            where f.referral_id = inbound.referral_id and f.billed_on <= $end
          )
        union all
        select coalesce(sum(referrals) filter (where status = 'won' and first_billed_on <= $end), 0)
        from outcomes
    ) as t
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
