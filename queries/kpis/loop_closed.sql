-- name: loop_closed
-- purpose: closing the loop: of the inbound referrals decided (won, lost, declined) in the window,
--          how many referrers have been told what became of them (a "told on" mark in the edit
--          store), as kpi_measures' loop_closed_share for the whole firm
-- grain: one row
--
-- Decided in the window: closed_on in [start, end] (referred_on when closed_on is missing). A mark
-- counts whenever it was recorded; a withdrawn mark (told_on null) does not.
with

decided as (
    select referral_id
    from kept_decided_referrals($team, $office, $work_type, $referrer_type, $region)
    where decided_on between $start and $end
),

told as (
    select referral_id
    from loop_closed_current
    where told_on is not null
)

select
    count(*)                                       as decided_referrals,
    count(t.referral_id)                           as told_referrals,
    count(*) - count(t.referral_id)                as not_told_referrals,
    count(t.referral_id) / nullif(count(*), 0)     as loop_closed_share
from decided as d
left join told as t on t.referral_id = d.referral_id
