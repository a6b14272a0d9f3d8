{#- Measured uplift of each past campaign: treated customers (sent) against the campaign's
    control group (held out), on the orders placed in the campaign_window_days (dbt var, 30 by
    default) after each customer's send: conversion (at least one order) and net revenue per
    customer, each with a 95% confidence interval (normal approximation; unpooled standard error
    for the rate difference, Welch's for the revenue difference). Campaigns without a control
    group get null uplift. -#}

-- z for a two-sided 95% interval
{%- set z = 1.959963984540054 %}
{%- set window_days = var('campaign_window_days') %}

with sends as (
    select * from {{ ref('stg_shop__campaign_sends') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

data_last_day as (
    select cast(max(ordered_at) as date) as last_day from orders
),

-- one row per campaign and customer: the first send; held out if any row says so
recipients as (
    select
        campaign_id,
        customer_id,
        min(sent_at) as sent_at,
        bool_or(is_control) as is_control,
        min(audience) as audience
    from sends
    where customer_id is not null
    group by campaign_id, customer_id
),

outcomes as (
    select
        recipients.campaign_id,
        recipients.customer_id,
        recipients.sent_at,
        recipients.is_control,
        recipients.audience,
        coalesce(bool_or(orders.is_purchase), false) as converted,
        cast(coalesce(sum(orders.net_amount) filter (where orders.is_revenue), 0) as double) as revenue
    from recipients
    left join orders
        on
            recipients.customer_id = orders.customer_id
            and orders.ordered_at >= recipients.sent_at
            and orders.ordered_at < recipients.sent_at + to_days({{ window_days }})
    group by all
),

arms as (
    select
        campaign_id,
        min(audience) as audience,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at,
        count(*) filter (where not is_control) as treated_customers,
        count(*) filter (where is_control) as control_customers,
        avg(cast(converted as integer)) filter (where not is_control) as treated_conversion_rate,
        avg(cast(converted as integer)) filter (where is_control) as control_conversion_rate,
        avg(revenue) filter (where not is_control) as treated_revenue_per_customer,
        avg(revenue) filter (where is_control) as control_revenue_per_customer,
        var_samp(revenue) filter (where not is_control) as treated_revenue_variance,
        var_samp(revenue) filter (where is_control) as control_revenue_variance
    from outcomes
    group by campaign_id
),

estimates as (
    select
        arms.*,
        data_last_day.last_day,
        case when arms.control_customers > 0 and arms.treated_customers > 0
                then arms.treated_conversion_rate - arms.control_conversion_rate
        end as conversion_uplift,
        case when arms.control_customers > 0 and arms.treated_customers > 0
                then sqrt(
                        arms.treated_conversion_rate * (1 - arms.treated_conversion_rate) / arms.treated_customers
                        + arms.control_conversion_rate * (1 - arms.control_conversion_rate) / arms.control_customers
                    )
        end as conversion_standard_error,
        case when arms.control_customers > 0 and arms.treated_customers > 0
                then arms.treated_revenue_per_customer - arms.control_revenue_per_customer
        end as revenue_uplift_per_customer,
        sqrt(
            arms.treated_revenue_variance / arms.treated_customers
            + arms.control_revenue_variance / arms.control_customers
        ) as revenue_standard_error
    from arms
    cross join data_last_day
)

select
    cast(campaign_id as varchar) as campaign_id,
    cast(audience as varchar) as audience,
    cast(first_sent_at as date) as first_sent_date,
    cast(last_sent_at as date) as last_sent_date,
    cast({{ window_days }} as integer) as window_days,
    cast(last_sent_at + to_days({{ window_days }}) <= cast(last_day + 1 as timestamp) as boolean)
        as outcome_complete,
    cast(treated_customers as bigint) as treated_customers,
    cast(control_customers as bigint) as control_customers,
    cast(treated_conversion_rate as double) as treated_conversion_rate,
    cast(control_conversion_rate as double) as control_conversion_rate,
    cast(conversion_uplift as double) as conversion_uplift,
    cast(conversion_uplift - {{ z }} * conversion_standard_error as double) as conversion_uplift_ci_low,
    cast(conversion_uplift + {{ z }} * conversion_standard_error as double) as conversion_uplift_ci_high,
    cast(treated_revenue_per_customer as double) as treated_revenue_per_customer,
    cast(control_revenue_per_customer as double) as control_revenue_per_customer,
    cast(revenue_uplift_per_customer as double) as revenue_uplift_per_customer,
    cast(revenue_uplift_per_customer - {{ z }} * revenue_standard_error as double) as revenue_uplift_ci_low,
    cast(revenue_uplift_per_customer + {{ z }} * revenue_standard_error as double) as revenue_uplift_ci_high,
    cast(
        conversion_uplift - {{ z }} * conversion_standard_error > 0
        or conversion_uplift + {{ z }} * conversion_standard_error < 0
        as boolean
    ) as significant,
    cast(
        revenue_uplift_per_customer - {{ z }} * revenue_standard_error > 0
        or revenue_uplift_per_customer + {{ z }} * revenue_standard_error < 0
        as boolean
    ) as revenue_significant
from estimates
order by first_sent_date, campaign_id
