-- name: scorecard
-- purpose: the referrer scorecard, suggested programme level and prune flag
--          (metrics.md "Referrer scorecard" and "Suggested tier"), with the
--          level the board assigned (the edit store)
-- grain: one row per referrer in referrers.parquet kept by the filters,
--        largest referred fees first
--
-- Every column up to prune_candidate comes from the referrer_scorecard macro
-- (queries/_shared/scorecard.sql), which the tiering queries share, so the
-- suggested level is one definition. assigned_level: the store's current
-- assignment (null when never assigned or deliberately unassigned).
with

scorecard as (
    select *
    from referrer_scorecard($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

assignments as (
    select referrer_id, assigned_level
    from tier_assignments_current
)

select
    scorecard.*,
    assignments.assigned_level
from scorecard
left join assignments on assignments.referrer_id = scorecard.referrer_id
order by round(scorecard.referred_fees, 2) desc, scorecard.referrer_id
