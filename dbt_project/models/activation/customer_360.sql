{#- One wide row per customer for activation (CRM, e-mail, ads): features, segments,
    churn risk and its top reason, predicted value, the value at risk (churn probability x
    expected revenue) with its tier, and recommended products side by side. -#}
with features as (
    select * from {{ ref('customer_features') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

segments as (
    select * from {{ source('scores', 'customer_segments') }}
),

churn as (
    select * from {{ source('scores', 'churn_scores') }}
),

customer_value as (
    select * from {{ source('scores', 'customer_value') }}
),

recommendations as (
    select
        customer_id,
        string_agg(product_id, ',' order by rank) as recommended_product_ids,
        arg_min(model, rank) as recommendation_model
    from {{ source('scores', 'recommendations') }}
    group by customer_id
),

at_risk as (
    select
        churn.customer_id,
        churn.churn_probability * customer_value.expected_revenue as value_at_risk,
        -- place in the ranking (0 = most at stake; ties by customer id), and customers ranked
        row_number() over (order by value_at_risk desc, churn.customer_id asc) - 1 as ranked_above,
        count(*) over () as ranked
    from churn
    inner join customer_value on churn.customer_id = customer_value.customer_id
),

at_risk_tiers as (
    select
        customer_id,
        value_at_risk,
        case
            when ranked_above < round({{ var('risk_high_share') }} * ranked) then 'high'
            when
                ranked_above
                < round(({{ var('risk_high_share') }} + {{ var('risk_medium_share') }}) * ranked)
                then 'medium'
            else 'low'
        end as value_at_risk_tier
    from at_risk
),

final as (
    select
        customers.customer_id,
        customers.email_hash,
        customers.country,
        customers.acquisition_channel,
        customers.signup_date,
        features.as_of_date,
        features.tenure_days,
        features.recency_days,
        features.frequency,
        features.monetary,
        features.avg_order_value,
        features.orders_90d,
        features.sessions_30d,
        features.days_since_last_session,
        segments.segment,
        segments.rfm_segment,
        churn.churn_probability,
        churn.risk_tier,
        churn.reason_1 as churn_reason,
        customer_value.p_alive,
        customer_value.expected_orders,
        customer_value.expected_revenue,
        customer_value.expected_next_order_date,
        at_risk_tiers.value_at_risk,
        at_risk_tiers.value_at_risk_tier,
        recommendations.recommended_product_ids,
        recommendations.recommendation_model
    from customers
    inner join features on customers.customer_id = features.customer_id
    left join segments on customers.customer_id = segments.customer_id
    left join churn on customers.customer_id = churn.customer_id
    left join customer_value on customers.customer_id = customer_value.customer_id
    left join at_risk_tiers on customers.customer_id = at_risk_tiers.customer_id
    left join recommendations on customers.customer_id = recommendations.customer_id
)

select * from final
