{#-
  materialized='synthetic': learn from the model named in config synth.source and write
  synthetic rows into this model's (staging) relation, with stored privacy evidence.
  The model body is never run against the source: it should select from {{ this }}, so that
  `dbt show` prints synthetic rows only (DESIGN §2).
-#}
{% materialization synthetic, adapter='synthdb' %}
  {%- set synth = config.get('synth') -%}
  {%- if synth is not mapping or not synth.get('source') -%}
    {{ exceptions.raise_compiler_error("synthdb: model " ~ model.name ~ ": config synth.source is required (the contract model to learn from)") }}
  {%- endif -%}
  {%- set source_name = synth.get('source') -%}
  {%- if '.' in source_name -%}
    {%- set parts = source_name.split('.', 1) -%}
    {%- set source_relation = source(parts[0], parts[1]) -%}
  {%- else -%}
    {%- set source_relation = ref(source_name) -%}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- if config.get('grants') -%}
    {{ exceptions.raise_compiler_error("synthdb: model " ~ model.name ~ ": config grants is not allowed on a synthetic (staging) model: nothing may read a release before the gate and publish; put grants on the publish model") }}
  {%- endif -%}
  {#- an enforced contract is checked (dbt's own check) against the training input's columns,
      which the synthetic table has, before anything is read -#}
  {%- if config.get('contract') and config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent('select * from ' ~ source_relation) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks) }}
  {#- a failed gate raises (red ERROR line) after the staging table and evidence are stored -#}
  {%- set result = adapter.synthdb_synthesize(model, graph, source_relation, target_relation, invocation_id) -%}
  {{ log("synthdb: " ~ model.name ~ " wrote " ~ result["rows"] ~ " synthetic rows (run " ~ result["run_id"] ~ ", gate passed; evidence " ~ result["evidence"] ~ ")", info=True) }}
  {% call statement('main') -%}
    select {{ result['rows'] | int }} as synthetic_rows
  {%- endcall %}
  {#- column descriptions only: the table comment holds the run id the gate reads -#}
  {%- if config.persist_column_docs() and model.columns -%}
    {% do run_query(alter_column_comment(target_relation, model.columns)) %}
    {% do adapter.commit() %}
  {%- endif -%}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
