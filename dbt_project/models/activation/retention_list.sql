{#- The retention list: the retention_list_size (dbt var, 500 by default) customers with the most
    value at risk (churn probability x expected revenue over the value horizon, as customer_360
    computes it), with the main reason for the risk in words and an offer suited to the value
    and the reason. Customers in the control group (macro in_control_group, audience
    'retention_list') stay on the list, flagged: they are not contacted, to measure the effect. -#}

-- Offers: a larger one for more expected revenue (quantiles of expected revenue among the
-- listed customers), a care call when the main reason is about low ratings.
{%- set large_offer_quantile = 0.8 %}
{%- set medium_offer_quantile = 0.5 %}

with churn as (
    select * from {{ source('scores', 'churn_scores') }}
),

customer_value as (
    select * from {{ source('scores', 'customer_value') }}
),

segments as (
    select * from {{ source('scores', 'customer_segments') }}
),

at_risk as (
    select
        churn.customer_id,
        churn.churn_probability,
        customer_value.expected_revenue,
        churn.churn_probability * customer_value.expected_revenue as value_at_risk,
        churn.risk_tier,
        churn.reason_1,
        churn.as_of_date
    from churn
    inner join customer_value on churn.customer_id = customer_value.customer_id
    where churn.churn_probability is not null and customer_value.expected_revenue is not null
),

ranked as (
    select
        *,
        row_number() over (order by value_at_risk desc, customer_id asc) as rank,
        -- the reason's feature name, e.g. 'recency_days' in 'recency_days = 143 (+0.21)'
        trim(split_part(reason_1, '=', 1)) as reason_feature
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
    cast(
        case
            when listed.reason_1 is null then 'no single feature stands out'
            else
                replace(listed.reason_feature, '_', ' ') || ' is '
                || trim(split_part(split_part(listed.reason_1, '=', 2), '(', 1))
                || coalesce(
                    ', which raises the churn probability by '
                    || nullif(trim(regexp_extract(listed.reason_1, '\(\+?(-?[0-9.]+)\)', 1)), ''),
                    ''
                )
        end as varchar
    ) as churn_reason,
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
    cast(segments.segment as varchar) as segment,
    cast({{ in_control_group("'retention_list'", 'listed.customer_id') }} as boolean) as in_control_group,
    cast(listed.as_of_date as date) as as_of_date
from listed
left join segments on listed.customer_id = segments.customer_id
order by listed.rank
