{#- Replace every non-NULL value with a constant (default '[REDACTED]'); NULL stays NULL so
    the column still says whether a value was present. Pass replacement=none to drop that too. -#}
{% macro redact(col, replacement='[REDACTED]') -%}
({{ adapter.dispatch('redact', 'synthdb')(col, replacement) }} /* synthdb:policy=redact */)
{%- endmacro %}

{% macro default__redact(col, replacement) -%}
{%- if replacement is none -%}
cast(null as varchar(16))
{%- else -%}
case when {{ col }} is null then null else '{{ replacement | replace("'", "''") }}' end
{%- endif -%}
{%- endmacro %}

{% macro postgres__redact(col, replacement) -%}
{%- if replacement is none -%}
null::text
{%- else -%}
case when {{ col }} is null then null::text else '{{ replacement | replace("'", "''") }}'::text end
{%- endif -%}
{%- endmacro %}
