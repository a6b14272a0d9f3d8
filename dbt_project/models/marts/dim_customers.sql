with customers as (
    select * from {{ ref('int_customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

lifetime as (
    select
        customer_id,
        min(ordered_at) filter (where is_purchase) as first_order_at,
        max(ordered_at) filter (where is_purchase) as last_order_at,
        count(*) filter (where is_purchase) as lifetime_orders,
        coalesce(sum(net_amount) filter (where is_revenue), 0) as lifetime_revenue
    from orders
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.signup_at,
        customers.signup_date,
        customers.country,
        customers.acquisition_channel,
        customers.email_hash,
        customers.name_hash,
        customers.email_domain,
        lifetime.first_order_at,
        lifetime.last_order_at,
        coalesce(lifetime.lifetime_orders, 0) as lifetime_orders,
        coalesce(lifetime.lifetime_revenue, 0) as lifetime_revenue
    from customers
    left join lifetime on customers.customer_id = lifetime.customer_id
)

select * from final
