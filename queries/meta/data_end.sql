-- name: data_end
-- purpose: the default end of the analysis window (metrics.md): the latest
--          referral, matter, fee or activity date in the data, unfiltered
-- grain: one row
with latest as (
    select max(referred_on) as on_date from referrals
    union all
    select max(opened_on) from matters
    union all
    select max(billed_on) from fees
    union all
    select max(occurred_on) from activities
)

select max(on_date) as data_end
from latest
