{#- Product reviews as the source has them: ids as text, rating as a whole number of stars,
    review text trimmed (kept: it is about the product, not the person). -#}
with source as (
    select * from {{ source('raw', 'reviews') }}
),

renamed as (
    select
        coalesce(review_id, 'row#' || cast(_row_number as varchar)) as review_id,
        cast(customer_id as varchar) as customer_id,
        cast(product_id as varchar) as product_id,
        cast(rating as integer) as rating,
        cast(reviewed_at as timestamp) as reviewed_at,
        cast(reviewed_at as date) as review_date,
        nullif(trim(review_text), '') as review_text
    from source
)

select * from renamed
