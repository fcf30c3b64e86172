-- name: loop_to_close
-- purpose: closing the loop: inbound referrals decided (won, lost, declined) in the last `days`
--          days to the window's end whose referrer has not been told what became of them (no
--          "told on" mark in the edit store), for a person to tell them and record the day
-- grain: one row per such referral, longest waiting first; with `limit` above 0, the `limit`
--        longest waiting only (waiting: how many there are in all)
-- param: days int = 90
-- param: limit int = 0
--
-- Decided on: closed_on (referred_on when closed_on is missing), in [end - days + 1, end].
-- mark_version: the referral's version in the store (0: never marked; above 0: a mark withdrawn),
-- for the store's conflict check when a mark is saved.
with

decided as (
    select
        referral_id,
        referrer_id,
        contact_id,
        fee_earner_id,
        to_team,
        work_type,
        status,
        referred_on,
        decided_on,
        estimated_value
    from kept_decided_referrals($team, $office, $work_type, $referrer_type, $region)
    where decided_on between $end::date - ($days - 1) and $end
),

marks as (
    select referral_id, told_on, version
    from loop_closed_current
),

waiting as (
    select
        d.*,
        coalesce(m.version, 0)          as mark_version
    from decided as d
    left join marks as m on m.referral_id = d.referral_id
    where m.told_on is null
),

waiting_count as (
    select count(*) as waiting
    from waiting
),

first_waiting as (
    -- all of them (ordered once, at the end), or the longest waiting cut before the names are looked
    -- up: at 10 million referrals hundreds of thousands wait, and a page lists the first few hundred
    select *
    from waiting
    where $limit <= 0
    union all
    (select *
     from waiting
     order by decided_on, referral_id
     limit greatest($limit, 0))
)

select
    w.referral_id,
    w.referrer_id,
    r.name                              as referrer,
    c.full_name                         as contact,
    fe.full_name                        as fee_earner,
    w.to_team                           as team,
    w.work_type,
    w.status,
    w.referred_on,
    w.decided_on,
    $end::date - w.decided_on           as days_waiting,
    w.estimated_value,
    w.mark_version,
    n.waiting
from first_waiting as w
cross join waiting_count as n
left join referrers as r on r.referrer_id = w.referrer_id
left join contacts as c on c.contact_id = w.contact_id
left join fee_earners as fe on fe.fee_earner_id = w.fee_earner_id
order by w.decided_on, w.referral_id
