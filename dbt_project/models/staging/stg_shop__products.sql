with source as (
    select * from {{ source('raw', 'products') }}
),

renamed as (
    select
        cast(product_id as varchar) as product_id,
        trim(product_name) as product_name,
        trim(category) as category,
        trim(brand) as brand,
        cast(price as double) as price,
        cast(created_at as timestamp) as created_at
    from source
)

select * from renamed
