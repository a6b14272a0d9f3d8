{#- Control group membership for an audience: a customer is held out (not contacted) when a
    hash of the audience name and the customer id falls in the first `control_group_share`
    (dbt var, 0.1 by default) of 10,000 buckets. The hash is MD5, which every DuckDB version and
    every language computes the same way: the bucket is the first 15 hex digits of
    md5('<audience>:<customer_id>') read as a number, modulo 10,000 (in Python:
    int(hashlib.md5(f"{audience}:{customer_id}".encode()).hexdigest()[:15], 16) % 10000).
    So the same customer stays in the same group of the same audience across refreshes and
    re-runs (only a change of control_group_share moves customers, and raising it only adds
    members), while membership in different audiences is independent.
    Use: {{ in_control_group("'win_back'", 'features.customer_id') }} -> a boolean. -#}
{% macro control_group_bucket(audience, customer_id) -%}
    (cast('0x' || left(md5({{ audience }} || ':' || cast({{ customer_id }} as varchar)), 15) as bigint) % 10000)
{%- endmacro %}

{% macro in_control_group(audience, customer_id) -%}
    ({{ control_group_bucket(audience, customer_id) }} < {{ var('control_group_share') }} * 10000)
{%- endmacro %}
