{#- Salted SHA-256 of a normalised value: joins across tables still work, the raw value never leaves staging. -#}
{% macro pseudonymize(column) -%}
    case when {{ column }} is null or trim({{ column }}) = '' then null
         else sha256('{{ env_var("PII_SALT", var("pii_salt_default")) }}' || lower(trim({{ column }})))
    end
{%- endmacro %}
