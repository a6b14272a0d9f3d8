{#- The feature snapshot dates: the data's last day, then earlier cutoffs H days apart.
    Features for a snapshot only see rows strictly before cutoff_at (the day after as_of_date). -#}
{%- set horizon = var('churn_horizon_days') | int -%}

with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

events as (
    select * from {{ ref('stg_shop__web_events') }}
),

bounds as (
    select greatest(
        (select max(order_date) from orders),
        coalesce((select max(event_date) from events), (select max(order_date) from orders))
    ) as data_last_day
),

snapshots as (
    select
        cast(k as integer) as snapshot_index,
        cast(data_last_day - cast(k * {{ horizon }} as integer) as date) as as_of_date,
        data_last_day
    from bounds
    cross join range(0, {{ var('feature_snapshots') | int }}) as t(k)
)

select
    snapshot_index,
    as_of_date,
    cast(as_of_date + 1 as timestamp) as cutoff_at,
    {{ horizon }} as horizon_days,
    data_last_day
from snapshots
