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

  {{ run_hooks(pre_hooks) }}
  {%- set result = adapter.synthdb_synthesize(model, graph, source_relation, target_relation, invocation_id) -%}
  {{ log("synthdb: " ~ model.name ~ " wrote " ~ result["rows"] ~ " synthetic rows (run " ~ result["run_id"] ~ ", timings " ~ tojson(result["timings"]) ~ ", gate " ~ ("passed" if result['passed'] else "FAILED: " ~ (result['failed_metrics'] | join(', '))) ~ ")", info=True) }}
  {% call statement('main') -%}
    select {{ result['rows'] | int }} as synthetic_rows
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
