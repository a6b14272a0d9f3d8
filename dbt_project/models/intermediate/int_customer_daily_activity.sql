{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('activity_date') }}",
    tags=['daily'],
) }}
{#- Browsing of known customers, one row per customer and day: the unit the feature windows sum over. -#}
with events as (
    select * from {{ ref('stg_shop__web_events') }}
    -- The days refreshed, on the raw table's own column: DuckDB skips the other days' row groups
    -- (a filter on the derived event_date, or on activity_date after the group by, reads them all).
    where customer_id is not null and {{ partition_filter('event_at') }}
),

event_types as (
    select * from {{ ref('event_types') }}
),

-- Per session first, then per day: two distinct counts over every event cost twice as long.
session_days as (
    select
        events.customer_id,
        events.event_date,
        events.session_id,
        count(*) filter (where events.event_type = 'page_view') as page_views,
        count(*) filter (where events.event_type = 'product_view') as product_views,
        count(*) filter (where events.event_type = 'search') as searches,
        count(*) filter (where events.event_type = 'add_to_cart') as add_to_carts,
        coalesce(bool_or(event_types.is_conversion), false) as is_conversion
    from events
    left join event_types on events.event_type = event_types.event_type
    group by events.customer_id, events.event_date, events.session_id
),

daily as (
    select
        customer_id,
        event_date as activity_date,
        -- a session without an id is no session, as count(distinct session_id) had it
        count(session_id) as sessions,
        cast(sum(page_views) as bigint) as page_views,
        cast(sum(product_views) as bigint) as product_views,
        cast(sum(searches) as bigint) as searches,
        cast(sum(add_to_carts) as bigint) as add_to_carts,
        count(session_id) filter (where is_conversion) as purchase_sessions
    from session_days
    group by customer_id, event_date
)

select * from daily
