{#- One row of counts that say whether the data can support each model; the models' own rules
    (ml/) read them to skip with a reason instead of failing. -#}
with features as (
    select * from {{ ref('customer_features') }}
),

labels as (
    select * from {{ ref('churn_labels') }}
),

value_holdout as (
    select * from {{ ref('value_holdout_set') }}
),

interactions as (
    select * from {{ ref('customer_product_interactions') }}
),

buyers as (
    select count(*) filter (where frequency > 0) as buyers from features
),

churn as (
    select
        count(distinct as_of_date) as labelled_cutoffs,
        count(distinct churned) as churn_outcomes
    from labels
),

value as (
    select count(*) filter (where frequency > 1) as repeat_buyers_at_holdout from value_holdout
),

warm_customers as (
    select distinct customer_id from interactions
    where
        purchases_before_holdout > 0
        or add_to_carts_before_holdout > 0
        or views_before_holdout > 0
),

recommender as (
    -- holdout buyers: those who bought in the holdout period and had interactions before it
    -- (the customers the recommender's evaluation asks)
    select
        count(distinct interactions.product_id) as products,
        count(distinct interactions.customer_id) filter (
            where interactions.purchases_in_holdout > 0 and warm_customers.customer_id is not null
        ) as holdout_buyers
    from interactions
    left join warm_customers on interactions.customer_id = warm_customers.customer_id
),

final as (
    select
        buyers.buyers,
        churn.labelled_cutoffs,
        churn.churn_outcomes,
        value.repeat_buyers_at_holdout,
        recommender.products,
        recommender.holdout_buyers
    from buyers
    cross join churn
    cross join value
    cross join recommender
)

select * from final
