{#-
  rare_categories(columns, min_count): no non-NULL value of the given columns occurs fewer than
  min_count times, and the stored rare-category verdict of the producing run passed. Failure
  rows give column and count, never the value itself.

  The per-value counts are computed once by the synthetic step's checks; the smallest count of
  each column is stored with the verdict (rare_categories.rare_values:<column>, details
  min_value_count). Where it is stored the test compares it with its own min_count instead of
  scanning the table; otherwise (a column the run did not check, an older run) it counts.
  With synth.privacy.subject on a deidentify release, the stored verdict also counts distinct subjects per value
  (rare_categories.rare_subject_values:<column>), enforced here through the stored verdict.
-#}
{% test rare_categories(model, columns, min_count=10) %}
{%- set model = synthdb.synthdb_tested_relation(model) %}
{%- set audit = adapter.quote(adapter.synthdb_audit_schema()) -%}
{%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
{% for column in columns %}
{%- set metric = ('rare_values:' ~ column) | replace("'", "''") %}
select '{{ column | replace("'", "''") }}: a value occurs ' || (m.details ->> 'min_value_count') || ' times, fewer than {{ min_count | int }} (stored figure)' as failure
from {{ audit }}.metrics m
where m.run_id = {{ synthdb.synthdb_run_id_sql(model) }} and m.check_name = 'rare_categories'
  and m.metric = '{{ metric }}' and (m.details ->> 'distinct_values')::bigint > 0
  and (m.details ->> 'min_value_count')::bigint < {{ min_count | int }}
union all
select '{{ column | replace("'", "''") }}: a value occurs ' || n || ' times, fewer than {{ min_count | int }}' as failure
from (select count(*) as n from {{ model }} where {{ adapter.quote(column) }} is not null
      group by {{ adapter.quote(column) }}) v
where n < {{ min_count | int }} and not exists (
  select 1 from {{ audit }}.metrics m
  where m.run_id = {{ synthdb.synthdb_run_id_sql(model) }} and m.check_name = 'rare_categories'
    and m.metric = '{{ metric }}' and m.details ? 'min_value_count')
union all
{% endfor %}
{{ synthdb.synthdb_stored_failures(model, 'rare_categories') }}
{% endtest %}
