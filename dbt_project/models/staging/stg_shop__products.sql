{#- Products as the source has them, names trimmed and price cast to double. Products sold on
    order lines that the source lacks are added in int_products. -#}
with source as (
    select * from {{ source('raw', 'products') }}
),

renamed as (
    select
        product_id,
        trim(product_name) as product_name,
        coalesce(trim(category), 'uncategorized') as category,
        trim(brand) as brand,
        cast(price as double) as price,
        created_at
    from source
)

select * from renamed
