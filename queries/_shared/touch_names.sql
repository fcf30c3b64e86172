-- The names of touch_codes as two lists, one row: a code's name is list[code + 1] (codes are 0, 1,
-- 2, ... per kind; −1, none, reads as null). The text exports of the journeys look a name up per row
-- this way instead of joining millions of rows to touch_codes. The where clause skips the clients'
-- row groups (touch_codes is written channels, referrers, then clients): 120 ms → 10 ms at size L.
create or replace macro touch_names() as table
select
    list(name order by code) filter (where kind = 'channel') as channels,
    list(name order by code) filter (where kind = 'referrer') as referrers
from touch_codes
where kind in ('channel', 'referrer');
