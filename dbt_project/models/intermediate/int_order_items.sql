{{ config(materialized='view') }}
{#- One row per order line, with the flags of the line's status read from the seed
    order_statuses (the one place the status vocabulary is defined). -#}
with lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

statuses as (
    select * from {{ ref('order_statuses') }}
),

final as (
    select
        lines.order_id,
        lines.line_number,
        lines.customer_id,
        lines.ordered_at,
        lines.order_date,
        lines.status,
        lines.channel,
        lines.currency,
        lines.country,
        lines.product_id,
        lines.product_name,
        lines.category,
        lines.brand,
        lines.quantity,
        lines.unit_price,
        lines.discount_amount,
        lines.gross_amount,
        lines.net_amount,
        coalesce(statuses.is_refund, false) as is_refund,
        coalesce(statuses.is_cancelled, false) as is_cancelled,
        coalesce(statuses.is_returned, false) as is_returned
    from lines
    left join statuses on lines.status = statuses.status
)

select * from final
