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

recommender as (
    select
        count(distinct product_id) as products,
        count(distinct customer_id) filter (where purchases_in_holdout > 0) as holdout_buyers
    from interactions
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
