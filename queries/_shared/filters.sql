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
-- a referrer filter drops them).
create or replace macro kept_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select * exclude (fact_office, fact_referrer_type, fact_region)
from referral_facts
where filter_keeps(p_team, to_team)
  and filter_keeps(p_office, fact_office)
  and filter_keeps(p_work_type, work_type)
  and filter_keeps(p_referrer_type, fact_referrer_type)
  and filter_keeps(p_region, fact_region);

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

-- Referred fees (metrics.md): fees billed in the window on matters whose
-- referral is an inbound referral from the referrer, whenever that referral
-- was made ("fees follow the work"). Shared by scorecard and concentration.
create or replace macro referred_fees_by_referrer(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select fact_referrer_id as referrer_id, sum(amount) as referred_fees
from kept_fee_facts(p_team, p_office, p_work_type, p_referrer_type, p_region)
where fact_direction = 'inbound'
  and billed_on between p_start and p_end
group by fact_referrer_id;

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
