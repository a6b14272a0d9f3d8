{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('order_date') }}",
    tags=['daily'],
) }}
with items as (
    select * from {{ ref('int_order_items') }}
),

-- The orders of the days built, from the table fct_orders already holds them in (built first):
-- int_orders, a view, would group every order line of every day to find them.
orders as (
    select * from {{ ref('fct_orders') }}
),

products as (
    select * from {{ ref('int_products') }}
),

joined as (
    select
        items.order_id,
        items.line_number,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.is_cancelled,
        orders.is_returned,
        orders.is_refund,
        orders.is_purchase,
        orders.is_revenue,
        items.product_id,
        products.category,
        products.brand,
        items.quantity,
        items.unit_price,
        items.discount_amount,
        items.gross_amount,
        items.net_amount
    from items
    inner join orders on items.order_id = orders.order_id
    left join products on items.product_id = products.product_id
)

select * from joined
where {{ partition_filter('order_date') }}
