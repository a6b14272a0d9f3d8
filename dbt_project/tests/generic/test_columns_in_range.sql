{#-
    Generic model test: every non-null value of each listed column lies within its bounds
    (min_value and max_value, inclusive, either optional), as dbt_utils' accepted_range does for
    one column. One scan of the model for all of them; a failing row per column with values out of
    range names it: column_name, out_of_range_rows, and the lowest and highest such value. Named
    <model>__in_range in the yml:
        data_tests:
          - columns_in_range:
              name: customer_features__in_range
              arguments:
                ranges:
                  frequency: {min_value: 0}
                  cancel_rate: {min_value: 0, max_value: 1}
-#}
{% test columns_in_range(model, ranges) %}
with out_of_range as (
    select
        {%- for column, bounds in ranges.items() %}
        {%- set outside -%}
            {{ column }} is not null and (false
            {%- if bounds.get('min_value') is not none %} or {{ column }} < {{ bounds['min_value'] }}{% endif %}
            {%- if bounds.get('max_value') is not none %} or {{ column }} > {{ bounds['max_value'] }}{% endif -%}
            )
        {%- endset %}
        count(*) filter (where {{ outside }}) as rows_{{ loop.index }},
        cast(min({{ column }}) filter (where {{ outside }}) as varchar) as lowest_{{ loop.index }},
        cast(max({{ column }}) filter (where {{ outside }}) as varchar) as highest_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)

{% for column in ranges %}
select
    '{{ column }}' as column_name,
    rows_{{ loop.index }} as out_of_range_rows,
    lowest_{{ loop.index }} as lowest,
    highest_{{ loop.index }} as highest
from out_of_range
where rows_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endtest %}
