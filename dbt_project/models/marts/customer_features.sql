{#- One row per customer as of the data's last day (snapshot 0 of int_as_of_dates). The features
    are defined in the macro customer_feature_rows; customer_feature_snapshots adds the earlier
    dates, for training. -#}
-- depends_on: {{ ref('int_products') }} (categories are read when the model runs)
with latest as (
    {{ customer_feature_rows('snapshot_index = 0') }}
)

select * exclude (snapshot_index)
from latest
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id
