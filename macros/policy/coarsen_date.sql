{#- Truncate a date or timestamp to the first day of its week (ISO, Monday), month, quarter or
    year; the result is a date. NULL stays NULL. -#}
{% macro coarsen_date(col, grain='month') -%}
{%- if grain not in ['week', 'month', 'quarter', 'year'] -%}
  {{ exceptions.raise_compiler_error("coarsen_date: grain must be one of week, month, quarter, year; got '" ~ grain ~ "'") }}
{%- endif -%}
({{ adapter.dispatch('coarsen_date', 'synthdb')(col, grain) }} /* synthdb:policy=coarsen_date */)
{%- endmacro %}

{% macro default__coarsen_date(col, grain) -%}
cast({{ dbt.date_trunc(grain, col) }} as date)
{%- endmacro %}

{% macro postgres__coarsen_date(col, grain) -%}
date_trunc('{{ grain }}', ({{ col }})::timestamp)::date
{%- endmacro %}
