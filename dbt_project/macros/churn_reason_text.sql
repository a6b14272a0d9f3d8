{#- A churn reason as people read it. churn_scores.reason_1..3 hold the feature, its value and
    how much it raises the probability: 'recency_days = 143 (+0.21)' becomes
    'recency days is 143, which raises the churn probability by 0.21'. -#}
{% macro churn_reason_text(reason) -%}
    case
        when {{ reason }} is null then 'no single feature stands out'
        else
            replace(trim(split_part({{ reason }}, '=', 1)), '_', ' ') || ' is '
            || trim(split_part(split_part({{ reason }}, '=', 2), '(', 1))
            || coalesce(
                ', which raises the churn probability by '
                || nullif(trim(regexp_extract({{ reason }}, '\(\+?(-?[0-9.]+)\)', 1)), ''),
                ''
            )
    end
{%- endmacro %}
