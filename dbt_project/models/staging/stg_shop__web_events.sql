with source as (
    select * from {{ source('raw', 'web_events') }}
),

renamed as (
    select
        coalesce(event_id, session_id || '#' || cast(_row_number as varchar)) as event_id,
        session_id,
        nullif(trim(cast(customer_id as varchar)), '') as customer_id,
        lower(trim(event_type)) as event_type,
        cast(event_at as timestamp) as event_at,
        cast(event_at as date) as event_date,
        cast(product_id as varchar) as product_id,
        search_query,
        lower(trim(device)) as device,
        nullif(trim(cast(customer_id as varchar)), '') is null as is_anonymous
    from source
)

select * from renamed
