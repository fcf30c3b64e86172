-- name: table_counts
-- purpose: what the loaded data directory holds: rows and date range per table
-- grain: one row per contract table, unfiltered and whatever the window
with

spans as (
    select 'referrers' as table_name, count(*) as rows, min(first_seen_on) as first_on, max(first_seen_on) as last_on from referrers
    union all select 'contacts', count(*), null, null from contacts
    union all select 'contact_moves', count(*), min(moved_on), max(moved_on) from contact_moves
    union all select 'fee_earners', count(*), null, null from fee_earners
    union all select 'relationships', count(*), min(since_on), max(last_contact_on) from relationships
    union all select 'referrals', count(*), min(referred_on), max(referred_on) from referrals
    union all select 'matters', count(*), min(opened_on), max(opened_on) from matters
    union all select 'fees', count(*), min(billed_on), max(billed_on) from fees
    union all select 'activities', count(*), min(occurred_on), max(occurred_on) from activities
    union all select 'touchpoints', count(*), min(touched_at)::date, max(touched_at)::date from touchpoints
    union all select 'work_type_targets', count(*), min(effective_from), max(effective_from) from work_type_targets
)

select table_name, rows, first_on, last_on
from spans
