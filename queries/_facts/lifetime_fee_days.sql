-- name: lifetime_fee_days
-- purpose: the lifetime view's fees (queries/ror/referrer_lifetime.sql) per day: fees on every matter
--          a client opened on or after the day its first inbound referral brought it in, per the
--          referrer that brought it in and whether the matter came from an inbound referral from
--          that referrer (own_referral); late_on: the day the client was brought in when that is after
--          the fee was billed (the fee counts only for a window ending on or after it), else null;
--          with the matter's team, work type and office (fact_office, as kept_matters filters them),
--          so that the sidebar's team, office and work-type filters read these tallies too
-- grain: one row per (billed_on, referrer, own_referral, late_on, team, work_type, fact_office) with
--        a fee row, in date order
with

first_referral as (
    select client_id, referrer_id, referred_on as brought_in_on
    from referrals
    where direction = 'inbound' and referred_on is not null and client_id is not null
    qualify row_number() over (partition by client_id order by referred_on, referral_id) = 1
)

select
    f.billed_on,
    b.referrer_id,
    coalesce(rf.direction = 'inbound' and rf.referrer_id = b.referrer_id, false) as own_referral,
    case when b.brought_in_on > f.billed_on then b.brought_in_on end           as late_on,
    m.team,
    m.work_type,
    m.fact_office,
    sum(f.amount)                                                               as amount
from first_referral as b
join matter_facts as m on m.client_id = b.client_id and m.opened_on >= b.brought_in_on
join fees as f on f.matter_id = m.matter_id
left join referrals as rf on rf.referral_id = m.referral_id
group by f.billed_on, b.referrer_id, own_referral, late_on, m.team, m.work_type, m.fact_office
order by f.billed_on
