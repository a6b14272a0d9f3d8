{#- Audience: lapsed but valuable customers, for a win-back campaign. To add an audience, copy
    a file of this folder (see repurchase_promotion.sql). -#}

-- Thresholds: lapsed = no order for longer than the churn horizon (dbt var churn_horizon_days);
-- valuable = net spend in the top share of buyers (0.25 = the top quartile).
{%- set lapsed_after_days = var('churn_horizon_days') %}
{%- set top_monetary_share = 0.25 %}

with features as (
    select * from {{ ref('customer_features') }}
),

buyers as (
    select
        customer_id,
        as_of_date,
        recency_days,
        frequency,
        monetary,
        quantile_cont(monetary, 1 - {{ top_monetary_share }}) over () as monetary_threshold
    from features
    where frequency > 0
),

members as (
    select *
    from buyers
    where recency_days > {{ lapsed_after_days }} and monetary >= monetary_threshold
)

select
    customer_id,
    'win_back' as audience,
    'no order for ' || recency_days || ' days (lapsed after {{ lapsed_after_days }}); spent '
    || round(monetary, 2) || ' over ' || frequency || ' orders (top '
    || round({{ top_monetary_share }} * 100)::integer || '% of buyers)' as reason,
    'win-back offer: a personal discount on their favourite category' as suggested_action,
    -- first the customers who spent the most
    row_number() over (order by monetary desc, recency_days asc, customer_id asc) as priority,
    {{ in_control_group("'win_back'", 'customer_id') }} as in_control_group,
    as_of_date
from members
