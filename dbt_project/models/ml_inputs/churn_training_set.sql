{#- Every labelled feature snapshot with its outcome: churn's training and backtest rows, and
    (at the latest cutoff) lifetime value's holdout. -#}
with snapshots as (
    select * from {{ ref('customer_feature_snapshots') }}
),

labels as (
    select * from {{ ref('churn_labels') }}
),

final as (
    select
        snapshots.*,
        labels.horizon_days,
        labels.horizon_end_date,
        labels.orders_in_horizon,
        labels.revenue_in_horizon,
        labels.churned
    from snapshots
    inner join labels
        on
            snapshots.customer_id = labels.customer_id
            and snapshots.as_of_date = labels.as_of_date
)

select * from final
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id, as_of_date
