-- name: pipeline
-- purpose: referrers being developed through the strategic referral process
--          (shared/domain/strategic-referrals.txt: connection, getting to know each other,
--          understanding the whys and why-nots, agreement, implementation): each referrer whose
--          plan has a stage, with its programme level, relationship partner, inbound referrals and
--          referred fees in the window (as the scorecard) and its open and overdue next steps
--          (overdue: due before today, UTC, as the plans query)
-- grain: one row per kept referrer with a stage, first stage first, then largest referred fees
with

plans_ as (
    select referrer_id, partner, stage, changed_by, changed_at
    from plans_current
    where stage is not null
),

scorecard as (
    select referrer_id, name, referrer_type, referrals, referred_fees, suggested_level
    from referrer_scorecard($start, $end, $team, $office, $work_type, $referrer_type, $region)
),

assignments as (
    select referrer_id, assigned_level, version
    from tier_assignments_current
),

today as (
    select cast(now() at time zone 'UTC' as date) as today
),

steps as (
    select
        s.referrer_id,
        count(*) filter (where not s.done)                       as open_steps,
        count(*) filter (where not s.done and s.due_on < t.today) as overdue_steps,
        min(s.due_on) filter (where not s.done)                  as next_due_on
    from plan_steps_current as s
    cross join today as t
    group by s.referrer_id
)

select
    p.referrer_id,
    s.name,
    s.referrer_type,
    p.stage,
    st.stage_order,
    st.stage_label,
    p.partner,
    case when a.version is not null then a.assigned_level else s.suggested_level end as level,
    case when a.version is not null then 'assigned' else 'suggested' end           as level_source,
    s.referrals,
    s.referred_fees,
    coalesce(x.open_steps, 0)                                   as open_steps,
    coalesce(x.overdue_steps, 0)                                as overdue_steps,
    x.next_due_on,
    p.changed_by                                                as plan_changed_by,
    p.changed_at                                                as plan_changed_at
from plans_ as p
join scorecard as s on s.referrer_id = p.referrer_id
join plan_stages as st on st.stage = p.stage
left join assignments as a on a.referrer_id = p.referrer_id
left join steps as x on x.referrer_id = p.referrer_id
order by st.stage_order, round(s.referred_fees, 2) desc, p.referrer_id
