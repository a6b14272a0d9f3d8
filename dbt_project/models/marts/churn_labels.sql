{#- Outcomes for the earlier snapshots: a customer with at least one order before the cutoff
    churned if they place no (non-cancelled) order in the following horizon_days; the orders and
    net revenue in that window are the lifetime-value model's held-out truth. -#}
with snapshots as (
    select * from {{ ref('customer_feature_snapshots') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_dates') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_purchase
),

eligible as (
    select
        snapshots.customer_id,
        snapshots.as_of_date,
        as_of_dates.horizon_days,
        cast(snapshots.as_of_date + as_of_dates.horizon_days as date) as horizon_end_date
    from snapshots
    inner join as_of_dates on snapshots.as_of_date = as_of_dates.as_of_date
    where snapshots.frequency > 0
        and snapshots.as_of_date + as_of_dates.horizon_days <= as_of_dates.data_last_day
),

final as (
    select
        eligible.customer_id,
        eligible.as_of_date,
        eligible.horizon_days,
        eligible.horizon_end_date,
        count(orders.order_id) as orders_in_horizon,
        cast(coalesce(sum(orders.net_amount) filter (where orders.is_revenue), 0) as double)
            as revenue_in_horizon,
        count(orders.order_id) = 0 as churned
    from eligible
    left join orders
        on orders.customer_id = eligible.customer_id
            and orders.order_date > eligible.as_of_date
            and orders.order_date <= eligible.horizon_end_date
    group by all
)

select * from final
