{#- Audience: customers at high risk of churning (churn_scores.risk_tier = 'high': the top
    risk_high_share of buyers by churn probability), for retention care. To add an audience,
    copy a file of this folder (see repurchase_promotion.sql). -#}

-- Threshold: the churn model's risk tier.
{%- set risk_tier = 'high' %}

with churn as (
    select * from {{ source('scores', 'churn_scores') }}
),

customer_value as (
    select * from {{ source('scores', 'customer_value') }}
),

members as (
    select
        churn.customer_id,
        churn.as_of_date,
        churn.churn_probability,
        churn.reason_1,
        customer_value.expected_revenue,
        churn.churn_probability * coalesce(customer_value.expected_revenue, 0) as value_at_risk
    from churn
    left join customer_value on churn.customer_id = customer_value.customer_id
    where churn.risk_tier = '{{ risk_tier }}'
)

select
    customer_id,
    'retention_care' as audience,
    'churn probability ' || round(churn_probability, 2) || ' (risk tier {{ risk_tier }})'
    || coalesce('; expected revenue ' || round(expected_revenue, 2), '')
    || coalesce('; main reason: ' || reason_1, '') as reason,
    'contact before they leave: service check-in and a retention offer' as suggested_action,
    -- first the customers with the most revenue at stake (churn probability x expected revenue)
    row_number() over (
        order by value_at_risk desc, churn_probability desc, customer_id asc
    ) as priority,
    {{ in_control_group("'retention_care'", 'customer_id') }} as in_control_group,
    as_of_date
from members
