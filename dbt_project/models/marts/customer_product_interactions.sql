{#- What each known customer did with each product: purchases, views and add-to-carts, in total and
    split at the recommender's holdout start (the last recommender_holdout_days days), plus
    time-decayed purchases: each order weighs 0.5 ** (age in days / recommender_decay_half_life_days). -#}
{%- set half_life = var('recommender_decay_half_life_days') | float -%}
{%- if half_life <= 0 %}
    {{ exceptions.raise_compiler_error(
        "recommender_decay_half_life_days must be positive, got " ~ var('recommender_decay_half_life_days')
    ) }}
{%- endif %}

with items as (
    select * from {{ ref('fct_order_items') }}
    where is_purchase and customer_id is not null and product_id is not null
),

events as (
    select * from {{ ref('stg_shop__web_events') }}
    where customer_id is not null
        and product_id is not null
        and event_type in (
            select event_types.event_type from {{ ref('event_types') }} as event_types
            where event_types.is_product_interaction
        )
),

holdout as (
    select
        data_last_day,
        cast(data_last_day - {{ var('recommender_holdout_days') | int }} + 1 as date)
            as holdout_start_date
    from {{ ref('int_as_of_dates') }}
    where snapshot_index = 0
),

-- One row per order with the product (an order can list a product on several lines).
product_orders as (
    select
        customer_id,
        product_id,
        order_id,
        any_value(order_date) as order_date,
        max(ordered_at) as ordered_at,
        sum(quantity) as units,
        sum(net_amount) as revenue
    from items
    group by customer_id, product_id, order_id
),

-- Orders with the product, in total and split at the holdout start, and time-decayed (age in
-- days from the data's last day, and from the day before the holdout start).
purchases as (
    select
        product_orders.customer_id,
        product_orders.product_id,
        count(*) as purchases,
        sum(product_orders.units) as units,
        sum(product_orders.revenue) as revenue,
        max(product_orders.ordered_at) as last_purchased_at,
        count(*) filter (where product_orders.order_date < holdout.holdout_start_date)
            as purchases_before_holdout,
        count(*) filter (where product_orders.order_date >= holdout.holdout_start_date)
            as purchases_in_holdout,
        sum(
            exp(-ln(2) * date_diff('day', product_orders.order_date, holdout.data_last_day) / {{ half_life }})
        ) as decayed_purchases,
        sum(
            exp(
                -ln(2)
                * date_diff('day', product_orders.order_date, holdout.holdout_start_date - 1)
                / {{ half_life }}
            )
        ) filter (where product_orders.order_date < holdout.holdout_start_date)
            as decayed_purchases_before_holdout
    from product_orders
    cross join holdout
    group by product_orders.customer_id, product_orders.product_id
),

browsing as (
    select
        events.customer_id,
        events.product_id,
        count(*) filter (where events.event_type = 'product_view') as views,
        count(*) filter (where events.event_type = 'add_to_cart') as add_to_carts,
        max(events.event_at) as last_browsed_at,
        count(*) filter (
            where events.event_type = 'product_view' and events.event_date < holdout.holdout_start_date
        ) as views_before_holdout,
        count(*) filter (
            where events.event_type = 'add_to_cart' and events.event_date < holdout.holdout_start_date
        ) as add_to_carts_before_holdout
    from events
    cross join holdout
    group by events.customer_id, events.product_id
),

final as (
    select
        coalesce(purchases.customer_id, browsing.customer_id) as customer_id,
        coalesce(purchases.product_id, browsing.product_id) as product_id,
        coalesce(purchases.purchases, 0) as purchases,
        coalesce(purchases.units, 0) as units,
        coalesce(purchases.revenue, 0) as revenue,
        coalesce(browsing.views, 0) as views,
        coalesce(browsing.add_to_carts, 0) as add_to_carts,
        greatest(purchases.last_purchased_at, browsing.last_browsed_at) as last_interaction_at,
        holdout.holdout_start_date,
        coalesce(purchases.purchases_before_holdout, 0) as purchases_before_holdout,
        coalesce(browsing.views_before_holdout, 0) as views_before_holdout,
        coalesce(browsing.add_to_carts_before_holdout, 0) as add_to_carts_before_holdout,
        coalesce(purchases.purchases_in_holdout, 0) as purchases_in_holdout,
        coalesce(purchases.decayed_purchases, 0) as decayed_purchases,
        coalesce(purchases.decayed_purchases_before_holdout, 0) as decayed_purchases_before_holdout
    from purchases
    full outer join browsing
        on purchases.customer_id = browsing.customer_id
            and purchases.product_id = browsing.product_id
    cross join holdout
)

select * from final
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id, product_id
