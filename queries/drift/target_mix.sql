-- name: target_mix
-- purpose: the strategic target mix of new work as the drift queries read it
--          (the work_type_targets view: the Parquet starting point, or the
--          store's edited mix once it replaces that view), with when each
--          share stops applying
-- grain: one row per (effective_from, work type), latest first
with

-- the target mix: a mix saved in the app (the store) replaces the Parquet
-- mix of the same effective_from; other Parquet dates still apply
targets_ as (
    select work_type, target_share, effective_from
    from target_mix_current
    union all
    select work_type, target_share, effective_from
    from work_type_targets
    where effective_from not in (select effective_from from target_mix_current)
),

dates as (
    select
        effective_from,
        lead(effective_from) over (order by effective_from) as next_from
    from (select distinct effective_from from targets_)
),

in_force_at_end as (
    select max(effective_from) as effective_from
    from targets_
    where effective_from <= $end
)

select
    t.effective_from,
    cast(d.next_from - interval 1 day as date) as effective_to,
    t.work_type,
    t.target_share,
    coalesce(t.effective_from = e.effective_from, false) as in_force_at_end
from targets_ as t
join dates as d on d.effective_from = t.effective_from
cross join in_force_at_end as e
order by t.effective_from desc, t.target_share desc, t.work_type
