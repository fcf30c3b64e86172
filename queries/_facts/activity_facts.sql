-- name: activity_facts
-- purpose: every business development activity with its fee earner's team and office and its
--          referrer's type and region
-- grain: one row per activity, by its fee earner's team and office, then occurred_on and
--        activity_id (see referral_facts)
select
    a.*,
    fe.team             as fact_team,
    fe.office           as fact_office,
    r.referrer_type     as fact_referrer_type,
    r.region            as fact_region
from activities as a
left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
left join referrers as r on r.referrer_id = a.referrer_id
order by fe.team, fe.office, a.occurred_on, a.activity_id
