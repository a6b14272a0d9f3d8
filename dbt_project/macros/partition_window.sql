{#- Incremental models by day. Dagster passes the days of the partitions being refreshed as the
    vars partition_start and partition_end (inclusive dates); the model deletes those days and
    inserts them again, so re-running a day replaces exactly that day. Without the vars (a plain
    `dbt build`) an incremental run rebuilds every day. dbt's delete+insert strategy is not used:
    it deletes only the days present in the new rows, so a day whose rows all vanished would keep
    its old rows (measured; see the description of fct_orders). -#}
{% macro partition_filter(column) -%}
    {%- if is_incremental() and var('partition_start', none) is not none -%}
        {{ column }} between cast('{{ var("partition_start") }}' as date)
            and cast('{{ var("partition_end") }}' as date)
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
