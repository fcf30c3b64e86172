-- name: touch_facts
-- purpose: every dated touchpoint as numbers (touch_codes; its client_id and touchpoint_id also as
--          text, for the export nonconverting_journeys), in journey order: by client, then
--          touched_at, then touchpoint_id (seq numbers that order), with the first day on or after
--          it on which its client converted (opened a matter): a touchpoint belongs to a
--          non-converting journey as of `end` exactly when that day is later than `end` or there
--          is none (metrics.md "Multi-touch attribution")
-- grain: one row per touchpoint with a touched_at; client -1 for a touchpoint without a client
--        (last in seq order). Stored by next_conversion_on, latest first and none before all, then
--        seq: the non-converting touchpoints as of any `end` are then the first row groups, and
--        their readers skip the rest (at size L 0.28 → 0.07 s for nonconverting_codes). Readers
--        order by seq.
with

conversion_days as (
    select distinct client_id, opened_on
    from matters
    where client_id is not null and opened_on is not null
),

touches as (
    select t.*, cast(t.touched_at as date) as touched_on
    from touchpoints as t
    where t.touched_at is not null
),

next_conversions as (
    select t.touchpoint_id, t.client_id, t.touched_at, t.channel, t.referrer_id, c.opened_on as next_conversion_on
    from touches as t
    asof left join conversion_days as c
        on c.client_id = t.client_id and c.opened_on >= t.touched_on
)

select
    row_number() over (order by c.code nulls last, t.touched_at, t.touchpoint_id) as seq,
    coalesce(c.code, -1) as client,
    t.touched_at,
    t.client_id,
    t.touchpoint_id,
    t.next_conversion_on,
    coalesce(ch.code, -1) as channel_code,
    coalesce(rf.code, -1) as referrer_code
from next_conversions as t
left join touch_codes as c on c.kind = 'client' and c.name = t.client_id
left join touch_codes as ch on ch.kind = 'channel' and ch.name = t.channel
left join touch_codes as rf on rf.kind = 'referrer' and rf.name = t.referrer_id
order by t.next_conversion_on desc nulls first, seq
