{#- Customers as the source has them: country and channel normalised, e-mail and name
    pseudonymized. Customers seen only on order lines are added in int_customers. -#}
with source as (
    select * from {{ source('raw', 'customers') }}
),

renamed as (
    select
        customer_id,
        signup_at,
        upper(trim(country)) as country,
        lower(trim(acquisition_channel)) as acquisition_channel,
        {{ pseudonymize('email') }} as email_hash,
        {{ pseudonymize("coalesce(first_name, '') || ' ' || coalesce(last_name, '')") }} as name_hash,
        lower(split_part(trim(email), '@', 2)) as email_domain
    from source
)

select * from renamed
