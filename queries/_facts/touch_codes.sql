-- name: touch_codes
-- purpose: a small integer for every channel, referrer and client named on a touchpoint, numbered
--          in name order (so code order is name order), so that the attribution journeys carry
--          numbers instead of millions of strings. Written channels, referrers, then clients
--          (union all keeps that order), so that the few channels and referrers are the first row
--          group and a reader of them alone skips the clients' row groups (touch_names)
-- grain: one row per (kind, name); kind 'channel', 'referrer' or 'client', code from 0
select 'channel' as kind, channel as name, cast(row_number() over (order by channel) - 1 as integer) as code
from (select distinct channel from touchpoints where channel is not null)
union all
select 'referrer' as kind, referrer_id as name, cast(row_number() over (order by referrer_id) - 1 as integer) as code
from (select distinct referrer_id from touchpoints where referrer_id is not null)
union all
select 'client' as kind, client_id as name, cast(row_number() over (order by client_id) - 1 as integer) as code
from (select distinct client_id from touchpoints where client_id is not null)
