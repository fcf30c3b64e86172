-- name: completeness
-- purpose: how much of what the analysis needs is actually recorded: the
--          share of inbound referrals with a named contact, of matters
--          linked to their referral, of activities with hours, and of
--          referrers with at least one relationship; score = their mean
-- grain: one row per measure, then the overall score
with

inbound as (
    select contact_id
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound' and referred_on between $start and $end
),

matters_ as (
    -- team and work type only: the office and referrer filters reach a
    -- matter through its referral, so they would keep only linked matters
    select referral_id
    from matters
    where opened_on between $start and $end
      and filter_keeps($team, team)
      and filter_keeps($work_type, work_type)
),

activities_ as (
    select hours
    from kept_activities($team, $office, $referrer_type, $region)
    where occurred_on between $start and $end
),

referrers_ as (
    select
        r.referrer_id,
        r.referrer_id in (select referrer_id from kept_relationships($team, $office, $referrer_type, $region))
            as has_relationship
    from kept_referrers($referrer_type, $region) as r
),

measures as (
    select 1 as position, 'inbound referrals with a named contact' as measure,
           count(*) filter (where contact_id is not null) as recorded, count(*) as total
    from inbound
    union all
    select 2, 'matters linked to their referral',
           count(*) filter (where referral_id is not null), count(*)
    from matters_
    union all
    select 3, 'activities with hours recorded',
           count(*) filter (where hours > 0), count(*)
    from activities_
    union all
    select 4, 'referrers with at least one relationship',
           count(*) filter (where has_relationship), count(*)
    from referrers_
),

shares as (
    select position, measure, recorded, total, recorded / nullif(total, 0) as share
    from measures
)

select measure, recorded, total, share
from (
    select position, measure, recorded, total, share from shares
    union all
    select 5, 'completeness score', null, null, avg(share) from shares
)
order by position
