-- name: kpi_measures
-- purpose: every measure a SMART KPI can track (dashboard/kpis.py), for one scope over the window:
--          inbound referrals (all, and from Level 3-4 referrers), conversion rate, referred fees,
--          referrers with fees, top-3 share, drift index, share of target work, outbound referrals,
--          overdue plan actions at the window's end, and the share of decided inbound referrals
--          whose referrer has been told what became of them (the loop closed)
-- grain: one row
-- param: scope choice(firm|level|team|referrer_type|referrer) = firm
-- param: scope_value str =
-- param: threshold float = 0.05
--
-- Scopes: firm (all the filters keep); level N (referrers whose programme level is N: the board's
-- assigned level, else the level suggested for the window, as service_levels); team and
-- referrer_type (as the sidebar filters of that name, on top of them); referrer (one referrer_id).
-- Measures, as metrics.md where it defines them:
--   inbound_referrals, outbound_referrals: referred_on in the window;
--   inbound_referrals_l34: those from referrers at Level 3 or 4 (as above);
--   conversion_rate: won / (won + lost + declined) of the inbound referrals;
--   referred_fees, referrers_with_fees, top3_share: as the scorecard and concentration;
--   drift_index: half the summed gaps between the window's actual mix of inbound work types and the
--     mix expected from the target mix in force on each referral's date (count basis); with one
--     target mix in force this is the TVD of metrics.md "Strategic drift" over the whole window;
--   target_work_share: share of inbound referrals in work types whose target share on their date is
--     at least `threshold` (1 - drift_referrers' off_target_share over the scope);
--   overdue_plan_actions: next steps of current plans due before the window's end and not done by
--     then (done_on after it counts as not yet done); not defined for a team (null);
--   loop_closed_share: of inbound referrals decided (won, lost, declined) in the window, by
--     closed_on (referred_on when closed_on is missing), the share with a "told on" mark.
with

levels_ as (
    -- the programme level of each referrer the filters keep (not the scope: a level is the referrer's)
    select
        s.referrer_id,
        case when a.version is not null then a.assigned_level else s.suggested_level end as level
    from referrer_levels($start, $end, $team, $office, $work_type, $referrer_type, $region) as s
    left join tier_assignments_current as a on a.referrer_id = s.referrer_id
),

scoped_referrers as (
    -- the referrers a level or referrer scope keeps (the other scopes keep every referrer)
    select referrer_id
    from levels_
    where $scope = 'level' and level = try_cast($scope_value as integer)
    union all
    select referrer_id
    from kept_referrers($referrer_type, $region)
    where $scope = 'referrer' and referrer_id = $scope_value
),

inbound_referrals as (
    -- the inbound referrals of the window in scope (for the work mix)
    select rf.referred_on, rf.work_type
    from kept_referrals(
        case when $scope = 'team' then list_intersect(coalesce($team, [$scope_value]), [$scope_value]) else $team end,
        $office, $work_type,
        case when $scope = 'referrer_type'
             then list_intersect(coalesce($referrer_type, [$scope_value]), [$scope_value])
             else $referrer_type end,
        $region) as rf
    where rf.direction = 'inbound'
      and rf.referred_on between $start and $end
      and ($scope not in ('level', 'referrer') or rf.referrer_id in (select referrer_id from scoped_referrers))
),

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

target_dates as (
    select distinct effective_from
    from targets_
),

tallies as (
    -- inbound and outbound referrals in the window per referrer (kept_referral_tallies), in scope
    select
        referrer_id,
        coalesce(sum(referrals) filter (where direction = 'inbound'), 0)   as inbound,
        coalesce(sum(won) filter (where direction = 'inbound'), 0)         as won,
        coalesce(sum(won) filter (where direction = 'inbound'), 0)
            + coalesce(sum(lost) filter (where direction = 'inbound'), 0)
            + coalesce(sum(declined) filter (where direction = 'inbound'), 0) as decided,
        coalesce(sum(referrals) filter (where direction = 'outbound'), 0)  as outbound
    from kept_referral_tallies(
        $start, $end,
        case when $scope = 'team' then list_intersect(coalesce($team, [$scope_value]), [$scope_value]) else $team end,
        $office, $work_type,
        case when $scope = 'referrer_type'
             then list_intersect(coalesce($referrer_type, [$scope_value]), [$scope_value])
             else $referrer_type end,
        $region)
    where $scope not in ('level', 'referrer') or referrer_id in (select referrer_id from scoped_referrers)
    group by referrer_id
),

referral_counts as (
    select
        coalesce(sum(inbound), 0)::bigint                                              as inbound_referrals,
        coalesce(sum(inbound) filter (
            where referrer_id in (select referrer_id from levels_ where level >= 3)), 0)::bigint
                                                                                       as inbound_referrals_l34,
        coalesce(sum(won), 0)::bigint                                                  as won,
        coalesce(sum(decided), 0)::bigint                                              as decided,
        coalesce(sum(outbound), 0)::bigint                                             as outbound_referrals
    from tallies
),

inbound_days as (
    select work_type, referred_on, count(*) as referrals
    from inbound_referrals
    group by work_type, referred_on
),

inbound as (
    -- the inbound referrals in the window, counted per work type and the target mix in force on
    -- their date (the latest effective_from on or before it; none before the first)
    select i.work_type, d.effective_from, sum(i.referrals)::bigint as referrals
    from inbound_days as i
    asof left join target_dates as d on i.referred_on >= d.effective_from
    group by i.work_type, d.effective_from
),

fees_ as (
    select f.referrer_id, f.referred_fees
    from referred_fees_by_referrer(
        $start, $end,
        case when $scope = 'team' then list_intersect(coalesce($team, [$scope_value]), [$scope_value]) else $team end,
        $office, $work_type,
        case when $scope = 'referrer_type'
             then list_intersect(coalesce($referrer_type, [$scope_value]), [$scope_value])
             else $referrer_type end,
        $region) as f
    where $scope not in ('level', 'referrer') or f.referrer_id in (select referrer_id from scoped_referrers)
),

fee_ranks as (
    select referred_fees, row_number() over (order by round(referred_fees, 2) desc, referrer_id) as rank
    from fees_
    where referred_fees > 0
),

fee_measures as (
    select
        (select coalesce(sum(referred_fees), 0) from fees_)                 as referred_fees,
        count(*)                                                             as referrers_with_fees,
        sum(referred_fees) filter (where rank <= 3) / nullif(sum(referred_fees), 0) as top3_share
    from fee_ranks
),

inbound_total as (
    select sum(referrals)::bigint as referrals
    from inbound
),

actual_mix as (
    select work_type, sum(referrals)::bigint / (select nullif(referrals, 0) from inbound_total) as actual_share
    from inbound
    group by work_type
),

expected_mix as (
    -- each referral expects its date's mix: the mixes weighted by their referrals
    select t.work_type, sum(t.target_share * r.referrals) / (select nullif(referrals, 0) from inbound_total)
        as target_share
    from (select effective_from, sum(referrals)::bigint as referrals from inbound group by effective_from) as r
    join targets_ as t on t.effective_from = r.effective_from
    group by t.work_type
),

drift as (
    -- null without inbound referrals (both mixes empty)
    select 0.5 * sum(abs(coalesce(a.actual_share, 0) - coalesce(e.target_share, 0))) as drift_index
    from actual_mix as a
    full join expected_mix as e on e.work_type = a.work_type
),

own_targets as (
    -- each referral's own work type's target share on its date (no target: 0)
    select i.referrals, coalesce(t.target_share, 0) as target_share
    from inbound as i
    left join targets_ as t on t.effective_from = i.effective_from and t.work_type = i.work_type
),

target_work as (
    select coalesce(sum(referrals) filter (where target_share >= $threshold), 0)::bigint
               / nullif(sum(referrals)::bigint, 0) as target_work_share
    from own_targets
),

overdue as (
    select case when $scope = 'team' then null else count(*) end as overdue_plan_actions
    from plan_steps_current as s
    where s.due_on < $end
      and (not s.done or s.done_on > $end)
      and s.referrer_id in (select referrer_id from kept_referrers(
            case when $scope = 'referrer_type'
                 then list_intersect(coalesce($referrer_type, [$scope_value]), [$scope_value])
                 else $referrer_type end,
            $region))
      and ($scope not in ('level', 'referrer') or s.referrer_id in (select referrer_id from scoped_referrers))
),

decided as not materialized (
    select d.referral_id
    from kept_decided_referrals(
        case when $scope = 'team' then list_intersect(coalesce($team, [$scope_value]), [$scope_value]) else $team end,
        $office, $work_type,
        case when $scope = 'referrer_type'
             then list_intersect(coalesce($referrer_type, [$scope_value]), [$scope_value])
             else $referrer_type end,
        $region) as d
    where d.decided_on between $start and $end
      and ($scope not in ('level', 'referrer') or d.referrer_id in (select referrer_id from scoped_referrers))
),

told as (
    select referral_id
    from loop_closed_current
    where told_on is not null
),

loop_closed_counts as (
    -- told: the decided referrals' marks (an inner join, so that counting the decided referrals
    -- reads no referral_id)
    select
        (select count(*) from decided)                                               as decided_referrals,
        (select count(*) from decided as d join told as t on t.referral_id = d.referral_id) as told_referrals
),

loop_closed as (
    select
        decided_referrals,
        told_referrals,
        told_referrals / nullif(decided_referrals, 0)     as loop_closed_share
    from loop_closed_counts
)

select
    c.inbound_referrals,
    c.inbound_referrals_l34,
    c.won / nullif(c.decided, 0)      as conversion_rate,
    f.referred_fees,
    f.referrers_with_fees,
    f.top3_share,
    d.drift_index,
    w.target_work_share,
    c.outbound_referrals,
    o.overdue_plan_actions,
    l.loop_closed_share,
    l.decided_referrals,
    l.told_referrals,
    -- what the scope names: the referrer's name for a referrer, else the scope's value
    case when $scope = 'referrer' then (select name from referrers where referrer_id = $scope_value)
         else nullif($scope_value, '') end as scope_name
from referral_counts as c
cross join fee_measures as f
cross join drift as d
cross join target_work as w
cross join overdue as o
cross join loop_closed as l
