{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('activity_date') }}",
    tags=['daily'],
) }}
{#- Browsing of known customers, one row per customer and day: the unit the feature windows sum over. -#}
with events as (
    select * from {{ ref('stg_shop__web_events') }}
    where customer_id is not null
),

event_types as (
    select * from {{ ref('event_types') }}
),

daily as (
    select
        events.customer_id,
        events.event_date as activity_date,
        count(distinct events.session_id) as sessions,
        count(*) filter (where events.event_type = 'page_view') as page_views,
        count(*) filter (where events.event_type = 'product_view') as product_views,
        count(*) filter (where events.event_type = 'search') as searches,
        count(*) filter (where events.event_type = 'add_to_cart') as add_to_carts,
        count(distinct events.session_id) filter (where event_types.is_conversion)
            as purchase_sessions
    from events
    left join event_types on events.event_type = event_types.event_type
    group by events.customer_id, events.event_date
)

select * from daily
where {{ partition_filter('activity_date') }}
