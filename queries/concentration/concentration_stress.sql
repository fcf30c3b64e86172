-- name: concentration_stress
-- purpose: "lose the top referrer" stress test: the share of the window's
--          referred fees that goes if the largest 1, 2, ... `top` referrers
--          stop referring (ranked as the referred_fees query: fees desc, ties
--          by referrer_id; over referrers with referred fees > 0)
-- grain: one row per number of top referrers lost, 1 to `top` (at most the
--        number of referrers with fees)
-- param: top int = 3
with

positive as (
    select r.referrer_id, r.name, f.referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region) as f
    join kept_referrers($referrer_type, $region) as r on r.referrer_id = f.referrer_id
    where f.referred_fees > 0
),

ranked as (
    select
        referrer_id,
        name,
        referred_fees,
        row_number() over (order by round(referred_fees, 2) desc, referrer_id) as rank,
        sum(referred_fees) over ()                                   as total_referred_fees
    from positive
),

scenarios as (
    select cast(n as integer) as top_n
    from range(1, $top + 1) as t(n)
    where n <= (select count(*) from positive)
)

select
    s.top_n,
    string_agg(r.name, ', ' order by r.rank)   as referrers_lost,
    sum(r.referred_fees)                       as fees_lost,
    sum(r.referred_fees) / any_value(r.total_referred_fees) as share_lost,
    any_value(r.total_referred_fees) - sum(r.referred_fees) as fees_remaining,
    any_value(r.total_referred_fees)           as total_referred_fees
from scenarios as s
join ranked as r on r.rank <= s.top_n
group by s.top_n
order by s.top_n
