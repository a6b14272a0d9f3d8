with lines as (
    select * from {{ ref('stg_shop__order_lines') }}
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    discount_amount,
    gross_amount,
    net_amount
from lines
