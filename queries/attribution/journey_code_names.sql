-- name: journey_code_names
-- purpose: what the numbers of journey_codes and nonconverting_codes stand for: each channel and
--          each referrer named on a touchpoint, numbered from 0 in name order (clients are
--          numbered too, but the models never name them)
-- grain: one row per (kind, code); kind 'channel' or 'referrer'
select kind, code, name
from touch_codes
where kind in ('channel', 'referrer')
order by kind, code
