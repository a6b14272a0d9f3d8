{#- Audience: customers who review the shop's products well, for brand exposure (reviews,
    referrals, user-generated content). To add an audience, copy a file of this folder (see
    repurchase_promotion.sql). -#}

-- Thresholds: at least this many reviews, with at least this mean rating (stars, 1 to 5).
{%- set min_reviews = 2 %}
{%- set min_mean_rating = 4.5 %}

with features as (
    select * from {{ ref('customer_features') }}
),

members as (
    select
        customer_id,
        as_of_date,
        review_count,
        mean_rating,
        days_since_last_review
    from features
    where review_count >= {{ min_reviews }} and mean_rating >= {{ min_mean_rating }}
)

select
    customer_id,
    'brand_exposure' as audience,
    'wrote ' || review_count || ' reviews, mean rating ' || round(mean_rating, 1)
    || '; last review ' || days_since_last_review || ' days ago' as reason,
    'invite to share a review or refer a friend' as suggested_action,
    -- first the most prolific, best and most recent reviewers
    row_number() over (
        order by review_count desc, mean_rating desc, days_since_last_review asc, customer_id asc
    ) as priority,
    {{ in_control_group("'brand_exposure'", 'customer_id') }} as in_control_group,
    as_of_date
from members
