{#-
    Generic model test: none of the `not_null` columns holds a null, and every non-null value of
    each `ranges` column lies within its bounds (min_value and max_value, inclusive, either
    optional; dbt_utils' accepted_range for one column). One scan of the model for all of them,
    one dbt node and one Dagster check per model (instead of one per column, or one per rule).
    A failing row per column and rule at fault names it: column_name, rule ('not null' or
    'in range'), failing_rows, and the lowest and highest value out of range. Named
    <model>__columns in the yml, with a suffix for a group with its own severity or where:
        data_tests:
          - column_rules:
              name: customer_features__columns
              arguments:
                not_null: [customer_id, as_of_date]
                ranges:
                  frequency: {min_value: 0}
                  cancel_rate: {min_value: 0, max_value: 1}
-#}
{% test column_rules(model, not_null=[], ranges={}) %}
{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append((column, 'not null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
    {%- set outside -%}
        {{ column }} is not null and (false
        {%- if bounds.get('min_value') is not none %} or {{ column }} < {{ bounds['min_value'] }}{% endif %}
        {%- if bounds.get('max_value') is not none %} or {{ column }} > {{ bounds['max_value'] }}{% endif -%}
        )
    {%- endset -%}
    {%- do checks.append((column, 'in range', outside)) -%}
{%- endfor %}
with failing as (
    select
        {%- for column, rule, failing in checks %}
        count(*) filter (where {{ failing }}) as rows_{{ loop.index }},
        {%- if rule == 'not null' %}
        cast(null as varchar) as lowest_{{ loop.index }},
        cast(null as varchar) as highest_{{ loop.index }}
        {%- else %}
        cast(min({{ column }}) filter (where {{ failing }}) as varchar) as lowest_{{ loop.index }},
        cast(max({{ column }}) filter (where {{ failing }}) as varchar) as highest_{{ loop.index }}
        {%- endif %}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)

{% for column, rule, failing in checks %}
select
    '{{ column }}' as column_name,
    '{{ rule }}' as rule,
    rows_{{ loop.index }} as failing_rows,
    lowest_{{ loop.index }} as lowest,
    highest_{{ loop.index }} as highest
from failing
where rows_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endtest %}
