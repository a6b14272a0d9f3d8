{#- One row per segment, for both segmentations (the behavioural clusters and the RFM grid):
    how many customers, their share of revenue, mean churn risk and predicted value, the
    categories they spend most on, and what to do: the audience (scores.audiences) most of its
    members fall in, with that audience's suggested action. -#}
with segments as (
    select * from {{ source('scores', 'customer_segments') }}
),

churn as (
    select * from {{ source('scores', 'churn_scores') }}
),

customer_value as (
    select * from {{ source('scores', 'customer_value') }}
),

features as (
    select * from {{ ref('customer_features') }}
),

audiences as (
    select * from {{ ref('audiences') }}
),

items as (
    select * from {{ ref('fct_order_items') }}
    where is_revenue and category is not null
),

customer_segment as (
    select
        customer_id,
        'behavioural' as segment_type,
        segment
    from segments
    union all
    select
        customer_id,
        'rfm' as segment_type,
        rfm_segment as segment
    from segments
),

per_customer as (
    select
        customer_segment.segment_type,
        customer_segment.segment,
        customer_segment.customer_id,
        features.monetary,
        churn.churn_probability,
        customer_value.expected_revenue
    from customer_segment
    inner join features on customer_segment.customer_id = features.customer_id
    left join churn on customer_segment.customer_id = churn.customer_id
    left join customer_value on customer_segment.customer_id = customer_value.customer_id
),

category_revenue as (
    select
        customer_segment.segment_type,
        customer_segment.segment,
        items.category,
        sum(items.net_amount) as revenue
    from customer_segment
    inner join items on customer_segment.customer_id = items.customer_id
    group by all
),

top_categories as (
    select
        segment_type,
        segment,
        array_to_string(list(category order by revenue desc, category asc)[1:3], ', ')
            as top_categories
    from category_revenue
    where revenue > 0
    group by all
),

audience_members as (
    select
        customer_segment.segment_type,
        customer_segment.segment,
        audiences.audience,
        min(audiences.suggested_action) as suggested_action,
        count(*) as members
    from customer_segment
    inner join audiences on customer_segment.customer_id = audiences.customer_id
    group by all
),

ranked_audiences as (
    select
        *,
        row_number() over (
            partition by segment_type, segment order by members desc, audience asc
        ) as audience_rank
    from audience_members
),

main_audience as (
    select
        segment_type,
        segment,
        audience as main_audience,
        members as main_audience_members,
        suggested_action
    from ranked_audiences
    where audience_rank = 1
),

profiles as (
    select
        segment_type,
        segment,
        count(*) as customers,
        count(*) / sum(count(*)) over (partition by segment_type) as customer_share,
        cast(sum(monetary) as double) as revenue,
        cast(
            coalesce(sum(monetary) / nullif(sum(sum(monetary)) over (partition by segment_type), 0), 0)
            as double
        ) as revenue_share,
        avg(churn_probability) as mean_churn_probability,
        avg(expected_revenue) as mean_expected_revenue
    from per_customer
    group by segment_type, segment
)

select
    profiles.*,
    top_categories.top_categories,
    main_audience.main_audience,
    cast(coalesce(main_audience.main_audience_members, 0) / profiles.customers as double)
        as main_audience_share,
    coalesce(main_audience.suggested_action, 'no targeted audience: regular newsletter only')
        as suggested_action
from profiles
left join top_categories
    on profiles.segment_type = top_categories.segment_type
        and profiles.segment = top_categories.segment
left join main_audience
    on profiles.segment_type = main_audience.segment_type
        and profiles.segment = main_audience.segment
order by profiles.segment_type asc, profiles.customers desc
