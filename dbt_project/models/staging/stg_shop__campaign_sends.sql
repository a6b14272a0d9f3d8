{#- The campaign log: one row per customer sent to or held out, per campaign. -#}
with source as (
    select * from {{ source('raw', 'campaign_sends') }}
),

renamed as (
    select
        trim(campaign_id) as campaign_id,
        cast(customer_id as varchar) as customer_id,
        nullif(lower(trim(audience)), '') as audience,
        cast(sent_at as timestamp) as sent_at,
        cast(sent_at as date) as sent_date,
        coalesce(is_control, false) as is_control
    from source
)

select * from renamed
