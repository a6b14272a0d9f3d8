{#- Segmentation's rows: the latest features, with every fifth customer (a stable hash of the
    id, so the same customers across refreshes) held out to measure the clusters on. -#}
with features as (
    select * from {{ ref('customer_features') }}
),

final as (
    select
        *,
        hash(customer_id) % 5 = 0 as in_holdout
    from features
)

select * from final
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id
