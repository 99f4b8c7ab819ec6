{#- Floor small values at `floor`: values below it become `floor`; NULL stays NULL. -#}
{% macro bottom_code(col, floor) -%}
({{ adapter.dispatch('bottom_code', 'synthdb')(col, floor) }} /* synthdb:policy=bottom_code */)
{%- endmacro %}

{% macro default__bottom_code(col, floor) -%}
case when {{ col }} < {{ floor }} then {{ floor }} else {{ col }} end
{%- endmacro %}

{% macro postgres__bottom_code(col, floor) -%}
case when {{ col }} < {{ floor }} then {{ floor }} else {{ col }} end
{%- endmacro %}
