with source as (
    select * from {{ source('raw', 'order_items') }}
),

renamed as (
    select
        cast(order_id as varchar) as order_id,
        cast(line_number as integer) as line_number,
        cast(product_id as varchar) as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as double) as unit_price,
        coalesce(cast(discount as double), 0) as discount_amount,
        cast(quantity as integer) * cast(unit_price as double) as gross_amount,
        cast(quantity as integer) * cast(unit_price as double)
            - coalesce(cast(discount as double), 0) as net_amount
    from source
)

select * from renamed
