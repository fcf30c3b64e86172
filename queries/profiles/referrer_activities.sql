-- name: referrer_activities
-- purpose: one referrer's activity timeline in the window: what we spent on the relationship,
--          who, with whom, and whether the activity is on the menu of a programme level
--          (dashboard/levels.toml; menu_level null: on no level's menu)
-- grain: one row per activity with the referrer in the window, newest first
-- param: referrer str =
select
    a.activity_id,
    a.occurred_on,
    a.activity_type,
    m.menu_level,
    fe.full_name                          as fee_earner,
    fe.team,
    c.full_name                           as contact,
    a.hours,
    a.expense,
    a.hours * fe.cost_rate + a.expense    as cost
from kept_activities($team, $office, $referrer_type, $region) as a
left join fee_earners as fe on fe.fee_earner_id = a.fee_earner_id
left join contacts as c on c.contact_id = a.contact_id
left join programme_menu as m on m.activity_type = a.activity_type
where a.referrer_id = $referrer
  and a.occurred_on between $start and $end
order by a.occurred_on desc, a.activity_id desc
