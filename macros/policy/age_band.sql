{#- Age band label from a birth date: '30-39', open top band '90+'; NULL (or a birth date after
    as_of) gives NULL. as_of is a SQL expression (default current_date). -#}
{% macro age_band(birth_date, as_of=none, width=10, top=90) -%}
({{ adapter.dispatch('age_band', 'synthdb')(birth_date, as_of, width, top) }} /* synthdb:policy=age_band */)
{%- endmacro %}

{% macro default__age_band(birth_date, as_of, width, top) -%}
{%- if (width | int) < 1 or (top | int) < 1 -%}
  {{ exceptions.raise_compiler_error("age_band: width and top must be positive integers, got width=" ~ width ~ ", top=" ~ top) }}
{%- endif -%}
{%- set ref_date = as_of if as_of is not none else 'current_date' -%}
{#- whole years between the dates, portable SQL: year difference minus one if the birthday
    has not come yet in the as_of year -#}
{%- set age -%}
(extract(year from {{ ref_date }}) - extract(year from {{ birth_date }})
 - case when extract(month from {{ ref_date }}) * 100 + extract(day from {{ ref_date }})
            < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
        then 1 else 0 end)
{%- endset -%}
case
    when {{ birth_date }} is null then null
    when ({{ birth_date }}) > ({{ ref_date }}) then null
    when {{ age }} >= {{ top | int }} then '{{ top | int }}+'
    else cast(cast(floor({{ age }} / {{ width | int }}) * {{ width | int }} as integer) as varchar(12))
         || '-' ||
         cast(least(cast(floor({{ age }} / {{ width | int }}) * {{ width | int }} as integer) + {{ width | int - 1 }}, {{ top | int - 1 }}) as varchar(12))
end
{%- endmacro %}

{% macro postgres__age_band(birth_date, as_of, width, top) -%}
{%- if (width | int) < 1 or (top | int) < 1 -%}
  {{ exceptions.raise_compiler_error("age_band: width and top must be positive integers, got width=" ~ width ~ ", top=" ~ top) }}
{%- endif -%}
{%- set ref_date = as_of if as_of is not none else 'current_date' -%}
{%- set age = "extract(year from age((" ~ ref_date ~ ")::date, (" ~ birth_date ~ ")::date))::integer" -%}
case
    when {{ birth_date }} is null then null
    when ({{ birth_date }})::date > ({{ ref_date }})::date then null
    when {{ age }} >= {{ top | int }} then '{{ top | int }}+'
    else ({{ age }} / {{ width | int }} * {{ width | int }})::text
         || '-' ||
         least({{ age }} / {{ width | int }} * {{ width | int }} + {{ width | int - 1 }}, {{ top | int - 1 }})::text
end
{%- endmacro %}
