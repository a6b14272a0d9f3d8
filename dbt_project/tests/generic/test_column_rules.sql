{#-
    Generic model test: every rule a model's columns must keep, in one dbt node and one Dagster
    check per model (instead of one per column and rule). Each argument is optional:
      not_null         columns that hold no null;
      ranges           columns whose non-null values lie within min_value and max_value
                       (inclusive, either optional; dbt_utils' accepted_range);
      accepted_values  columns whose non-null values are among the listed strings
                       (dbt's accepted_values);
      unique           keys that identify a row: a column (its non-null values are unique, as
                       dbt's unique) or a list of columns (their combination is unique, nulls
                       included);
      references       columns whose non-null values exist in the same-named column of another
                       model or seed (dbt's relationships; the value is the relation, e.g.
                       "ref('dim_customers')");
      window           the row's day or time (a date or timestamp column or expression; a
                       column the model passes through from a table lets DuckDB skip the
                       other days' rows instead of reading all of them): a command that refreshes
                       some days (Dagster's partitions; macro run_window) checks the rules on
                       those days' rows only (and the rows without a day), and the keys that
                       occur in them against the whole table. The other days' rows were checked
                       when their days were refreshed; a command for every day checks every row.
    The not-null, range and accepted-value rules share one scan of the model; each key and
    reference is one more query in the same statement. A failing row per column and rule at fault
    names it: column_name, rule ('not null', 'in range', 'accepted values', 'unique', 'references
    <relation>'), failing_rows (rows out of range or not accepted, rows whose key repeats, rows
    without a match), and the lowest and highest value at fault. Named <model>__columns in the
    yml, with a suffix for a group with its own severity or where:
        data_tests:
          - column_rules:
              name: customer_features__columns
              arguments:
                not_null: [customer_id, as_of_date]
                ranges:
                  frequency: {min_value: 0}
                  cancel_rate: {min_value: 0, max_value: 1}
                accepted_values:
                  risk_tier: [low, medium, high]
                unique: [customer_id, [customer_id, as_of_date]]
                references:
                  customer_id: "ref('dim_customers')"
-#}
{% test column_rules(model, not_null=[], ranges={}, accepted_values={}, unique=[], references={}, window=none) %}
{%- set changed = (run_window(window) | trim) if window is not none else 'true' -%}
{%- if changed != 'true' -%}
    {#- A row without a day belongs to no day: every command checks it. -#}
    {%- set changed = '(' ~ changed ~ ' or ' ~ window ~ ' is null)' -%}
{%- endif -%}
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
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do checks.append((column, 'accepted values', column ~ ' is not null and ' ~ column ~ ' not in (' ~ quoted | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- set keys = [] -%}
{%- for key in unique -%}
    {%- if key is string -%}
        {%- do keys.append((key, [key], key ~ ' is not null')) -%}
    {%- else -%}
        {%- do keys.append((key | join(', '), key, 'true')) -%}
    {%- endif -%}
{%- endfor -%}
{%- if not (checks or keys or references) -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rule given (not_null, ranges, accepted_values, unique or references)") }}
{%- endif -%}
{%- set ctes = [] -%}
{%- set parts = [] -%}
{%- if checks -%}
{%- set cte %}
failing as (
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
    where {{ changed }}
)
{%- endset %}
{%- do ctes.append(cte) -%}
{%- endif -%}
{%- for column, rule, failing in checks %}
{%- set part %}
select
    '{{ column }}' as column_name,
    '{{ rule }}' as rule,
    rows_{{ loop.index }} as failing_rows,
    lowest_{{ loop.index }} as lowest,
    highest_{{ loop.index }} as highest
from failing
where rows_{{ loop.index }} > 0
{%- endset %}
{%- do parts.append(part) -%}
{%- endfor -%}
{%- for name, columns, counted in keys %}
{%- set cte %}
repeated_{{ loop.index }} as (
    select concat_ws(', ', {{ columns | join(', ') }}) as key_value, count(*) as n
    from {{ model }} as keyed
    where {{ counted }}
    {%- if changed != 'true' %}
        and exists (
            select 1 from {{ model }} as changed_rows
            where {{ changed }}
            {%- for column in columns %}
                and changed_rows.{{ column }} is not distinct from keyed.{{ column }}
            {%- endfor %}
        )
    {%- endif %}
    group by {{ columns | join(', ') }}
    having count(*) > 1
)
{%- endset %}
{%- do ctes.append(cte) -%}
{%- set part %}
select
    '{{ name }}' as column_name,
    'unique' as rule,
    cast(sum(n) as bigint) as failing_rows,
    min(key_value) as lowest,
    max(key_value) as highest
from repeated_{{ loop.index }}
having count(*) > 0
{%- endset %}
{%- do parts.append(part) -%}
{%- endfor -%}
{%- for column, relation in references.items() %}
{%- set cte %}
unmatched_{{ loop.index }} as (
    select checked.{{ column }} as value
    from {{ model }} as checked
    where checked.{{ column }} is not null
        and {{ changed }}
        and not exists (
            select 1 from {{ relation }} as referenced
            where referenced.{{ column }} = checked.{{ column }}
        )
)
{%- endset %}
{%- do ctes.append(cte) -%}
{%- set part %}
select
    '{{ column }}' as column_name,
    'references {{ (relation | string).split('.')[-1] | replace('"', '') }}' as rule,
    count(*) as failing_rows,
    cast(min(value) as varchar) as lowest,
    cast(max(value) as varchar) as highest
from unmatched_{{ loop.index }}
having count(*) > 0
{%- endset %}
{%- do parts.append(part) -%}
{%- endfor %}
with
{{ ctes | join(',\n') }}

{{ parts | join('\nunion all\n') }}
{% endtest %}
