{#- Replace a number by the label of its bucket. Give exactly one of
    width: equal-width half-open buckets [lo, lo+width) labelled 'lo-hi', e.g. '100-200';
    edges: a sorted list of breakpoints, labelled '<e0', 'e0-e1', ..., 'eN+'.
    NULL stays NULL. The result is text. -#}
{% macro bucket(col, edges=none, width=none) -%}
{%- if (edges is none) == (width is none) -%}
  {{ exceptions.raise_compiler_error("bucket: give exactly one of edges= or width= (column " ~ col ~ ")") }}
{%- endif -%}
{%- if edges is not none and (edges | length == 0 or edges != (edges | sort)) -%}
  {{ exceptions.raise_compiler_error("bucket: edges must be a non-empty ascending list, got " ~ edges) }}
{%- endif -%}
{%- if width is not none and width <= 0 -%}
  {{ exceptions.raise_compiler_error("bucket: width must be positive, got " ~ width) }}
{%- endif -%}
(
{%- if width is not none -%}
{{ adapter.dispatch('bucket_width_label', 'synthdb')(col, width) }}
{%- else -%}
case
    when {{ col }} is null then null
    when {{ col }} < {{ edges[0] }} then '<{{ edges[0] }}'
{%- for i in range(edges | length - 1) %}
    when {{ col }} < {{ edges[i + 1] }} then '{{ edges[i] }}-{{ edges[i + 1] }}'
{%- endfor %}
    else '{{ edges[-1] }}+'
end
{%- endif %} /* synthdb:policy=bucket */)
{%- endmacro %}

{#- The label 'lo-hi' of an equal-width bucket: the only part of bucket whose SQL (the cast to
    text) differs between databases. -#}
{% macro default__bucket_width_label(col, width) -%}
case when {{ col }} is null then null else
    cast(floor(cast({{ col }} as numeric) / {{ width }}) * {{ width }} as varchar(64))
    || '-' ||
    cast(floor(cast({{ col }} as numeric) / {{ width }}) * {{ width }} + {{ width }} as varchar(64))
end
{%- endmacro %}

{% macro postgres__bucket_width_label(col, width) -%}
case when {{ col }} is null then null else
    (floor(({{ col }})::numeric / {{ width }}) * {{ width }})::text
    || '-' ||
    (floor(({{ col }})::numeric / {{ width }}) * {{ width }} + {{ width }})::text
end
{%- endmacro %}
