{{ config(materialized='view') }}
{#- One row per order, from its lines. A refund (a return invoice, or negative lines) is an order
    of its own whose status is the refund status. Whether an order counts as a purchase and as
    revenue is read from the seed order_statuses: the one definition fct_orders and
    fct_order_items (and everything downstream) share. -#}
with items as (
    select * from {{ ref('int_order_items') }}
),

statuses as (
    select * from {{ ref('order_statuses') }}
),

orders as (
    select
        order_id,
        any_value(customer_id) as customer_id,
        min(ordered_at) as ordered_at,
        cast(min(ordered_at) as date) as order_date,
        case
            when bool_and(is_refund) then min(status)
            else min(status) filter (where not is_refund)
        end as status,
        any_value(channel) as channel,
        any_value(currency) as currency,
        bool_and(is_cancelled) as is_cancelled,
        bool_or(is_returned) as is_returned,
        bool_and(is_refund) as is_refund
    from items
    group by order_id
),

final as (
    select
        orders.*,
        -- a purchase counts as an order; revenue is completed orders net of refunds
        coalesce(statuses.counts_as_purchase, false) as is_purchase,
        coalesce(statuses.counts_as_revenue, false) as is_revenue
    from orders
    left join statuses on orders.status = statuses.status
)

select * from final
