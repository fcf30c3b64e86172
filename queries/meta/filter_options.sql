-- name: filter_options
-- purpose: the values each sidebar filter offers
-- grain: one row per (dimension, value)
select distinct 'team' as dimension, team as value from fee_earners
union select distinct 'team', to_team from referrals where to_team is not null
union select distinct 'team', team from matters
union select distinct 'office', office from fee_earners
union select distinct 'work_type', work_type from referrals
union select distinct 'work_type', work_type from matters
union select distinct 'referrer_type', referrer_type from referrers
union select distinct 'region', region from referrers where region is not null
order by dimension, value
