{#- Order lines with the ids a bare transactions file lacks derived: an order per customer and
    timestamp, line numbers in file order. Amounts: `amount` when the source has it, otherwise
    quantity x unit_price - discount. -#}
with source as (
    select * from {{ source('raw', 'order_lines') }}
),

derived as (
    select
        coalesce(
            order_id,
            coalesce(customer_id, 'anonymous') || '@' || strftime(ordered_at, '%Y-%m-%dT%H:%M:%S')
        ) as order_id,
        line_number,
        customer_id,
        ordered_at,
        status,
        channel,
        currency,
        upper(trim(country)) as country,
        product_id,
        product_name,
        category,
        brand,
        quantity,
        cast(unit_price as double) as unit_price,
        cast(coalesce(discount, 0) as double) as discount_amount,
        cast(amount as double) as amount,
        _source_file,
        _row_number
    from source
)

select
    order_id,
    coalesce(
        line_number,
        row_number() over (partition by order_id order by _source_file, _row_number)
    ) as line_number,
    customer_id,
    ordered_at,
    cast(ordered_at as date) as order_date,
    status,
    lower(trim(channel)) as channel,
    currency,
    country,
    product_id,
    product_name,
    category,
    brand,
    coalesce(quantity, 1) as quantity,
    coalesce(unit_price, amount / nullif(coalesce(quantity, 1), 0)) as unit_price,
    discount_amount,
    coalesce(amount + discount_amount, quantity * unit_price) as gross_amount,
    coalesce(amount, quantity * unit_price - discount_amount) as net_amount,
    status = 'refund' as is_refund
from derived
