{#- Replace values seen on fewer than `min_count` rows of the whole relation with `other`
    (a window count, so it needs no GROUP BY; it cannot be used in WHERE or GROUP BY).
    The result is text; NULL stays NULL. -#}
{% macro collapse_rare(col, min_count, other='Other') -%}
{%- if (min_count | int) < 1 -%}
  {{ exceptions.raise_compiler_error("collapse_rare: min_count must be a positive integer, got " ~ min_count) }}
{%- endif -%}
({{ adapter.dispatch('collapse_rare', 'synthdb')(col, min_count, other) }} /* synthdb:policy=collapse_rare */)
{%- endmacro %}

{% macro default__collapse_rare(col, min_count, other) -%}
case
    when {{ col }} is null then null
    when count(*) over (partition by {{ col }}) < {{ min_count | int }} then '{{ other | replace("'", "''") }}'
    else cast({{ col }} as varchar(4096))
end
{%- endmacro %}

{% macro postgres__collapse_rare(col, min_count, other) -%}
case
    when {{ col }} is null then null
    when count(*) over (partition by {{ col }}) < {{ min_count | int }} then '{{ other | replace("'", "''") }}'
    else ({{ col }})::text
end
{%- endmacro %}
