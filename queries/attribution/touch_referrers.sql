-- name: touch_referrers
-- purpose: the referrers named on referral touchpoints, with their names, for the
--          Attribution page's referrer table and path-explorer filter
-- grain: one row per referrer named on a referral touchpoint, referrer_id ascending
select r.referrer_id, r.name
from referrers as r
where r.referrer_id in (
    select referrer_id from touchpoints where channel = 'referral' and referrer_id is not null
)
order by r.referrer_id
