with source as (
    select * from {{ source('raw', 'customers') }}
),

renamed as (
    select
        cast(customer_id as varchar) as customer_id,
        cast(signup_at as timestamp) as signup_at,
        cast(signup_at as date) as signup_date,
        upper(trim(country)) as country,
        lower(trim(acquisition_channel)) as acquisition_channel,
        {{ pseudonymize('email') }} as email_hash,
        {{ pseudonymize("coalesce(first_name, '') || ' ' || coalesce(last_name, '')") }} as name_hash,
        lower(split_part(trim(email), '@', 2)) as email_domain
    from source
)

select * from renamed
