-- name: moved_contacts
-- purpose: contacts who moved firm, followed to the new referrer: the inbound
--          referrals they made at the old firm and the fees from them, against
--          what has come from them and from the new firm since the move, and
--          who here knows them; the whole history up to the window's end
--          (a move is a before/after comparison, not a window figure)
-- grain: one row per contact move on or before the window's end whose new
--        firm is kept by the filters, latest move first
with

moves as (
    select m.contact_id, m.from_referrer_id, m.to_referrer_id, m.moved_on
    from contact_moves as m
    join kept_referrers($referrer_type, $region) as r on r.referrer_id = m.to_referrer_id
    where m.moved_on <= $end
),

-- kept inbound referrals to the window's end: those made by a contact who moved (old_firm,
-- new_by_contact), and those from a firm a contact moved to (new_by_firm), from the facts that
-- hold only these (mover_referrals, mover_fees)
inbound as (
    select referral_id, referrer_id, contact_id, referred_on, status
    from kept_mover_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on <= $end
      and contact_id in (select contact_id from moves)
),

inbound_to_new_firms as (
    select referral_id, referrer_id, referred_on
    from kept_mover_referrals($team, $office, $work_type, $referrer_type, $region)
    where direction = 'inbound'
      and referred_on <= $end
      and referrer_id in (select to_referrer_id from moves)
),

fees_to_end as (
    select referral_id, sum(amount) as fees
    from kept_mover_fees($team, $office, $work_type, $referrer_type, $region)
    where billed_on <= $end
      and referral_id in (select referral_id from inbound)
    group by referral_id
),

old_firm as (
    -- made by the contact from the firm they left
    select
        m.contact_id,
        m.from_referrer_id,
        m.moved_on,
        count(i.referral_id)                              as old_firm_referrals,
        count(i.referral_id) filter (where i.status = 'won') as old_firm_won,
        coalesce(sum(f.fees), 0)                          as old_firm_fees,
        max(i.referred_on)                                as last_old_firm_referral_on
    from moves as m
    left join inbound as i
        on i.contact_id = m.contact_id and i.referrer_id = m.from_referrer_id
    left join fees_to_end as f on f.referral_id = i.referral_id
    group by m.contact_id, m.from_referrer_id, m.moved_on
),

new_by_contact as (
    -- made by the contact from the new firm since the move
    select
        m.contact_id,
        m.to_referrer_id,
        m.moved_on,
        count(i.referral_id)     as new_firm_referrals,
        coalesce(sum(f.fees), 0) as new_firm_fees
    from moves as m
    left join inbound as i
        on i.contact_id = m.contact_id
       and i.referrer_id = m.to_referrer_id
       and i.referred_on >= m.moved_on
    left join fees_to_end as f on f.referral_id = i.referral_id
    group by m.contact_id, m.to_referrer_id, m.moved_on
),

new_by_firm as (
    -- from the new firm since the move, by anyone there
    select
        m.contact_id,
        m.to_referrer_id,
        m.moved_on,
        count(i.referral_id) as new_referrer_referrals
    from moves as m
    left join inbound_to_new_firms as i
        on i.referrer_id = m.to_referrer_id and i.referred_on >= m.moved_on
    group by m.contact_id, m.to_referrer_id, m.moved_on
),

relationships_ as (
    select
        fee_earner_id,
        contact_id,
        strength,
        row_number() over (partition by contact_id order by strength desc, fee_earner_id) as strength_rank
    from kept_relationships($team, $office, $referrer_type, $region)
),

who_knows as (
    select
        contact_id,
        count(distinct fee_earner_id)                             as fee_earners_who_know,
        max(strength)                                             as max_strength,
        -- the strongest holder, ties by fee_earner_id
        any_value(fee_earner_id) filter (where strength_rank = 1) as closest_fee_earner_id
    from relationships_
    group by contact_id
)

select
    m.contact_id,
    c.full_name                               as contact,
    c.job_title,
    m.from_referrer_id,
    rf.name                                   as from_referrer,
    m.to_referrer_id,
    rt.name                                   as to_referrer,
    m.moved_on,
    o.old_firm_referrals,
    o.old_firm_won,
    o.old_firm_fees,
    o.last_old_firm_referral_on,
    n.new_firm_referrals,
    n.new_firm_fees,
    b.new_referrer_referrals,
    coalesce(w.fee_earners_who_know, 0)       as fee_earners_who_know,
    w.max_strength,
    w.closest_fee_earner_id,
    fe.full_name                              as closest_fee_earner
from moves as m
join old_firm as o
    on o.contact_id = m.contact_id and o.from_referrer_id = m.from_referrer_id and o.moved_on = m.moved_on
join new_by_contact as n
    on n.contact_id = m.contact_id and n.to_referrer_id = m.to_referrer_id and n.moved_on = m.moved_on
join new_by_firm as b
    on b.contact_id = m.contact_id and b.to_referrer_id = m.to_referrer_id and b.moved_on = m.moved_on
left join contacts as c on c.contact_id = m.contact_id
left join referrers as rf on rf.referrer_id = m.from_referrer_id
left join referrers as rt on rt.referrer_id = m.to_referrer_id
left join who_knows as w on w.contact_id = m.contact_id
left join fee_earners as fe on fe.fee_earner_id = w.closest_fee_earner_id
order by m.moved_on desc, round(o.old_firm_fees, 2) desc, m.contact_id
