-- The sidebar filters as table macros, created once per connection.
-- Every named query reads the contract tables through these, so that
-- "filters narrow the rows before any metric is computed" (metrics.md)
-- holds in one place. A filter argument is a list of kept values, or null
-- for "no filter".

-- One filter: no list (null) keeps everything; a list keeps the rows whose
-- value is in it (a null value is in no list).
create or replace macro filter_keeps(p_values, value) as
    (p_values is null or list_contains(p_values, value));

create or replace macro kept_referrers(p_referrer_type, p_region) as table
select r.*
from referrers as r
where filter_keeps(p_referrer_type, r.referrer_type)
  and filter_keeps(p_region, r.region);

create or replace macro kept_fee_earners(p_team, p_office) as table
select fe.*
from fee_earners as fe
where filter_keeps(p_team, fe.team)
  and filter_keeps(p_office, fe.office);

-- Each macro below filters one facts table (queries/_facts): the contract
-- table already joined to the fee earner's team and office and to the
-- referrer's type and region, so a filter is a column test, not a join. A
-- row whose fee earner or referrer is unknown (null) fails that filter,
-- as it fails the join. The facts' own columns (fact_*) are dropped again.

-- team: by to_team; office: through the fee earner; work type; referrer
-- type and region: through the referrer (internal referrals have none, so
-- a referrer filter drops them). The one test of every table of referral
-- rows (referral_facts, decided_referrals, mover_referrals).
create or replace macro keeps_referral(p_team, p_office, p_work_type, p_referrer_type, p_region,
                                       team, office, work_type, referrer_type, region) as
    filter_keeps(p_team, team)
    and filter_keeps(p_office, office)
    and filter_keeps(p_work_type, work_type)
    and filter_keeps(p_referrer_type, referrer_type)
    and filter_keeps(p_region, region);

create or replace macro kept_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_office, fact_referrer_type, fact_region)
from referral_facts
where keeps_referral(p_team, p_office, p_work_type, p_referrer_type, p_region,
                    to_team, fact_office, work_type, fact_referrer_type, fact_region);

-- decided_referrals (inbound, won/lost/declined, by decided_on) as kept_referrals keeps referrals
create or replace macro kept_decided_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_office, fact_referrer_type, fact_region)
from decided_referrals
where keeps_referral(p_team, p_office, p_work_type, p_referrer_type, p_region,
                    to_team, fact_office, work_type, fact_referrer_type, fact_region);

-- team and work type: the matter's own; office and referrer filters: through
-- the referral the matter came from (a matter without one has no office or
-- referrer, so those filters drop it).
create or replace macro kept_matters(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_office, fact_referrer_type, fact_region)
from matter_facts
where filter_keeps(p_team, team)
  and filter_keeps(p_work_type, work_type)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

-- Fees follow their matter (filtered as kept_matters); each fee row carries
-- the matter's referral_id so that "fees follow the work" needs no second
-- join. kept_fee_facts keeps the referral's direction and referrer too.
create or replace macro kept_fee_facts(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select *
from fee_facts
where filter_keeps(p_team, fact_team)
  and filter_keeps(p_work_type, fact_work_type)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

create or replace macro kept_fees(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_team, fact_work_type, fact_office, fact_referrer_type, fact_region,
                  fact_direction, fact_referrer_id)
from kept_fee_facts(p_team, p_office, p_work_type, p_referrer_type, p_region);

-- Activities and relationships: by the fee earner's team and office, and by
-- the referrer (for relationships, the contact's current referrer).
create or replace macro kept_activities(p_team, p_office, p_referrer_type, p_region) as table
select * exclude (fact_team, fact_office, fact_referrer_type, fact_region)
from activity_facts
where filter_keeps(p_team, fact_team)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

create or replace macro kept_relationships(p_team, p_office, p_referrer_type, p_region) as table
select * exclude (fact_team, fact_office, fact_referrer_type, fact_region)
from relationship_facts
where filter_keeps(p_team, fact_team)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

-- Month facts (referral_months, activity_months): a window [p_start, p_end] is read as its whole
-- calendar months from the month fact and its remaining days at either edge from the rows, which
-- are in date order, so an edge reads a few row groups. The month facts have no team, office or
-- work type, so with one of those filters set (month_facts_apply false) every day is read from the
-- rows. whole_months_from: the first day of the window's first whole month; whole_months_to: the
-- last day of its last whole month (before whole_months_from when it holds none).
create or replace macro month_facts_apply(p_team, p_office, p_work_type) as
    (p_team is null and p_office is null and p_work_type is null);

create or replace macro whole_months_from(p_start) as
    cast(case when day(p_start::date) = 1 then p_start::date
              else date_trunc('month', p_start::date) + interval 1 month end as date);

create or replace macro whole_months_to(p_end) as
    cast(case when p_end::date = last_day(p_end::date) then p_end::date
              else date_trunc('month', p_end::date) - interval 1 day end as date);

-- the days read from the rows: [p_start, edge_head_to] and [edge_tail_from, p_end] (each empty
-- when its bounds cross); the whole window when the month facts do not apply
create or replace macro edge_head_to(p_start, p_end, p_months) as
    case when p_months then least(p_end::date, whole_months_from(p_start) - 1) else p_end::date end;

create or replace macro edge_tail_from(p_start, p_end, p_months) as
    case when p_months
         then greatest(p_start::date, whole_months_to(p_end) + 1, edge_head_to(p_start, p_end, p_months) + 1)
         else p_end::date + 1 end;

-- Inbound and outbound referrals with referred_on in [p_start, p_end] kept by the filters, as
-- kept_referrals, counted per referrer, direction, month or edge day: referrals, won, lost,
-- declined, open, first_on, last_on (sum the counts, min/max the dates).
create or replace macro kept_referral_tallies(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select referrer_id, direction, referrals, won, lost, declined, open, first_on, last_on
from referral_months
where month_facts_apply(p_team, p_office, p_work_type)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region)
  and month_on between whole_months_from(p_start) and whole_months_to(p_end)
union all
select
    referrer_id,
    direction,
    1                                   as referrals,
    (status = 'won')::integer           as won,
    (status = 'lost')::integer          as lost,
    (status = 'declined')::integer      as declined,
    (status = 'open')::integer          as open,
    referred_on                         as first_on,
    referred_on                         as last_on
from kept_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region)
where direction in ('inbound', 'outbound')
  and (referred_on between p_start
                       and edge_head_to(p_start, p_end, month_facts_apply(p_team, p_office, p_work_type))
       or referred_on between edge_tail_from(p_start, p_end, month_facts_apply(p_team, p_office, p_work_type))
                          and p_end);

-- Activities with occurred_on in [p_start, p_end] kept by the filters, as kept_activities, per
-- referrer, activity type, month or edge row: activities, hours, expense, cost (hours x the fee
-- earner's cost_rate + expense; sum them).
create or replace macro kept_activity_tallies(p_start, p_end, p_team, p_office, p_referrer_type, p_region) as table
select referrer_id, activity_type, activities, hours, expense, cost
from activity_months
where month_facts_apply(p_team, p_office, null)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region)
  and month_on between whole_months_from(p_start) and whole_months_to(p_end)
union all
select a.referrer_id, a.activity_type, 1, a.hours, a.expense, a.hours * fe.cost_rate + a.expense
from kept_activities(p_team, p_office, p_referrer_type, p_region) as a
left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
where a.occurred_on between p_start
                        and edge_head_to(p_start, p_end, month_facts_apply(p_team, p_office, null))
   or a.occurred_on between edge_tail_from(p_start, p_end, month_facts_apply(p_team, p_office, null))
                        and p_end;

-- Fees billed in [p_start, p_end] on known matters kept by the filters, as kept_fee_facts, per
-- the direction and referrer of the referral the matter came from and the month billed: from
-- fee_months and fee_days (the edge days) when no team, office or work-type filter is set, else
-- from the fee rows. amount: sum it.
create or replace macro kept_fee_tallies(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select direction, referrer_id, month_on, amount
from fee_months
where month_facts_apply(p_team, p_office, p_work_type)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region)
  and month_on between whole_months_from(p_start) and whole_months_to(p_end)
union all
select direction, referrer_id, cast(date_trunc('month', billed_on) as date), amount
from fee_days
where month_facts_apply(p_team, p_office, p_work_type)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region)
  and (billed_on between p_start and edge_head_to(p_start, p_end, true)
       or billed_on between edge_tail_from(p_start, p_end, true) and p_end)
union all
select fact_direction, fact_referrer_id, cast(date_trunc('month', billed_on) as date), amount
from kept_fee_facts(p_team, p_office, p_work_type, p_referrer_type, p_region)
where not month_facts_apply(p_team, p_office, p_work_type)
  and billed_on between p_start and p_end;

-- The inbound referrals and fee rows of contacts who moved firm and of the firms they moved to
-- (mover_referrals, mover_fees), filtered as kept_referrals and kept_fees filter theirs.
create or replace macro kept_mover_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_office, fact_referrer_type, fact_region)
from mover_referrals
where keeps_referral(p_team, p_office, p_work_type, p_referrer_type, p_region,
                    to_team, fact_office, work_type, fact_referrer_type, fact_region);

create or replace macro kept_mover_fees(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_team, fact_work_type, fact_office, fact_referrer_type, fact_region)
from mover_fees
where filter_keeps(p_team, fact_team)
  and filter_keeps(p_work_type, fact_work_type)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

-- Referred fees (metrics.md): fees billed in the window on matters whose
-- referral is an inbound referral from the referrer, whenever that referral
-- was made ("fees follow the work"). Shared by scorecard and concentration.
create or replace macro referred_fees_by_referrer(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select referrer_id, sum(amount) as referred_fees
from kept_fee_tallies(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region)
where direction = 'inbound'
group by referrer_id;

-- The attribution journeys (journey_facts, one row per conversion and touchpoint) filtered as
-- kept_matters filters their conversions.
create or replace macro kept_journey_facts(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (team, work_type, fact_office, fact_referrer_type, fact_region)
from journey_facts
where filter_keeps(p_team, team)
  and filter_keeps(p_work_type, work_type)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);
