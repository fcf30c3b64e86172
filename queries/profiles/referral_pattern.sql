-- name: referral_pattern
-- purpose: how one referrer refers: small and regular, or occasional and large. Its inbound
--          referrals in the window, the median and largest estimated value, the gaps in days
--          between consecutive referrals, and a pattern in words
-- grain: one row
-- param: referrer str =
--
-- gaps: days from each inbound referral to the next (referred_on order; same-day referrals give 0).
-- pattern: fewer than 2 referrals → 'too few referrals to tell'; else size and rhythm joined by
-- 'and': 'large' when the referrer's median estimated value is above the median of every kept
-- inbound referral in the window, 'small' otherwise (left out when either median is missing);
-- 'regular' when the median gap is at most 91 days (about a quarter), 'occasional' otherwise.
with

inbound as (
    select referral_id, referred_on, estimated_value
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referrer_id = $referrer
      and referred_on between $start and $end
),

firm as (
    select median(estimated_value) as firm_median_value
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on between $start and $end
),

gaps as (
    select referred_on - lag(referred_on) over (order by referred_on, referral_id) as gap_days
    from inbound
),

values_ as (
    select
        count(*)                    as referrals,
        count(estimated_value)      as valued_referrals,
        median(estimated_value)     as median_value,
        max(estimated_value)        as largest_value,
        sum(estimated_value)        as total_value,
        min(referred_on)            as first_referral_on,
        max(referred_on)            as last_referral_on
    from inbound
),

gap_stats as (
    select
        median(gap_days)            as median_gap_days,
        avg(gap_days)               as mean_gap_days,
        max(gap_days)               as longest_gap_days
    from gaps
    where gap_days is not null
)

select
    v.referrals,
    v.valued_referrals,
    v.median_value,
    v.largest_value,
    v.total_value,
    f.firm_median_value,
    v.first_referral_on,
    v.last_referral_on,
    $end::date - v.last_referral_on   as days_since_last_referral,
    g.median_gap_days,
    g.mean_gap_days,
    g.longest_gap_days,
    case
        when v.referrals < 2 then 'too few referrals to tell'
        else concat_ws(' and ',
            case
                when v.median_value is null or f.firm_median_value is null then null
                when v.median_value > f.firm_median_value then 'large'
                else 'small'
            end,
            case when g.median_gap_days <= 91 then 'regular' else 'occasional' end)
    end                               as pattern
from values_ as v
cross join firm as f
cross join gap_stats as g
