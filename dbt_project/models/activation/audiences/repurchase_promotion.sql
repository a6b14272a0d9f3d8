{#- Audience: frequent repeat buyers who are not lapsed, for a repurchase promotion.
    One of the audience models (this folder): each returns customer_id, audience, reason,
    suggested_action, priority, in_control_group, as_of_date, and ../audiences.sql unions them.
    To add an audience: copy this file to <name>.sql, change the thresholds, the filter, the
    reason and the priority order, add it to the list in ../audiences.sql and to the audience
    accepted values and model docs in _audiences__models.yml. -#}

-- Thresholds: top share of repeat buyers by orders per year; "not lapsed" = the days since
-- the last order are at most this many usual gaps between orders.
{%- set top_frequency_share = 0.2 %}
{%- set max_recency_to_gap = 1.0 %}

with features as (
    select * from {{ ref('customer_features') }}
),

repeat_buyers as (
    select
        customer_id,
        as_of_date,
        frequency,
        orders_per_year,
        recency_days,
        mean_days_between_orders,
        percent_rank() over (order by orders_per_year desc) as frequency_rank_share
    from features
    where frequency >= 2
),

members as (
    select *
    from repeat_buyers
    where
        frequency_rank_share < {{ top_frequency_share }}
        and recency_days <= {{ max_recency_to_gap }} * mean_days_between_orders
)

select
    customer_id,
    'repurchase_promotion' as audience,
    'ordered ' || frequency || ' times, every ' || round(mean_days_between_orders)::integer
    || ' days on average; last order ' || recency_days || ' days ago' as reason,
    'send a repurchase offer before the next order is due' as suggested_action,
    -- first the customers closest to their next order (most of their usual gap elapsed)
    row_number() over (
        order by recency_days / greatest(mean_days_between_orders, 1) desc, customer_id asc
    ) as priority,
    {{ in_control_group("'repurchase_promotion'", 'customer_id') }} as in_control_group,
    as_of_date
from members
