{#- Lifetime value's holdout: the features as of the latest labelled cutoff, with the orders and
    revenue each buyer really placed in the following horizon. -#}
with snapshots as (
    select * from {{ ref('customer_feature_snapshots') }}
),

labels as (
    select * from {{ ref('churn_labels') }}
),

latest_cutoff as (
    select max(as_of_date) as as_of_date from labels
),

final as (
    select
        snapshots.*,
        labels.orders_in_horizon,
        labels.revenue_in_horizon,
        labels.horizon_days
    from snapshots
    inner join labels
        on
            snapshots.customer_id = labels.customer_id
            and snapshots.as_of_date = labels.as_of_date
    inner join latest_cutoff on labels.as_of_date = latest_cutoff.as_of_date
)

select * from final
