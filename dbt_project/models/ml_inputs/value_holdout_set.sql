{#- Lifetime value's holdout: the features as of the latest labelled cutoff, with the orders and
    revenue each buyer really placed in the following horizon. -#}
with labelled as (
    select * from {{ ref('churn_training_set') }}
),

final as (
    select * from labelled
    where as_of_date = (select max(labelled_cutoffs.as_of_date) from labelled as labelled_cutoffs)
)

select * from final
-- stored in key order, the order the ML steps read it in (read_asset)
order by customer_id
