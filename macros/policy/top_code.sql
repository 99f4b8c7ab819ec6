{#- Cap large values at `cap`: values above it become `cap`; NULL stays NULL (unlike
    least(), which in PostgreSQL ignores NULLs and would turn NULL into cap). -#}
{% macro top_code(col, cap) -%}
({{ adapter.dispatch('top_code', 'synthdb')(col, cap) }} /* synthdb:policy=top_code */)
{%- endmacro %}

{% macro default__top_code(col, cap) -%}
case when {{ col }} > {{ cap }} then {{ cap }} else {{ col }} end
{%- endmacro %}

{% macro postgres__top_code(col, cap) -%}
case when {{ col }} > {{ cap }} then {{ cap }} else {{ col }} end
{%- endmacro %}
