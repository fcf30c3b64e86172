-- name: referrer_lifetime
-- purpose: the lifetime view of a referrer's return: fees billed in the window on ALL
--          matters of the clients it first brought in (a referred client who later buys
--          other services), next to the fees of its referred matters alone (the
--          scorecard's referred_fees)
-- grain: one row per kept referrer that first brought in a client on or before `end`
--        or has referred fees in the window, largest lifetime fees first (ties by
--        referrer_id)
--
-- A client is "first brought in" by a referrer when the client's earliest inbound
-- referral (by referred_on, ties by referral_id; any status; on or before `end`) is
-- from that referrer. This is a fact about the client, so it reads every referral,
-- whatever the filters. The client's matters count from the day of that referral
-- (matters opened on or after it; work the client gave us before it was not brought
-- in by the referrer), whatever referral, if any, each matter came from.
--
-- lifetime_fees: fees billed in the window on those matters, credit notes included.
-- The team, office and work-type filters keep matters as everywhere else (their own
-- team and work type; office through the referral the matter came from); the
-- referrer-type and region filters keep referrers, not the matters of their clients.
-- other_work_fees: the part of lifetime_fees on matters that did not come from an
-- inbound referral from this referrer (the other services its clients bought).
-- referred_fees: exactly the scorecard's (metrics.md), so a referrer's referred
-- matter for a client someone else brought in first counts there and not here.
--
-- Without a team, office or work-type filter the facts first_referral_days and lifetime_fee_days
-- (queries/_facts) hold these per day; with one, they are computed here from the rows.
with

first_referral as (
    select client_id, referrer_id, referred_on as brought_in_on
    from referrals
    where direction = 'inbound' and referred_on <= $end and client_id is not null
      and not month_facts_apply($team, $office, $work_type)
    qualify row_number() over (partition by client_id order by referred_on, referral_id) = 1
),

referrers_ as (
    select referrer_id, name, referrer_type
    from kept_referrers($referrer_type, $region)
),

brought_in as (
    select f.client_id, f.referrer_id, f.brought_in_on
    from first_referral as f
    join referrers_ as r on r.referrer_id = f.referrer_id
),

client_fees as (
    select
        b.referrer_id,
        f.amount,
        coalesce(rf.direction = 'inbound' and rf.referrer_id = b.referrer_id, false) as own_referral
    from brought_in as b
    join kept_matters($team, $office, $work_type, null, null) as m
        on m.client_id = b.client_id and m.opened_on >= b.brought_in_on
    join fees as f on f.matter_id = m.matter_id
    left join referrals as rf on rf.referral_id = m.referral_id
    where f.billed_on between $start and $end
    union all
    select l.referrer_id, l.amount, l.own_referral
    from lifetime_fee_days as l
    where month_facts_apply($team, $office, $work_type)
      and l.billed_on between $start and $end
      and (l.late_on is null or l.late_on <= $end)
      and l.referrer_id in (select referrer_id from referrers_)
),

lifetime as (
    select
        referrer_id,
        sum(amount)                                 as lifetime_fees,
        coalesce(sum(amount) filter (where not own_referral), 0) as other_work_fees
    from client_fees
    group by referrer_id
),

clients as (
    select referrer_id, count(*) as clients_brought_in
    from brought_in
    group by referrer_id
    union all
    select referrer_id, sum(clients)::bigint as clients_brought_in
    from first_referral_days
    where month_facts_apply($team, $office, $work_type)
      and brought_in_on <= $end
      and referrer_id in (select referrer_id from referrers_)
    group by referrer_id
),

referred_fees as (
    select referrer_id, referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region)
)

select
    r.referrer_id,
    r.name,
    r.referrer_type,
    coalesce(c.clients_brought_in, 0)   as clients_brought_in,
    coalesce(f.referred_fees, 0)        as referred_fees,
    coalesce(l.lifetime_fees, 0)        as lifetime_fees,
    coalesce(l.other_work_fees, 0)      as other_work_fees
from referrers_ as r
left join clients as c on c.referrer_id = r.referrer_id
left join referred_fees as f on f.referrer_id = r.referrer_id
left join lifetime as l on l.referrer_id = r.referrer_id
where c.referrer_id is not null or f.referrer_id is not null
order by lifetime_fees desc, r.referrer_id
