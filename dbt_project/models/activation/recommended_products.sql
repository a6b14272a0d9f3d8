{#- The recommendations as a shop shows them: each row of scores.recommendations with the
    product's name, category and price, and its reviews (mean rating and count). -#}
with recommendations as (
    select * from {{ source('scores', 'recommendations') }}
),

products as (
    select * from {{ ref('int_products') }}
),

reviews as (
    select * from {{ ref('stg_shop__reviews') }}
),

product_reviews as (
    select
        product_id,
        avg(rating) as mean_rating,
        count(rating) as review_count
    from reviews
    where rating is not null
    group by product_id
)

select
    recommendations.customer_id,
    recommendations.rank,
    recommendations.product_id,
    products.product_name,
    products.category,
    products.price,
    cast(product_reviews.mean_rating as double) as mean_rating,
    coalesce(product_reviews.review_count, 0) as review_count,
    recommendations.score,
    recommendations.model
from recommendations
left join products on recommendations.product_id = products.product_id
left join product_reviews on recommendations.product_id = product_reviews.product_id
order by recommendations.customer_id, recommendations.rank
