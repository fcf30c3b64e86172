-- name: journey_kept_by_filters
-- purpose: which of the window's conversions the filters keep, as kept_journey_facts (and so
--          journey_codes) keeps them: team and work type by the matter's own, office, referrer type
--          and region through the referral the matter came from. The models cut a filtered view's
--          journeys out of the window's unfiltered ones with it, when those are at hand, instead of
--          reading millions of touchpoints again.
-- grain: one row per conversion (matter opened in the window), by journey
select
    journey,
    filter_keeps($team, team)
        and filter_keeps($work_type, work_type)
        and filter_keeps($office, fact_office)
        and filter_keeps($referrer_type, fact_referrer_type)
        and filter_keeps($region, fact_region) as kept
from journey_conversions
where opened_on between $start and $end
order by journey
