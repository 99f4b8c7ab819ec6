{#- Keep the first `keep_digits` characters of a postal code and star the rest
    ('02139' -> '021**'), so the value names an area, not a street. NULL stays NULL. -#}
{% macro generalize_zip(col, keep_digits=3) -%}
{%- if (keep_digits | int) < 0 -%}
  {{ exceptions.raise_compiler_error("generalize_zip: keep_digits must be >= 0, got " ~ keep_digits) }}
{%- endif -%}
({{ adapter.dispatch('generalize_zip', 'synthdb')(col, keep_digits | int) }} /* synthdb:policy=generalize_zip */)
{%- endmacro %}

{% macro default__generalize_zip(col, keep_digits) -%}
case when {{ col }} is null then null else
    rpad(substr(trim(cast({{ col }} as varchar(32))), 1, {{ keep_digits }}),
         length(trim(cast({{ col }} as varchar(32)))), '*')
end
{%- endmacro %}

{% macro postgres__generalize_zip(col, keep_digits) -%}
case when {{ col }} is null then null else
    rpad(left(btrim(({{ col }})::text), {{ keep_digits }}), length(btrim(({{ col }})::text)), '*')
end
{%- endmacro %}
