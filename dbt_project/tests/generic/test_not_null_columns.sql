{#-
    Generic model test: none of the listed columns holds a null. One scan of the model for all of
    them (instead of one not_null test, query and Dagster check per column); a failing row per
    column with nulls names it: column_name, null_rows. Named <model>__not_null in the yml:
        data_tests:
          - not_null_columns:
              name: customer_features__not_null
              arguments: {columns: [customer_id, as_of_date]}
-#}
{% test not_null_columns(model, columns) %}
with null_counts as (
    select
        {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as null_rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)

{% for column in columns %}
select
    '{{ column }}' as column_name,
    null_rows_{{ loop.index }} as null_rows
from null_counts
where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endtest %}
