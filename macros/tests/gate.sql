{#- Helpers shared by the synthdb generic tests: read the verdict stored for a table's run. -#}

{% macro synthdb_run_id_sql(model) -%}
  (obj_description(to_regclass('{{ (model | string) | replace("'", "''") }}'), 'pg_class')::json ->> 'synthdb_run_id')
{%- endmacro %}

{#- Rows (one per problem) when the stored metrics of `check` for this table's run did not pass. -#}
{% macro synthdb_stored_failures(model, check) -%}
  {%- set audit = adapter.quote(adapter.synthdb_audit_schema()) -%}
  select 'stored verdict: ' || m.check_name || '.' || m.metric || ' = '
         || coalesce(round(m.value::numeric, 4)::text, 'null')
         || ' (threshold ' || coalesce(round(m.threshold::numeric, 4)::text, '-') || ') failed' as failure
  from {{ audit }}.metrics m
  where m.run_id = {{ synthdb.synthdb_run_id_sql(model) }}
    and m.check_name = '{{ check }}' and m.passed is false
  union all
  select 'no stored {{ check }} metrics for the run that produced this table (fail-closed)' as failure
  where not exists (
    select 1 from {{ audit }}.metrics m
    where m.run_id = {{ synthdb.synthdb_run_id_sql(model) }} and m.check_name = '{{ check }}'
  )
{%- endmacro %}

{% macro synthdb_column_list(columns) -%}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- for c in columns -%}{{ adapter.quote(c) }}{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}

{#- The relation a test should read. A `publish` model's table lives in the release
    destination (another database, outside production's boundary), which dbt's connection
    cannot reach; its rows are the staged table it was copied from (publish checks that), so
    tests attached to a publish model read that staged table and its stored verdict. -#}
{% macro synthdb_tested_relation(model) -%}
  {%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
          and node.relation_name == (model | string) and node.config.materialized == 'publish' -%}
      {%- set staged_from = (node.config.publish or {}).get('from') -%}
      {%- for staged in graph.nodes.values() if staged.resource_type == 'model'
            and staged.name == staged_from -%}
        {{ return(api.Relation.create(database=staged.database, schema=staged.schema,
                                      identifier=staged.alias)) }}
      {%- endfor -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(model) }}
{%- endmacro %}
