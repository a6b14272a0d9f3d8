{#- One wide row per customer for activation (CRM, e-mail, ads): features, segment,
    churn risk and recommended products side by side. -#}
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

recommendations as (
    select
        customer_id,
        string_agg(product_id, ',' order by rank) as recommended_product_ids,
        min(model) as recommendation_model
    from {{ source('scores', 'recommendations') }}
    group by customer_id
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
        churn.churn_probability,
        churn.risk_tier,
        recommendations.recommended_product_ids,
        recommendations.recommendation_model
    from customers
    inner join features on customers.customer_id = features.customer_id
    left join segments on customers.customer_id = segments.customer_id
    left join churn on customers.customer_id = churn.customer_id
    left join recommendations on customers.customer_id = recommendations.customer_id
)

select * from final
