{#-
  materialized='publish': expose the synthetic table named in config publish.from to the
  recipient's schema and role, only if its stored privacy verdict passed (fail-closed gate).
-#}
{% materialization publish, adapter='synthdb' %}
  {%- set pub = config.get('publish') -%}
  {%- if pub is not mapping or not pub.get('from') or not pub.get('recipient') -%}
    {{ exceptions.raise_compiler_error("synthdb: model " ~ model.name ~ ": config publish needs 'from' (the synthetic model) and 'recipient'") }}
  {%- endif -%}
  {%- set staging_relation = ref(pub.get('from')) -%}
  {%- set target_relation = this.incorporate(type='table') -%}

  {#- dbt's contract check (names, types, count) against the rows to be published, before
      anything is exposed; grants, not_null constraints and persist_docs are applied by
      synthdb in the publishing transaction (synthdb.release.dbt_configs) -#}
  {%- if config.get('contract') and config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent('select * from ' ~ staging_relation) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks) }}
  {%- set result = adapter.synthdb_publish(model, graph, staging_relation, target_relation, invocation_id) -%}
  {%- for warning in result.get('warnings', []) %}
  {{ log("synthdb: WARNING: " ~ warning, info=True) }}
  {%- endfor %}
  {{ log("synthdb: published " ~ result['relation'] ~ " in database " ~ result['destination'] ~ " version " ~ result['version'] ~ " (" ~ result['rows'] ~ " rows) to role " ~ result['role'] ~ "; evidence in " ~ result['evidence'], info=True) }}
  {% call statement('main') -%}
    select {{ result['version'] | int }} as release_version
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
