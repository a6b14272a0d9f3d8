{#- Audience: customers at high risk of churning (churn_scores.risk_tier = 'high': the top
    risk_high_share of buyers by churn probability), for retention care. To add an audience,
    copy a file of this folder (see repurchase_promotion.sql). -#}

-- Threshold: the churn model's risk tier.
{%- set risk_tier = 'high' %}

with customers as (
    select * from {{ ref('customer_360') }}
),

members as (
    select *
    from customers
    where risk_tier = '{{ risk_tier }}'
)

select
    customer_id,
    'retention_care' as audience,
    'churn probability ' || round(churn_probability, 2) || ' (risk tier {{ risk_tier }})'
    || coalesce('; expected revenue ' || round(expected_revenue, 2), '')
    || '; main reason: ' || {{ churn_reason_text('churn_reason') }} as reason,
    'contact before they leave: service check-in and a retention offer' as suggested_action,
    -- first the customers with the most revenue at stake (churn probability x expected revenue)
    row_number() over (
        order by value_at_risk desc nulls last, churn_probability desc, customer_id asc
    ) as priority,
    {{ in_control_group("'retention_care'", 'customer_id') }} as in_control_group,
    as_of_date
from members
