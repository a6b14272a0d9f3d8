{#- Incremental models by day. Dagster passes the days being refreshed (inclusive dates) in the
    environment variables SHOP_PARTITION_START and SHOP_PARTITION_END, not as vars, so every
    invocation of a deployment has the same vars and dbt's partial parsing is not thrown away; a
    person running dbt by hand can pass the vars partition_start and partition_end instead. The
    model deletes those days and inserts them again, so re-running a day replaces exactly that
    day. Without either (a plain `dbt build`) an incremental run rebuilds every day. dbt's
    delete+insert strategy is not used: it deletes only the days present in the new rows, so a day
    whose rows all vanished would keep its old rows (measured; see the description of
    fct_orders). -#}
{% macro partition_filter(column) -%}
    {%- if is_incremental() -%}
        {{ run_window(column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The days this command refreshes, as a filter on a date or timestamp column (`true` when it
    refreshes every day): the incremental models rebuild those days (partition_filter), and
    column_rules tests with a `window` check only those days' rows. A half-open range, not
    `between`: on a timestamp it covers the whole last day, and on a column of a table (or of a
    view that passes it through) DuckDB skips the row groups outside it, where a filter on
    `cast(column as date)` reads every row. -#}
{% macro run_window(column) -%}
    {#- Read only when a node runs: an env_var() read while dbt parses is recorded, and a
        changed value makes dbt parse the nodes that read it again on the next command. -#}
    {%- set start = var('partition_start', env_var('SHOP_PARTITION_START', '') if execute else '') -%}
    {%- set end = var('partition_end', env_var('SHOP_PARTITION_END', '') if execute else '') -%}
    {%- if start -%}
        ({{ column }} >= cast('{{ start }}' as date) and {{ column }} < cast('{{ end }}' as date) + 1)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_partition_window(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ partition_filter(column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
