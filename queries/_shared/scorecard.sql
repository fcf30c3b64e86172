-- The scorecard's rows as a table macro, so that the scorecard and the
-- tiering queries (tier_assignments, tiering, service_levels, prioritisation)
-- share one definition of every column, the suggested level included
-- (metrics.md "Referrer scorecard" and "Suggested tier"). One row per
-- referrer kept by the filters, unordered. Reads the contract tables through
-- the filter macros only (never the store's tables: those are registered
-- per query, and a macro is created once per connection).

create or replace macro referrer_scorecard(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
    with

    referrers_ as (
        select referrer_id, name, referrer_type
        from kept_referrers(p_referrer_type, p_region)
    ),

    relationships_ as (
        select referrer_id, fee_earner_id, contact_id, strength
        from kept_relationships(p_team, p_office, p_referrer_type, p_region)
    ),

    -- referral counts per referrer from whole months and the window's edge days (kept_referral_tallies)
    in_window as (
        select
            referrer_id,
            sum(referrals) filter (where direction = 'inbound')::bigint  as referrals,
            sum(won) filter (where direction = 'inbound')::bigint        as won,
            sum(lost) filter (where direction = 'inbound')::bigint       as lost,
            sum(declined) filter (where direction = 'inbound')::bigint   as declined,
            sum(open) filter (where direction = 'inbound')::bigint       as open,
            sum(referrals) filter (where direction = 'outbound')::bigint as outbound_referrals
        from kept_referral_tallies(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region)
        group by referrer_id
    ),

    last_referral as (
        select referrer_id, max(last_on) as last_referral_on
        from kept_referral_tallies('0001-01-01'::date, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region)
        where direction = 'inbound'
        group by referrer_id
    ),

    referred_fees as (
        select referrer_id, referred_fees
        from referred_fees_by_referrer(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region)
    ),

    investment as (
        select
            referrer_id,
            sum(activities)::bigint as activities,
            sum(hours)              as investment_hours,
            sum(cost)               as investment_cost
        from kept_activity_tallies(p_start, p_end, p_team, p_office, p_referrer_type, p_region)
        group by referrer_id
    ),

    who_knows as (
        select
            referrer_id,
            count(distinct (fee_earner_id, contact_id)) as relationship_count,
            count(distinct fee_earner_id)               as fee_earners_who_know,
            max(strength)                               as max_strength
        from relationships_
        group by referrer_id
    ),

    facts as (
        select
            r.referrer_id,
            r.name,
            r.referrer_type,
            coalesce(i.referrals, 0)               as referrals,
            coalesce(i.won, 0)                     as won,
            coalesce(i.lost, 0)                    as lost,
            coalesce(i.declined, 0)                as declined,
            coalesce(i.open, 0)                    as open,
            coalesce(f.referred_fees, 0)           as referred_fees,
            coalesce(v.investment_hours, 0)        as investment_hours,
            coalesce(v.investment_cost, 0)         as investment_cost,
            coalesce(v.activities, 0)              as activities,
            coalesce(i.outbound_referrals, 0)      as outbound_referrals,
            l.last_referral_on,
            -- prune rule: any inbound referral in the 24 months to `end`, whatever the window's start
            coalesce(l.last_referral_on >= cast(p_end::date - interval 24 month + interval 1 day as date), false)
                                                   as referred_in_last_24_months,
            coalesce(w.relationship_count, 0)      as relationship_count,
            coalesce(w.fee_earners_who_know, 0)    as fee_earners_who_know,
            w.max_strength
        from referrers_ as r
        left join in_window as i on i.referrer_id = r.referrer_id
        left join last_referral as l on l.referrer_id = r.referrer_id
        left join referred_fees as f on f.referrer_id = r.referrer_id
        left join investment as v on v.referrer_id = r.referrer_id
        left join who_knows as w on w.referrer_id = r.referrer_id
    ),

    fee_rank as (
        -- `before`: the share of referred fees held by the referrers ranked above, added up in whole
        -- cents: float sums carry noise in their last bits, and a referrer who starts at exactly half
        -- of all fees must not land on Level 4 by it
        select
            referrer_id,
            coalesce(
                sum(cents) over (
                    order by cents desc, referrer_id
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ) / sum(cents) over () as share_before
        from (select referrer_id, round(referred_fees * 100)::bigint as cents from facts where referred_fees > 0)
    ),

    levelled as (
        select
            facts.*,
            case
                when fee_rank.share_before < 0.5 then 4
                when fee_rank.share_before < 0.8 then 3
                when fee_rank.share_before is not null then 2
                when facts.referrals > 0 then 1
                when facts.relationship_count > 0 or facts.activities > 0 then 1
            end as suggested_level
        from facts
        left join fee_rank on fee_rank.referrer_id = facts.referrer_id
    )

    select
        referrer_id,
        name,
        referrer_type,
        referrals,
        won,
        lost,
        declined,
        open,
        won / nullif(won + lost + declined, 0)            as conversion_rate,
        referred_fees,
        investment_hours,
        investment_cost,
        referred_fees / nullif(investment_cost, 0)        as ror,
        outbound_referrals,
        referrals - outbound_referrals                    as reciprocity_balance,
        last_referral_on,
        12 * (year(p_end::date) - year(last_referral_on))
            + (month(p_end::date) - month(last_referral_on)) as months_since_last_referral,
        relationship_count,
        fee_earners_who_know,
        max_strength,
        suggested_level,
        investment_cost > 0
            and not referred_in_last_24_months
            and coalesce(suggested_level, 0) <> 4         as prune_candidate
    from levelled;
