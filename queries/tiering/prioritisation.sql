-- name: prioritisation
-- purpose: the prioritisation matrix: each referrer's potential score (x)
--          against its referred fees or return on relationship (y), with its
--          investment (bubble) and quadrant: Invest (high potential, high
--          value), Develop (high potential, low value), Maintain (low
--          potential, high value), Reduce or prune (low, low)
-- grain: one row per referrer in referrers.parquet kept by the filters,
--        highest potential first
-- param: y choice(referred_fees|ror) = referred_fees
-- param: x_cut float = 50
-- param: y_cut float = nan
--
-- potential_score (0-100) = 100 x (0.35 strength + 0.25 breadth + 0.25 trend
-- + 0.15 type), each part 0..1:
--   strength: the strongest relationship with the referrer's people, max_strength / 5 (0 if none);
--   breadth:  how many of our fee earners know them, fee_earners_who_know / 5, capped at 1;
--   trend:    the share of its inbound referrals in the window that came in
--             the window's second half (0 without referrals in the window);
--   type:     its referrer type's mean referred fees per referrer in the
--             window, over the best type's mean (negative means count as 0).
-- y_value: referred_fees, or ror (null without investment: not placed).
-- y_cut nan (default): the median y_value of the referrers with y_value > 0.
-- A referrer is high on an axis at or above the cut.
with

scorecard as (
    select *
    from referrer_scorecard($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

assignments as (
    select referrer_id, assigned_level, version
    from tier_assignments_current
),

halves as (
    -- inbound referrals in each half of the window (the second half starts at `mid`), per referrer
    select
        referrer_id,
        coalesce(sum(referrals) filter (where half = 1), 0)::bigint as referrals_first_half,
        coalesce(sum(referrals) filter (where half = 2), 0)::bigint as referrals_second_half
    from (
        select referrer_id, referrals, 1 as half
        from kept_referral_tallies(
            $start, $start::date + cast(($end::date - $start::date + 1) // 2 as integer) - 1,
            $team, $office, $work_type, $referrer_type, $region)
        where direction = 'inbound'
        union all
        select referrer_id, referrals, 2 as half
        from kept_referral_tallies(
            $start::date + cast(($end::date - $start::date + 1) // 2 as integer), $end,
            $team, $office, $work_type, $referrer_type, $region)
        where direction = 'inbound'
    ) as t
    group by referrer_id
),

type_means as (
    select referrer_type, greatest(avg(referred_fees), 0) as mean_fees
    from scorecard
    group by referrer_type
),

parts as (
    select
        s.*,
        coalesce(h.referrals_first_half, 0)                          as referrals_first_half,
        coalesce(h.referrals_second_half, 0)                         as referrals_second_half,
        coalesce(s.max_strength, 0) / 5.0                            as strength_score,
        least(s.fee_earners_who_know, 5) / 5.0                       as breadth_score,
        case when coalesce(h.referrals_first_half, 0) + coalesce(h.referrals_second_half, 0) = 0 then 0.0
             else h.referrals_second_half / (h.referrals_first_half + h.referrals_second_half)
        end                                                          as trend_score,
        coalesce(t.mean_fees / nullif(max(t.mean_fees) over (), 0), 0) as type_score
    from scorecard as s
    left join halves as h on h.referrer_id = s.referrer_id
    left join type_means as t on t.referrer_type is not distinct from s.referrer_type
),

scored as (
    select
        *,
        100 * (0.35 * strength_score + 0.25 * breadth_score + 0.25 * trend_score + 0.15 * type_score)
            as potential_score,
        case when $y = 'ror' then ror else referred_fees end as y_value
    from parts
),

cuts as (
    select
        $x_cut::double as x_cut,
        case when isnan($y_cut::double)
             then coalesce(median(y_value) filter (where y_value > 0), 0)
             else $y_cut::double end as y_cut
    from scored
)

select
    s.referrer_id,
    s.name,
    s.referrer_type,
    s.potential_score,
    s.strength_score,
    s.breadth_score,
    s.trend_score,
    s.type_score,
    s.referred_fees,
    s.ror,
    s.y_value,
    s.investment_cost,
    s.investment_hours,
    s.referrals,
    s.referrals_first_half,
    s.referrals_second_half,
    s.relationship_count,
    s.fee_earners_who_know,
    s.max_strength,
    s.last_referral_on,
    s.months_since_last_referral,
    s.prune_candidate,
    s.suggested_level,
    a.assigned_level,
    coalesce(a.version, 0) as version,
    c.x_cut,
    c.y_cut,
    case
        when s.y_value is null then null
        when s.potential_score >= c.x_cut and s.y_value >= c.y_cut then 'Invest'
        when s.potential_score >= c.x_cut then 'Develop'
        when s.y_value >= c.y_cut then 'Maintain'
        else 'Reduce or prune'
    end as quadrant
from scored as s
cross join cuts as c
left join assignments as a on a.referrer_id = s.referrer_id
order by round(s.potential_score, 6) desc, s.referrer_id
