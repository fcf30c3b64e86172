-- The scorecard's rows as a table macro, so that the scorecard and the
-- tiering queries (tier_assignments, tiering, service_levels, prioritisation)
-- share one definition of every column, the suggested level included
-- (metrics.md "Referrer scorecard" and "Suggested tier"). One row per
-- referrer kept by the filters, unordered. Reads the contract tables through
-- the filter macros only (never the store's tables: those are registered
-- per query, and a macro is created once per connection).

-- metrics.md "Suggested tier" in two parts, shared by the scorecard and referrer_levels below.
-- `before`: the share of referred fees held by the referrers ranked above (most fees first, ties by
-- referrer_id) among the rows it runs over (the referrers with fees above 0), added up in whole cents:
-- float sums carry noise in their last bits, and a referrer who starts at exactly half of all fees
-- must not land on Level 4 by it.
create or replace macro fee_share_before(cents, referrer_id) as
    coalesce(
        sum(cents) over (order by cents desc, referrer_id rows between unbounded preceding and 1 preceding),
        0
    ) / sum(cents) over ();

-- The level from `before` (null without fees) and the window's other signs of a relationship.
create or replace macro suggested_level_rule(share_before, referrals, relationship_count, activities) as
    case
        when share_before < 0.5 then 4
        when share_before < 0.8 then 3
        when share_before is not null then 2
        when referrals > 0 then 1
        when relationship_count > 0 or activities > 0 then 1
    end;

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
        select referrer_id, fee_share_before(cents, referrer_id) as share_before
        from (select referrer_id, round(referred_fees * 100)::bigint as cents from facts where referred_fees > 0)
    ),

    levelled as (
        select
            facts.*,
            suggested_level_rule(fee_rank.share_before, facts.referrals, facts.relationship_count,
                                 facts.activities) as suggested_level
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


-- Every kept referrer's suggested level without the rest of the scorecard (kpi_measures): the same
-- fees, inbound referrals, activities and relationships, counted only as far as the rule looks at them.
create or replace macro referrer_levels(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as table
    with

    referrers_ as (
        select referrer_id
        from kept_referrers(p_referrer_type, p_region)
    ),

    fee_rank as (
        select f.referrer_id, fee_share_before(round(f.referred_fees * 100)::bigint, f.referrer_id) as share_before
        from referred_fees_by_referrer(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region) as f
        join referrers_ as r on r.referrer_id = f.referrer_id
        where f.referred_fees > 0
    ),

    referrals_ as (
        select referrer_id, sum(referrals) filter (where direction = 'inbound') as referrals
        from kept_referral_tallies(p_start, p_end, p_team, p_office, p_work_type, p_referrer_type, p_region)
        group by referrer_id
    ),

    activities_ as (
        select referrer_id, sum(activities) as activities
        from kept_activity_tallies(p_start, p_end, p_team, p_office, p_referrer_type, p_region)
        group by referrer_id
    ),

    related as (
        select referrer_id, count(*) as relationships
        from kept_relationships(p_team, p_office, p_referrer_type, p_region)
        group by referrer_id
    )

    select
        r.referrer_id,
        suggested_level_rule(f.share_before, coalesce(i.referrals, 0), coalesce(k.relationships, 0),
                             coalesce(v.activities, 0)) as suggested_level
    from referrers_ as r
    left join fee_rank as f on f.referrer_id = r.referrer_id
    left join referrals_ as i on i.referrer_id = r.referrer_id
    left join activities_ as v on v.referrer_id = r.referrer_id
    left join related as k on k.referrer_id = r.referrer_id;
