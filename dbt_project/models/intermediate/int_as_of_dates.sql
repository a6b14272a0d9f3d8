{#- The feature snapshot dates: the latest (the data's last day, or the var as_of_date for a
    backtest: `dbt build --vars '{as_of_date: 2026-01-31}'`), then earlier cutoffs H days apart.
    Features for a snapshot only see rows strictly before cutoff_at (the day after as_of_date). -#}
{%- set horizon = var('churn_horizon_days') | int -%}
{%- set as_of = var('as_of_date', none) -%}
{%- if as_of %}
    {#- Parsed here, so a typo fails the build with the value instead of reaching the SQL. -#}
    {%- set as_of = modules.datetime.date.fromisoformat(as_of | string) -%}
{%- endif %}

with orders as (
    select * from {{ ref('int_orders') }}
),

events as (
    select * from {{ ref('stg_shop__web_events') }}
),

data_bounds as (
    select greatest(
        (select max(order_date) from orders),
        coalesce((select max(event_date) from events), (select max(order_date) from orders))
    ) as data_last_day
),

bounds as (
    select
        data_last_day,
        {% if as_of %}date '{{ as_of.isoformat() }}'{% else %}data_last_day{% endif %} as latest_as_of
    from data_bounds
),

snapshots as (
    select
        cast(t.k as integer) as snapshot_index,
        cast(bounds.latest_as_of - cast(t.k * {{ horizon }} as integer) as date) as as_of_date,
        bounds.data_last_day
    from bounds
    cross join range(0, {{ var('feature_snapshots') | int }}) as t (k)
)

select
    snapshot_index,
    as_of_date,
    cast(as_of_date + 1 as timestamp) as cutoff_at,
    {{ horizon }} as horizon_days,
    data_last_day
from snapshots
