-- name: plans
-- purpose: the open next steps of referrer plans (the edit store): the referrer, its relationship
--          partner and stage in the strategic referral process, what is to be done, who owns it
--          and when it is due; overdue = due before today (UTC), whatever the window, because a
--          plan's steps are real-world actions
-- grain: one row per open (not done) next step of a current plan of a kept referrer, overdue
--        first, then by due date
with

steps as (
    select referrer_id, step_no, action, owner, due_on, plan_version
    from plan_steps_current
    where not done
),

plans_ as (
    select referrer_id, partner, stage, changed_by, changed_at
    from plans_current
),

referrers_ as (
    select referrer_id, name
    from kept_referrers($referrer_type, $region)
),

today as (
    select cast(now() at time zone 'UTC' as date) as today
)

select
    s.referrer_id,
    r.name                                         as referrer,
    p.partner,
    st.stage_label                                 as stage,
    s.step_no,
    s.action,
    s.owner,
    s.due_on,
    s.due_on < t.today                             as overdue,
    greatest(t.today - s.due_on, 0)                as days_overdue,
    p.changed_by                                   as plan_changed_by,
    p.changed_at                                   as plan_changed_at
from steps as s
join referrers_ as r on r.referrer_id = s.referrer_id
join plans_ as p on p.referrer_id = s.referrer_id
left join plan_stages as st on st.stage = p.stage
cross join today as t
order by s.due_on < t.today desc, s.due_on, r.name, s.referrer_id, s.step_no
