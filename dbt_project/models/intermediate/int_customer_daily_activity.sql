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

daily as (
    select
        customer_id,
        event_date as activity_date,
        count(distinct session_id) as sessions,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(distinct session_id) filter (where event_type = 'purchase') as purchase_sessions
    from events
    group by customer_id, event_date
)

select * from daily
where {{ partition_filter('activity_date') }}
