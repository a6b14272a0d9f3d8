{#- Every audience in one table (models/activation/audiences/*.sql): one row per customer and
    audience, with a readable reason, the suggested action, the priority within the audience and
    whether the customer is held out as a control group. The columns are a dbt contract
    (_activation__models.yml), so CRM imports can rely on them. Add a new audience's model to
    this list. -#}
{%- set audience_models = [
    'repurchase_promotion',
    'personalised_recommendations',
    'brand_exposure',
    'retention_care',
    'win_back',
] %}

{% for audience_model in audience_models %}
    select
        cast(customer_id as varchar) as customer_id,
        cast(audience as varchar) as audience,
        cast(reason as varchar) as reason,
        cast(suggested_action as varchar) as suggested_action,
        cast(priority as integer) as priority,
        cast(in_control_group as boolean) as in_control_group,
        cast(as_of_date as date) as as_of_date
    from {{ ref(audience_model) }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
