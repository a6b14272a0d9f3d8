{#- Audience: customers who browse a lot but buy little, for personalised recommendations
    (scores.recommended_products). To add an audience, copy a file of this folder (see
    repurchase_promotion.sql). -#}

-- Thresholds: browsing in the last 90 days (either enough sessions or enough product views),
-- and at most this many orders ever.
{%- set min_sessions_90d = 8 %}
{%- set min_product_views_90d = 25 %}
{%- set max_orders = 1 %}

with features as (
    select * from {{ ref('customer_features') }}
),

members as (
    select
        customer_id,
        as_of_date,
        frequency,
        sessions_90d,
        product_views_90d
    from features
    where
        frequency <= {{ max_orders }}
        and (sessions_90d >= {{ min_sessions_90d }} or product_views_90d >= {{ min_product_views_90d }})
)

select
    customer_id,
    'personalised_recommendations' as audience,
    sessions_90d || ' sessions and ' || product_views_90d || ' product views in 90 days; '
    || frequency || (case when frequency = 1 then ' order' else ' orders' end) || ' ever' as reason,
    'send personalised product recommendations (scores.recommended_products)' as suggested_action,
    -- first the most engaged browsers
    row_number() over (
        order by product_views_90d desc, sessions_90d desc, customer_id asc
    ) as priority,
    {{ in_control_group("'personalised_recommendations'", 'customer_id') }} as in_control_group,
    as_of_date
from members
