{#- The product categories, read from the warehouse when the model runs (empty at parse time),
    with a column-safe slug for each: used to pivot spend into one column per category. -#}
{% macro product_categories() -%}
    {%- if not execute or var('lint_without_warehouse', false) -%}{{ return([]) }}{%- endif -%}
    {%- set query -%}
        select distinct category from {{ ref('int_products') }} where category is not null order by 1
    {%- endset -%}
    {%- set rows = run_query(query).columns[0].values() -%}
    {%- set categories = [] -%}
    {%- for name in rows -%}
        {%- set slug = modules.re.sub('[^a-z0-9]+', '_', name | lower).strip('_') -%}
        {%- do categories.append({'name': name, 'slug': slug}) -%}
    {%- endfor -%}
    {{ return(categories) }}
{%- endmacro %}
