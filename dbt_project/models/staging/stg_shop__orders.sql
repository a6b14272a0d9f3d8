with source as (
    select * from {{ source('raw', 'orders') }}
),

renamed as (
    select
        cast(order_id as varchar) as order_id,
        cast(customer_id as varchar) as customer_id,
        cast(ordered_at as timestamp) as ordered_at,
        cast(ordered_at as date) as order_date,
        lower(trim(status)) as status,
        lower(trim(channel)) as channel,
        upper(trim(currency)) as currency,
        lower(trim(status)) = 'cancelled' as is_cancelled,
        lower(trim(status)) = 'returned' as is_returned
    from source
)

select * from renamed
