{#- One row: how much value at risk the retention list covers, against a list of the same length
    chosen by churn probability alone (the high-risk tier's logic), and the total. The asset check
    retention_list_coverage (orchestration/defs/activation.py) reads it. -#}
with customers as (
    select * from {{ ref('customer_360') }}
),

retention_list as (
    select * from {{ ref('retention_list') }}
),

at_risk as (
    select
        customer_id,
        value_at_risk,
        row_number() over (order by churn_probability desc, customer_id asc) as probability_rank
    from customers
    where value_at_risk is not null
),

totals as (
    select
        count(*) as customers_with_value_at_risk,
        coalesce(sum(value_at_risk), 0) as total_value_at_risk
    from at_risk
),

listed as (
    select
        count(*) as list_size,
        coalesce(sum(value_at_risk), 0) as list_value_at_risk
    from retention_list
),

by_probability as (
    select coalesce(sum(at_risk.value_at_risk), 0) as probability_list_value_at_risk
    from at_risk
    cross join listed
    where at_risk.probability_rank <= listed.list_size
)

select
    cast({{ var('retention_list_size') }} as integer) as configured_size,
    cast(listed.list_size as integer) as list_size,
    cast(totals.customers_with_value_at_risk as integer) as customers_with_value_at_risk,
    cast(listed.list_value_at_risk as double) as list_value_at_risk,
    cast(by_probability.probability_list_value_at_risk as double) as probability_list_value_at_risk,
    cast(
        listed.list_value_at_risk / nullif(by_probability.probability_list_value_at_risk, 0) as double
    ) as coverage_ratio,
    cast(totals.total_value_at_risk as double) as total_value_at_risk,
    cast(listed.list_value_at_risk / nullif(totals.total_value_at_risk, 0) as double) as list_share_of_total
from listed
cross join totals
cross join by_probability
