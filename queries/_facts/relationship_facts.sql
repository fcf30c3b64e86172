-- name: relationship_facts
-- purpose: every relationship whose contact exists, with the contact's current referrer, the fee
--          earner's team and office and the referrer's type and region
-- grain: one row per relationship (fee earner, contact)
select
    rel.*,
    c.referrer_id,
    fe.team             as fact_team,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from relationships as rel
join contacts as c on c.contact_id = rel.contact_id
left join fee_earners as fe on fe.fee_earner_id = rel.fee_earner_id
left join referrers as r on r.referrer_id = c.referrer_id
