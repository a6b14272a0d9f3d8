{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_partition_window('order_date') }}",
    tags=['daily'],
) }}
with orders as (
    select * from {{ ref('int_orders') }}
),

items as (
    select * from {{ ref('int_order_items') }}
),

order_totals as (
    select
        order_id,
        count(*) as n_lines,
        sum(quantity) as n_units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(net_amount) as net_amount
    from items
    group by order_id
),

final as (
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.channel,
        orders.currency,
        orders.is_cancelled,
        orders.is_returned,
        orders.is_refund,
        orders.is_purchase,
        orders.is_revenue,
        coalesce(order_totals.n_lines, 0) as n_lines,
        coalesce(order_totals.n_units, 0) as n_units,
        coalesce(order_totals.gross_amount, 0) as gross_amount,
        coalesce(order_totals.discount_amount, 0) as discount_amount,
        coalesce(order_totals.net_amount, 0) as net_amount
    from orders
    left join order_totals on orders.order_id = order_totals.order_id
)

select * from final
where {{ partition_filter('order_date') }}
