{#- One row per customer as of the data's last day: the latest feature snapshot. -#}
with snapshots as (
    select * from {{ ref('customer_feature_snapshots') }}
)

select * exclude (snapshot_index)
from snapshots
where snapshot_index = 0
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id
