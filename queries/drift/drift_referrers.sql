-- name: drift_referrers
-- purpose: referrers who pigeon-hole the firm in work it does not want: each
--          referrer's inbound referrals in work types whose target share on the
--          referral's date is below the threshold (metrics.md "Strategic drift")
-- grain: one row per referrer with an inbound referral in the window, most
--        off-target referrals first
-- param: threshold float = 0.05
with

-- the target mix: a mix saved in the app (the store) replaces the Parquet
-- mix of the same effective_from; other Parquet dates still apply
targets_ as (
    select work_type, target_share, effective_from
    from target_mix_current
    union all
    select work_type, target_share, effective_from
    from work_type_targets
    where effective_from not in (select effective_from from target_mix_current)
),

inbound as (
    select referral_id, referrer_id, referred_on, work_type
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on between $start and $end
),

target_dates as (
    select distinct effective_from
    from targets_
),

day_targets as (
    -- the target mix in force on each day of the window: the latest effective_from on or before it
    -- (found per day, not per referral, so that millions of referrals take a plain join)
    select w.day, d.effective_from
    from (select cast(range as date) as day from range($start::date, $end::date + 1, interval 1 day)) as w
    asof left join target_dates as d on w.day >= d.effective_from
),

referral_targets as (
    -- a work type without a target in force (or a date before the first mix) counts as target 0
    select
        i.referral_id,
        i.referrer_id,
        coalesce(t.target_share, 0) as target_share
    from inbound as i
    join day_targets as d on d.day = i.referred_on
    left join targets_ as t
        on t.effective_from = d.effective_from and t.work_type = i.work_type
),

per_referrer as (
    select
        referrer_id,
        count(*)                                         as referrals,
        count(*) filter (where target_share < $threshold) as off_target_referrals
    from referral_targets
    group by referrer_id
)

select
    referrer_id,
    referrals,
    off_target_referrals,
    off_target_referrals / referrals as off_target_share
from per_referrer
order by off_target_referrals desc, off_target_share desc, referrer_id
