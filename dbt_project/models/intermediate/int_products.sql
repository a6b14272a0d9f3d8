{{ config(materialized='view') }}
{#- Products from stg_shop__products, plus every product id sold on an order line that the source
    lacks (all of them when no products source is configured): name, category and brand from the
    lines, price the median unit price of the lines that are not refunds. -#}
with products as (
    select * from {{ ref('stg_shop__products') }}
),

sold as (
    select
        product_id,
        any_value(trim(product_name)) as product_name,
        coalesce(any_value(trim(category)), 'uncategorized') as category,
        any_value(trim(brand)) as brand,
        cast(median(unit_price) filter (where not is_refund) as double) as price,
        min(ordered_at) as created_at
    from {{ ref('int_order_items') }}
    where product_id is not null
    group by product_id
)

select
    product_id,
    product_name,
    category,
    brand,
    price,
    created_at
from products
union all
select
    sold.product_id,
    sold.product_name,
    sold.category,
    sold.brand,
    sold.price,
    sold.created_at
from sold
anti join products on sold.product_id = products.product_id
