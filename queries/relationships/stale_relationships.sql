-- name: stale_relationships
-- purpose: relationships going stale: links between our fee earners and
--          referrer contacts with no contact recorded in the `months` months
--          before the window's end (last_contact_on on or before end − months,
--          or never recorded), the referrers with the most referred fees first
-- grain: one row per stale relationship (fee earner, contact) kept by the filters
-- param: months int = 6
with

relationships_ as (
    select fee_earner_id, contact_id, referrer_id, strength, last_contact_on
    from kept_relationships($team, $office, $referrer_type, $region)
),

referrer_fees as (
    select referrer_id, referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

stale as (
    -- the last `months` months are [end − months + 1 day, end], as the default window
    select *
    from relationships_
    where last_contact_on is null
       or last_contact_on <= cast($end::date - to_months($months) as date)
)

select
    s.fee_earner_id,
    fe.full_name                                   as fee_earner,
    fe.team,
    s.contact_id,
    c.full_name                                    as contact,
    s.referrer_id,
    r.name                                         as referrer,
    s.strength,
    s.last_contact_on,
    12 * (year($end::date) - year(s.last_contact_on))
        + (month($end::date) - month(s.last_contact_on)) as months_since_contact,
    coalesce(rf.referred_fees, 0)                  as referrer_referred_fees
from stale as s
left join fee_earners as fe on fe.fee_earner_id = s.fee_earner_id
left join contacts as c on c.contact_id = s.contact_id
left join referrers as r on r.referrer_id = s.referrer_id
left join referrer_fees as rf on rf.referrer_id = s.referrer_id
order by round(referrer_referred_fees, 2) desc, s.strength desc, s.last_contact_on nulls first,
         s.referrer_id, s.contact_id, s.fee_earner_id
