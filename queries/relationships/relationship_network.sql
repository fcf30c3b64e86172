-- name: relationship_network
-- purpose: who knows who: each link between one of our fee earners and a
--          referrer contact, with the contact's current referrer, so that the
--          network fee earner ↔ contact ↔ referrer can be drawn and explored
--          (relationships as recorded now, whatever the window)
-- grain: one row per relationship (fee earner, contact) kept by the filters,
--        strongest first
with

relationships_ as (
    select fee_earner_id, contact_id, referrer_id, strength, since_on, last_contact_on
    from kept_relationships($team, $office, $referrer_type, $region)
),

contact_referrals as (
    -- inbound referrals the contact made in the window, from whichever firm
    select contact_id, count(*) as contact_referrals
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on between $start and $end
      and contact_id is not null
    group by contact_id
),

referrer_fees as (
    select referrer_id, referred_fees
    from referred_fees_by_referrer($start, $end, $team, $office, $work_type, $referrer_type, $region)
)

select
    rel.fee_earner_id,
    fe.full_name                        as fee_earner,
    fe.team,
    rel.contact_id,
    c.full_name                         as contact,
    c.job_title,
    rel.referrer_id,
    r.name                              as referrer,
    rel.strength,
    rel.since_on,
    rel.last_contact_on,
    coalesce(cr.contact_referrals, 0)   as contact_referrals,
    coalesce(rf.referred_fees, 0)       as referrer_referred_fees
from relationships_ as rel
left join fee_earners as fe on fe.fee_earner_id = rel.fee_earner_id
left join contacts as c on c.contact_id = rel.contact_id
left join referrers as r on r.referrer_id = rel.referrer_id
left join contact_referrals as cr on cr.contact_id = rel.contact_id
left join referrer_fees as rf on rf.referrer_id = rel.referrer_id
order by rel.strength desc, rel.referrer_id, rel.contact_id, rel.fee_earner_id
