-- name: concentration
-- purpose: how dependent referred fees are on a few referrers
--          (metrics.md "Concentration")
-- grain: one row
with

positive as (
    -- cents: whole numbers add up exactly, so a referrer who starts at exactly 80% of the fees counts
    -- as past it, whatever order the parallel float sums took
    select f.referrer_id, f.referred_fees, round(f.referred_fees * 100)::bigint as cents
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region) as f
    join kept_referrers($referrer_type, $region) as r on r.referrer_id = f.referrer_id
    where f.referred_fees > 0
),

ranked as (
    select
        referred_fees,
        referred_fees / sum(referred_fees) over () as share,
        coalesce(
            sum(cents) over (
                order by cents desc, referrer_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) / sum(cents) over () as share_before,
        row_number() over (order by cents desc, referrer_id) as rank,
        -- ascending position for the Gini coefficient
        row_number() over (order by referred_fees) as ascending_rank,
        count(*) over () as n
    from positive
)

select
    count(*)                                   as referrers_with_fees,
    coalesce(sum(referred_fees), 0)            as total_referred_fees,
    sum(share) filter (where rank <= 3)        as top3_share,
    sum(share * share)                         as hhi,
    -- Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄) equals Σ (2i − n − 1) x₍ᵢ₎ / (n Σ x) over ascending x
    sum((2 * ascending_rank - n - 1) * referred_fees)
        / (count(*) * sum(referred_fees))      as gini,
    count(*) filter (where share_before < 0.8) as referrers_for_80pct
from ranked
