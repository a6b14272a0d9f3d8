{#- Order lines with the ids a bare transactions file lacks derived: an order per customer and
    timestamp, line numbers in file order. Amounts: `amount` when the source has it, otherwise
    quantity x unit_price - discount. Money stays DECIMAL as loaded, so sums are exact and the
    same on every run (parallel sums of doubles differ in the last bits from run to run). -#}
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
        unit_price,
        coalesce(discount, 0) as discount_amount,
        amount,
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
    coalesce(unit_price, cast(amount / nullif(coalesce(quantity, 1), 0) as decimal(18, 4)))
        as unit_price,
    discount_amount,
    coalesce(amount + discount_amount, quantity * unit_price) as gross_amount,
    coalesce(amount, quantity * unit_price - discount_amount) as net_amount
from derived
