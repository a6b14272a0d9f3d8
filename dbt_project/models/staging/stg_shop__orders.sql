{#- One row per order, from its lines. A refund (a return invoice, or negative lines) is an order
    of its own with status `refund` and a negative amount. -#}
with lines as (
    select * from {{ ref('stg_shop__order_lines') }}
)

select
    order_id,
    any_value(customer_id) as customer_id,
    min(ordered_at) as ordered_at,
    cast(min(ordered_at) as date) as order_date,
    case when bool_and(is_refund) then 'refund' else min(status) filter (where not is_refund) end
        as status,
    any_value(channel) as channel,
    any_value(currency) as currency,
    bool_and(status = 'cancelled') as is_cancelled,
    bool_or(status = 'returned') as is_returned,
    bool_and(is_refund) as is_refund
from lines
group by order_id
