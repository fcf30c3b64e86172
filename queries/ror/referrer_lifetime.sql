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
-- Read from the facts first_referral_days and lifetime_fee_days (queries/_facts), which hold these
-- per day (the fees also per the matter's team, work type and office, for the filters).
with

referrers_ as (
    select referrer_id, name, referrer_type
    from kept_referrers($referrer_type, $region)
),

lifetime as (
    select
        referrer_id,
        sum(amount)                                              as lifetime_fees,
        coalesce(sum(amount) filter (where not own_referral), 0) as other_work_fees
    from lifetime_fee_days
    where billed_on between $start and $end
      and (late_on is null or late_on <= $end)
      and filter_keeps($team, team)
      and filter_keeps($work_type, work_type)
      and filter_keeps($office, fact_office)
      and referrer_id in (select referrer_id from referrers_)
    group by referrer_id
),

clients as (
    -- who first brought a client in is a fact about the client: no team, office or work-type filter
    select referrer_id, sum(clients)::bigint as clients_brought_in
    from first_referral_days
    where brought_in_on <= $end
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
order by round(coalesce(l.lifetime_fees, 0), 2) desc, r.referrer_id
