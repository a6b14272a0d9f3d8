{#- Products from the products source, plus every product id sold on an order line that the source
    lacks (all of them when no products source is configured): name, category and brand from the
    lines, price the median unit price. -#}
with source as (
    select * from {{ source('raw', 'products') }}
),

sold as (
    select
        product_id,
        any_value(trim(product_name)) as product_name,
        coalesce(any_value(trim(category)), 'uncategorized') as category,
        any_value(trim(brand)) as brand,
        median(unit_price) filter (where not is_refund) as price,
        min(ordered_at) as created_at
    from {{ ref('stg_shop__order_lines') }}
    where product_id is not null
    group by product_id
)

select
    product_id,
    trim(product_name) as product_name,
    coalesce(trim(category), 'uncategorized') as category,
    trim(brand) as brand,
    cast(price as double) as price,
    created_at
from source
union all
select
    product_id, product_name, category, brand, cast(price as double) as price, created_at
from sold
anti join source using (product_id)
