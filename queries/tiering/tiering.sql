-- name: tiering
-- purpose: the tiering table: each referrer's scorecard numbers, suggested
--          and assigned programme level (with who, when, why and the
--          store version an edit is made from), and what it would take to
--          reach the next suggested level: the referred fees in the window
--          it would need to exceed, other referrers unchanged
-- grain: one row per referrer in referrers.parquet kept by the filters,
--        largest referred fees first
--
-- fees_to_next_level (metrics.md "Suggested tier" run backwards): the
-- referrer's fees f would have to rise by more than this for the rule to
-- give next_level (or higher). Raising f to x raises the total too; with k referrers
-- ranked above it (the top k, fees a_1 >= a_2 >= ..., their sum P_k) the
-- referrer's `before` is P_k / (T - f + x), so it reaches the level with
-- threshold t (0.8 for Level 3, 0.5 for Level 4) when
--     x > P_k / t - (T - f)   and   x > a_(k+1)   (to rank k+1-th).
-- h(k) = P_k / t - a_k grows with k, so the lowest position that works is
-- the largest k with h(k) <= T - f (an ASOF join), capped at the referrer's
-- own position; x is then the larger of the two bounds. Level 1 needs
-- fees above 0 for Level 2 (fees_to_next_level = -f); an unlevelled
-- referrer needs a referral, relationship or activity (null); Level 4 has
-- no next level (null).
with

scorecard as (
    select *
    from referrer_scorecard($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

assignments as (
    select referrer_id, assigned_level, assigned_by, assigned_at, reason, version
    from tier_assignments_current
),

ranked as (
    select
        referrer_id,
        referred_fees,
        row_number() over (order by round(referred_fees, 2) desc, referrer_id) - 1 as above,
        coalesce(
            sum(referred_fees) over (
                order by round(referred_fees, 2) desc, referrer_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        )                                                                 as fees_above,
        sum(referred_fees) over ()                                        as total_fees
    from scorecard
    where referred_fees > 0
),

thresholds as (
    select * from (values (3, 0.8), (4, 0.5)) as t(target_level, threshold)
),

-- k = 0 (top of the ranking) and k = 1..n (just below the k-th referrer)
top_k as (
    select 0 as k, 0.0 as fees_top_k, null::double as fees_kth
    union all
    select above + 1, fees_above + referred_fees, referred_fees
    from ranked
),

positions as (
    select
        t.target_level,
        t.threshold,
        p.k,
        p.fees_top_k,
        case when p.k = 0 then '-infinity'::double
             else p.fees_top_k / t.threshold - p.fees_kth end             as h,
        lead(p.fees_kth) over (partition by t.target_level order by p.k)  as fees_next
    from top_k as p
    cross join thresholds as t
),

needs as (
    select
        r.referrer_id,
        r.referred_fees,
        r.above,
        r.fees_above,
        r.total_fees - r.referred_fees                                     as others_fees,
        t.target_level,
        t.threshold
    from ranked as r
    join scorecard as s on s.referrer_id = r.referrer_id
    join thresholds as t on t.target_level = s.suggested_level + 1
),

reached as (
    select
        n.referrer_id,
        greatest(
            case when p.k < n.above then p.fees_next else n.referred_fees end,
            case when p.k < n.above then p.fees_top_k else n.fees_above end / n.threshold - n.others_fees
        ) - n.referred_fees                                                as fees_to_next_level
    from needs as n
    asof left join positions as p
        on p.target_level = n.target_level and n.others_fees >= p.h
)

select
    s.referrer_id,
    s.name,
    s.referrer_type,
    s.referrals,
    s.won,
    s.conversion_rate,
    s.referred_fees,
    s.investment_hours,
    s.investment_cost,
    s.ror,
    s.last_referral_on,
    s.months_since_last_referral,
    s.relationship_count,
    s.fee_earners_who_know,
    s.max_strength,
    s.prune_candidate,
    s.suggested_level,
    a.assigned_level,
    a.assigned_by,
    a.assigned_at,
    a.reason,
    coalesce(a.version, 0)                                                 as version,
    a.version is not null and a.assigned_level is distinct from s.suggested_level
                                                                           as differs_from_suggested,
    case when s.suggested_level is null then 1
         when s.suggested_level < 4 then s.suggested_level + 1 end         as next_level,
    case when s.suggested_level = 1 then -s.referred_fees
         else r.fees_to_next_level end                                     as fees_to_next_level
from scorecard as s
left join assignments as a on a.referrer_id = s.referrer_id
left join reached as r on r.referrer_id = s.referrer_id
order by round(s.referred_fees, 2) desc, s.referrer_id
