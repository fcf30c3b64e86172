-- The sidebar filters as table macros, created once per connection.
-- Every named query reads the contract tables through these, so that
-- "filters narrow the rows before any metric is computed" (metrics.md)
-- holds in one place. A filter argument is a list of kept values, or null
-- for "no filter".

create or replace macro kept_referrers(p_referrer_type, p_region) as table
select r.*
from referrers as r
where (p_referrer_type is null or list_contains(p_referrer_type, r.referrer_type))
  and (p_region is null or list_contains(p_region, r.region));

create or replace macro kept_fee_earners(p_team, p_office) as table
select fe.*
from fee_earners as fe
where (p_team is null or list_contains(p_team, fe.team))
  and (p_office is null or list_contains(p_office, fe.office));

-- team: by to_team; office: through the fee earner; work type; referrer
-- type and region: through the referrer (internal referrals have none, so
-- a referrer filter drops them).
create or replace macro kept_referrals(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select rf.*
from referrals as rf
where (p_team is null or list_contains(p_team, rf.to_team))
  and (p_office is null or rf.fee_earner_id in (
        select fee_earner_id from kept_fee_earners(null, p_office)))
  and (p_work_type is null or list_contains(p_work_type, rf.work_type))
  and ((p_referrer_type is null and p_region is null) or rf.referrer_id in (
        select referrer_id from kept_referrers(p_referrer_type, p_region)));

-- team and work type: the matter's own; office and referrer filters: through
-- the referral the matter came from (a matter without one has no office or
-- referrer, so those filters drop it).
create or replace macro kept_matters(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select m.*
from matters as m
left join referrals as rf on rf.referral_id = m.referral_id
where (p_team is null or list_contains(p_team, m.team))
  and (p_work_type is null or list_contains(p_work_type, m.work_type))
  and (p_office is null or rf.fee_earner_id in (
        select fee_earner_id from kept_fee_earners(null, p_office)))
  and ((p_referrer_type is null and p_region is null) or rf.referrer_id in (
        select referrer_id from kept_referrers(p_referrer_type, p_region)));

-- Fees follow their matter; each fee row carries the matter's referral_id so
-- that "fees follow the work" needs no second join.
create or replace macro kept_fees(p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select f.*, m.referral_id
from fees as f
join kept_matters(p_team, p_office, p_work_type, p_referrer_type, p_region) as m
    on m.matter_id = f.matter_id;

-- Activities and relationships: by the fee earner's team and office, and by
-- the referrer (for relationships, the contact's current referrer).
create or replace macro kept_activities(p_team, p_office, p_referrer_type, p_region) as table
select a.*
from activities as a
where ((p_team is null and p_office is null) or a.fee_earner_id in (
        select fee_earner_id from kept_fee_earners(p_team, p_office)))
  and ((p_referrer_type is null and p_region is null) or a.referrer_id in (
        select referrer_id from kept_referrers(p_referrer_type, p_region)));

create or replace macro kept_relationships(p_team, p_office, p_referrer_type, p_region) as table
select rel.*, c.referrer_id
from relationships as rel
join contacts as c on c.contact_id = rel.contact_id
where ((p_team is null and p_office is null) or rel.fee_earner_id in (
        select fee_earner_id from kept_fee_earners(p_team, p_office)))
  and ((p_referrer_type is null and p_region is null) or c.referrer_id in (
        select referrer_id from kept_referrers(p_referrer_type, p_region)));

-- Referred fees (metrics.md): fees billed in the window on matters whose
-- referral is an inbound referral from the referrer, whenever that referral
-- was made ("fees follow the work"). Shared by scorecard and concentration.
create or replace macro referred_fees_by_referrer(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
select rf.referrer_id, sum(f.amount) as referred_fees
from kept_fees(p_team, p_office, p_work_type, p_referrer_type, p_region) as f
join referrals as rf on rf.referral_id = f.referral_id
where rf.direction = 'inbound'
  and f.billed_on between p_start and p_end
group by rf.referrer_id;
