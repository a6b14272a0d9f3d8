{#- Customers from the customers source, plus every customer id seen on an order line that the
    source lacks (all of them when no customers source is configured), signed up at their first
    order. -#}
with source as (
    select * from {{ source('raw', 'customers') }}
),

first_orders as (
    select customer_id, min(ordered_at) as first_order_at, any_value(country) as country
    from {{ ref('stg_shop__order_lines') }}
    where customer_id is not null
    group by customer_id
),

known as (
    select
        source.customer_id,
        coalesce(source.signup_at, first_orders.first_order_at) as signup_at,
        coalesce(upper(trim(source.country)), first_orders.country) as country,
        lower(trim(source.acquisition_channel)) as acquisition_channel,
        {{ pseudonymize('source.email') }} as email_hash,
        {{ pseudonymize("coalesce(source.first_name, '') || ' ' || coalesce(source.last_name, '')") }} as name_hash,
        lower(split_part(trim(source.email), '@', 2)) as email_domain
    from source
    left join first_orders on source.customer_id = first_orders.customer_id
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
    anti join source on source.customer_id = first_orders.customer_id
)

select *, cast(signup_at as date) as signup_date from known where signup_at is not null
union all by name
select *, cast(signup_at as date) as signup_date from seen_on_orders_only
