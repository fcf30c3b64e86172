-- name: journey_code_names
-- purpose: what the numbers of journey_codes stand for: each channel and each referrer named on a
--          touchpoint, numbered from 0 in name order
-- grain: one row per (kind, code); kind 'channel' or 'referrer'
select kind, code, name
from touch_codes
order by kind, code
