-- name: key_person_risk
-- purpose: single-person dependencies: referrers with referred fees in the
--          window whose relationships (with their current contacts, as
--          recorded now) are all held by one fee earner, or where no
--          relationship is stronger than 2 (including nobody knowing them)
-- grain: one row per kept referrer with referred fees > 0 at risk, largest
--        referred fees first
with

referrer_fees as (
    select f.referrer_id, r.name, f.referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region) as f
    join kept_referrers($referrer_type, $region) as r on r.referrer_id = f.referrer_id
    where f.referred_fees > 0
),

relationships_ as (
    select referrer_id, fee_earner_id, contact_id, strength
    from kept_relationships($team, $office, $referrer_type, $region)
),

holders as (
    select
        referrer_id,
        count(distinct (fee_earner_id, contact_id)) as relationship_count,
        count(distinct fee_earner_id)               as fee_earners_who_know,
        max(strength)                               as max_strength,
        min(fee_earner_id)                          as first_fee_earner_id
    from relationships_
    group by referrer_id
),

assessed as (
    select
        f.referrer_id,
        f.name,
        f.referred_fees,
        f.referred_fees / sum(f.referred_fees) over () as fee_share,
        coalesce(h.relationship_count, 0)              as relationship_count,
        coalesce(h.fee_earners_who_know, 0)            as fee_earners_who_know,
        h.max_strength,
        case when h.fee_earners_who_know = 1 then h.first_fee_earner_id end as key_fee_earner_id
    from referrer_fees as f
    left join holders as h on h.referrer_id = f.referrer_id
)

select
    a.referrer_id,
    a.name,
    a.referred_fees,
    a.fee_share,
    a.relationship_count,
    a.fee_earners_who_know,
    a.max_strength,
    a.key_fee_earner_id,
    fe.full_name                                      as key_fee_earner,
    a.fee_earners_who_know = 1                        as single_fee_earner,
    coalesce(a.max_strength, 0) <= 2                  as no_strong_relationship,
    case
        when a.fee_earners_who_know = 0 then 'nobody at the firm knows them'
        when a.fee_earners_who_know = 1 and a.max_strength <= 2 then 'one fee earner, no tie stronger than 2'
        when a.fee_earners_who_know = 1 then 'one fee earner holds every tie'
        else 'no tie stronger than 2'
    end                                               as risk
from assessed as a
left join fee_earners as fe on fe.fee_earner_id = a.key_fee_earner_id
where a.fee_earners_who_know <= 1 or coalesce(a.max_strength, 0) <= 2
order by round(a.referred_fees, 2) desc, a.referrer_id
