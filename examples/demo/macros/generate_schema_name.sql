{#- Use a model's custom schema name as given (share contracts, staging and recipient schemas
    have fixed, reviewable names), falling back to the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
