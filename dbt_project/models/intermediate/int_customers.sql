{{ config(materialized='view') }}
{#- Customers from stg_shop__customers, plus every customer id seen on an order line that the
    source lacks (all of them when no customers source is configured), signed up at their first
    order. -#}
with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

first_orders as (
    select
        customer_id,
        min(ordered_at) as first_order_at,
        any_value(country) as country
    from {{ ref('stg_shop__order_lines') }}
    where customer_id is not null
    group by customer_id
),

known as (
    select
        customers.customer_id,
        coalesce(customers.signup_at, first_orders.first_order_at) as signup_at,
        coalesce(customers.country, first_orders.country) as country,
        customers.acquisition_channel,
        customers.email_hash,
        customers.name_hash,
        customers.email_domain
    from customers
    left join first_orders on customers.customer_id = first_orders.customer_id
),

seen_on_orders_only as (
    select
        first_orders.customer_id,
        first_orders.first_order_at as signup_at,
        first_orders.country,
        cast(null as varchar) as acquisition_channel,
        cast(null as varchar) as email_hash,
        cast(null as varchar) as name_hash,
        cast(null as varchar) as email_domain
    from first_orders
    anti join customers on first_orders.customer_id = customers.customer_id
)

select
    *,
    cast(signup_at as date) as signup_date
from known
where signup_at is not null
union all by name
select
    *,
    cast(signup_at as date) as signup_date
from seen_on_orders_only
