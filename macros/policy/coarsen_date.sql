{#- Truncate a date or timestamp to its hour, day, ISO week (Monday), month, quarter or year.
    Grains day and coarser return a date; 'hour' returns a timestamp of the input's type
    (timestamp stays timestamp, timestamptz stays timestamptz). NULL stays NULL. -#}
{% macro coarsen_date(col, grain='month') -%}
{%- if grain not in ['hour', 'day', 'week', 'month', 'quarter', 'year'] -%}
  {{ exceptions.raise_compiler_error("coarsen_date: grain must be one of hour, day, week, month, quarter, year; got '" ~ grain ~ "'") }}
{%- endif -%}
({{ adapter.dispatch('coarsen_date', 'synthdb')(col, grain) }} /* synthdb:policy=coarsen_date */)
{%- endmacro %}

{% macro default__coarsen_date(col, grain) -%}
{%- if grain == 'hour' -%}
{{ dbt.date_trunc(grain, col) }}
{%- else -%}
cast({{ dbt.date_trunc(grain, col) }} as date)
{%- endif -%}
{%- endmacro %}

{% macro postgres__coarsen_date(col, grain) -%}
{%- if grain == 'hour' -%}
date_trunc('hour', {{ col }})
{%- else -%}
date_trunc('{{ grain }}', ({{ col }})::timestamp)::date
{%- endif -%}
{%- endmacro %}
