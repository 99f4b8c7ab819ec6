{#- A fresh random UUID per row, with no consistent mapping: the same input gives a different
    output on every row and every run, so the column cannot link rows or releases. Pass the
    column being replaced (optional) to keep its NULLs NULL and to make the intent readable
    for the lineage lint. -#}
{% macro mask_uuid(col=none) -%}
({{ adapter.dispatch('mask_uuid', 'synthdb')(col) }} /* synthdb:policy=mask_uuid */)
{%- endmacro %}

{% macro default__mask_uuid(col) -%}
{{ exceptions.raise_compiler_error("mask_uuid: no random UUID function known for adapter '" ~ adapter.type() ~ "'; add a <adapter>__mask_uuid macro") }}
{%- endmacro %}

{% macro postgres__mask_uuid(col) -%}
{#- gen_random_uuid() is volatile and in core PostgreSQL since 13; called in the select list it
    runs once per row. Never wrap it in an uncorrelated scalar subquery (that runs once). -#}
{%- if col is none -%}
gen_random_uuid()
{%- else -%}
case when {{ col }} is null then null else gen_random_uuid() end
{%- endif -%}
{%- endmacro %}
