-- name: team_balance
-- purpose: each team's internal referrals given (as from_team) and received
--          (as to_team) in the window; net = received − given, so a net giver
--          has net < 0 (metrics.md "Internal flows and reciprocity")
-- grain: one row per team on either side of an internal referral in the
--        window, biggest net givers first
with

internal as (
    select from_team, to_team
    from kept_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'internal'
      and referred_on between $start and $end
),

given as (
    select from_team as team, count(*) as given
    from internal
    group by from_team
),

received as (
    select to_team as team, count(*) as received
    from internal
    group by to_team
),

balance as (
    select
        coalesce(g.team, r.team)    as team,
        coalesce(g.given, 0)        as given,
        coalesce(r.received, 0)     as received
    from given as g
    full join received as r on r.team = g.team
)

select team, given, received, received - given as net
from balance
order by net, team
