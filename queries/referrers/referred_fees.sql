-- name: referred_fees
-- purpose: each referrer's referred fees in the window with its rank and
--          cumulative share: the top-referrers chart and the Lorenz curve
--          (same rule as scorecard.referred_fees)
-- grain: one row per kept referrer with referred fees > 0, largest first
with

positive as (
    select r.referrer_id, r.name, f.referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region) as f
    join kept_referrers($referrer_type, $region) as r on r.referrer_id = f.referrer_id
    where f.referred_fees > 0
)

select
    referrer_id,
    name,
    referred_fees,
    row_number() over (order by round(referred_fees, 2) desc, referrer_id) as rank,
    referred_fees / sum(referred_fees) over () as share,
    sum(referred_fees) over (
        order by round(referred_fees, 2) desc, referrer_id rows unbounded preceding
    ) / sum(referred_fees) over () as cumulative_share
from positive
order by rank
