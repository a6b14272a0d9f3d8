{#- The retention list: the retention_list_size (dbt var, 500 by default) customers with the most
    value at risk (customer_360.value_at_risk: churn probability x expected revenue over the value horizon), with the main reason for the risk in words and an offer suited to the value
    and the reason. Customers in the control group (macro in_control_group, audience
    'retention_list') stay on the list, flagged: they are not contacted, to measure the effect. -#}

-- Offers: a larger one for more expected revenue (quantiles of expected revenue among the
-- listed customers), a care call when the main reason is about low ratings.
{%- set large_offer_quantile = 0.8 %}
{%- set medium_offer_quantile = 0.5 %}

with customers as (
    select * from {{ ref('customer_360') }}
),

at_risk as (
    select
        customer_id,
        churn_probability,
        expected_revenue,
        value_at_risk,
        risk_tier,
        churn_reason,
        segment,
        as_of_date
    from customers
    where value_at_risk is not null
),

ranked as (
    select
        *,
        row_number() over (order by value_at_risk desc, customer_id asc) as rank,
        -- the reason's feature name, e.g. 'recency_days' in 'recency_days = 143 (+0.21)'
        trim(split_part(churn_reason, '=', 1)) as reason_feature
    from at_risk
),

on_list as (
    select * from ranked
    where rank <= {{ var('retention_list_size') }}
),

listed as (
    select
        *,
        quantile_cont(expected_revenue, {{ large_offer_quantile }}) over () as large_offer_revenue,
        quantile_cont(expected_revenue, {{ medium_offer_quantile }}) over () as medium_offer_revenue
    from on_list
)

select
    cast(listed.rank as integer) as rank,
    cast(listed.customer_id as varchar) as customer_id,
    cast(listed.churn_probability as double) as churn_probability,
    cast(listed.expected_revenue as double) as expected_revenue,
    cast(listed.value_at_risk as double) as value_at_risk,
    cast({{ churn_reason_text('listed.churn_reason') }} as varchar) as churn_reason,
    cast(
        case
            when listed.reason_feature ilike '%rating%'
                then 'care call: ask about the low-rated purchase, then a goodwill voucher'
            when listed.expected_revenue >= listed.large_offer_revenue
                then '20% voucher and a personal message'
            when listed.expected_revenue >= listed.medium_offer_revenue
                then '10% voucher'
            else 'free shipping on the next order'
        end as varchar
    ) as suggested_offer,
    cast(listed.risk_tier as varchar) as risk_tier,
    cast(listed.segment as varchar) as segment,
    cast({{ in_control_group("'retention_list'", 'listed.customer_id') }} as boolean) as in_control_group,
    cast(listed.as_of_date as date) as as_of_date
from listed
order by listed.rank
