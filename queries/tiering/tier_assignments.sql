-- name: tier_assignments
-- purpose: each referrer's suggested programme level (as the scorecard's)
--          beside the level the board assigned, who assigned it, when (UTC)
--          and why (the edit store's current tier assignments)
-- grain: one row per referrer in referrers.parquet kept by the filters,
--        by referrer_id; assigned_* are null when never assigned
with

suggested as (
    select referrer_id, suggested_level
    from referrer_scorecard($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

assignments as (
    select referrer_id, assigned_level, assigned_by, assigned_at, reason
    from tier_assignments_current
)

select
    suggested.referrer_id,
    suggested.suggested_level,
    assignments.assigned_level,
    assignments.assigned_by,
    assignments.assigned_at,
    assignments.reason
from suggested
left join assignments on assignments.referrer_id = suggested.referrer_id
order by suggested.referrer_id
