{#- Customer features as of each snapshot date in int_as_of_dates, for churn training and the
    lifetime-value holdout: the earlier dates computed here by the macro customer_feature_rows,
    the latest (snapshot 0) taken from customer_features, which every refresh builds. A refresh
    that trains no model does not build this model. -#}
-- depends_on: {{ ref('int_products') }} (categories are read when the model runs)
with earlier as (
    {{ customer_feature_rows('snapshot_index > 0') }}
),

latest as (
    select * from {{ ref('customer_features') }}
)

select * from earlier
union all by name
select
    *,
    0 as snapshot_index
from latest
