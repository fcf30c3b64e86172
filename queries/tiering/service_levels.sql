-- name: service_levels
-- purpose: the service-level check: what each levelled referrer received in
--          the 12 months to the window's end (hours, expenses, cost) against
--          its programme level's annual budget and activity menu
--          (dashboard/levels.toml): under-served Level 4s, over-served Level 1s
-- grain: one row per referrer kept by the filters with a level (the assigned
--        level, else the suggested one), Level 4 first
--
-- Period: [end - 12 months + 1 day, end], whatever the window's start (a
-- budget is annual). cost = hours x the fee earner's cost_rate + expense, as
-- the scorecard's investment_cost; the money budget is compared with expense.
-- over-served: hours or expense above over_served_above x its budget;
-- under-served: every non-zero budget used below under_served_below x it;
-- otherwise on budget. Off menu: activities whose type belongs to a higher
-- level's menu than the referrer's level (types on no menu are not judged).
with

suggested as (
    -- the scorecard's suggested level (referrer_levels counts only what its rule reads) for the
    -- scorecard's referrers, those kept by the filters
    select r.referrer_id, r.name, r.referrer_type, l.suggested_level
    from kept_referrers($referrer_type, $region) as r
    join referrer_levels($start, $end, $team, $office, $work_type, $referrer_type, $region) as l
        on l.referrer_id = r.referrer_id
),

assignments as (
    select referrer_id, assigned_level, version
    from tier_assignments_current
),

levelled as (
    select
        s.referrer_id,
        s.name,
        s.referrer_type,
        case when a.version is not null then a.assigned_level else s.suggested_level end as level,
        case when a.version is not null then 'assigned' else 'suggested' end           as level_source
    from suggested as s
    left join assignments as a on a.referrer_id = s.referrer_id
),

period as (
    select
        cast($end::date - interval 12 month + interval 1 day as date) as period_start,
        $end::date                                                    as period_end
),

activities_ as (
    -- per referrer, activity type and whole month of the period (or edge day): kept_activity_tallies
    select
        a.referrer_id,
        a.activity_type,
        a.activities,
        a.hours,
        a.expense,
        a.cost,
        m.menu_level
    from kept_activity_tallies(
        cast($end::date - interval 12 month + interval 1 day as date), $end,
        $team, $office, $referrer_type, $region) as a
    left join programme_menu as m on m.activity_type = a.activity_type
),

spend as (
    select
        l.referrer_id,
        coalesce(sum(a.activities), 0)::bigint                              as activities_12m,
        coalesce(sum(a.hours), 0)                                           as hours_12m,
        coalesce(sum(a.expense), 0)                                         as expense_12m,
        coalesce(sum(a.cost), 0)                                            as cost_12m,
        coalesce(sum(a.activities) filter (where a.menu_level > l.level), 0)::bigint as off_menu_activities,
        coalesce(sum(a.cost) filter (where a.menu_level > l.level), 0)      as off_menu_cost_12m,
        string_agg(distinct a.activity_type, ', ' order by a.activity_type)
            filter (where a.menu_level > l.level)                           as off_menu_types
    from levelled as l
    left join activities_ as a on a.referrer_id = l.referrer_id
    where l.level is not null
    group by l.referrer_id
),

checked as (
    select
        l.referrer_id,
        l.name,
        l.referrer_type,
        l.level,
        l.level_source,
        g.level_name,
        s.activities_12m,
        s.hours_12m,
        s.expense_12m,
        s.cost_12m,
        g.budget_hours,
        g.budget_money,
        s.hours_12m / nullif(g.budget_hours, 0)    as hours_used,
        s.expense_12m / nullif(g.budget_money, 0)  as money_used,
        s.off_menu_activities,
        s.off_menu_cost_12m,
        s.off_menu_types,
        case
            when s.hours_12m > g.over_served_above * g.budget_hours
              or s.expense_12m > g.over_served_above * g.budget_money then 'over-served'
            when (g.budget_hours > 0 or g.budget_money > 0)
             and (g.budget_hours = 0 or s.hours_12m < g.under_served_below * g.budget_hours)
             and (g.budget_money = 0 or s.expense_12m < g.under_served_below * g.budget_money)
                then 'under-served'
            else 'on budget'
        end                                        as service_level
    from levelled as l
    join spend as s on s.referrer_id = l.referrer_id
    join programme_levels as g on g.level = l.level
)

select
    checked.*,
    p.period_start,
    p.period_end
from checked
cross join period as p
order by level desc, round(cost_12m, 2) desc, referrer_id
