-- name: touch_facts
-- purpose: every dated touchpoint as numbers (touch_codes), in journey order: by client, then
--          touched_at, then touchpoint_id; seq numbers that order, so that the non-converting
--          journeys of any window come out in it by an integer sort
-- grain: one row per touchpoint with a touched_at, by seq; client -1 for a touchpoint without a
--        client (last)
select
    row_number() over (order by c.code nulls last, t.touched_at, t.touchpoint_id) as seq,
    coalesce(c.code, -1) as client,
    t.touched_at,
    coalesce(ch.code, -1) as channel_code,
    coalesce(rf.code, -1) as referrer_code
from touchpoints as t
left join touch_codes as c on c.kind = 'client' and c.name = t.client_id
left join touch_codes as ch on ch.kind = 'channel' and ch.name = t.channel
left join touch_codes as rf on rf.kind = 'referrer' and rf.name = t.referrer_id
where t.touched_at is not null
order by seq
