{#-
  materialized='publish': expose the synthetic table named in config publish.from to the
  recipient's schema and role, only if its stored privacy verdict passed (fail-closed gate).
  publish.related ({published table: synthetic model}) adds the child tables of a release
  group: all are published in one transaction with PRIMARY/FOREIGN KEYs, or none is.
-#}
{% materialization publish, adapter='synthdb' %}
  {%- set pub = config.get('publish') -%}
  {%- if pub is not mapping or not pub.get('from') or not pub.get('recipient') -%}
    {{ exceptions.raise_compiler_error("synthdb: model " ~ model.name ~ ": config publish needs 'from' (the synthetic model) and 'recipient'") }}
  {%- endif -%}
  {%- set staging_relation = ref(pub.get('from')) -%}
  {%- set related = {} -%}
  {%- if pub.get('related') is not none and pub.get('related') is not mapping -%}
    {{ exceptions.raise_compiler_error("synthdb: model " ~ model.name ~ ": config publish.related must map each published table name to its synthetic model, e.g. {'flights': 'synthetic_flights'}") }}
  {%- endif -%}
  {%- for table, synth_model in (pub.get('related') or {}).items() -%}
    {%- do related.update({table: ref(synth_model)}) -%}
  {%- endfor -%}
  {%- set target_relation = this.incorporate(type='table') -%}

  {#- dbt's contract check (names, types, count) against the rows to be published, before
      anything is exposed; grants, not_null constraints and persist_docs are applied by
      synthdb in the publishing transaction (synthdb.release.dbt_configs) -#}
  {%- if config.get('contract') and config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent('select * from ' ~ staging_relation) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks) }}
  {%- set result = adapter.synthdb_publish(model, graph, staging_relation, target_relation, invocation_id, related) -%}
  {%- for warning in result.get('warnings', []) %}
  {{ log("synthdb: WARNING: " ~ warning, info=True) }}
  {%- endfor %}
  {%- for table in result['tables'] %}
  {{ log("synthdb: published " ~ table['relation'] ~ " in database " ~ result['destination'] ~ " version " ~ table['version'] ~ " (" ~ table['rows'] ~ " rows) to role " ~ result['role'] ~ "; evidence in " ~ table['evidence'], info=True) }}
  {%- endfor %}
  {% call statement('main') -%}
    select {{ result['version'] | int }} as release_version
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
