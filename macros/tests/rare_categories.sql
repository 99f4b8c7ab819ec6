{#-
  rare_categories(columns, min_count): no non-NULL value of the given columns occurs fewer than
  min_count times, and the stored rare-category verdict of the producing run passed. Failure
  rows give column and count, never the value itself.
-#}
{% test rare_categories(model, columns, min_count=10) %}
{%- set model = synthdb.synthdb_tested_relation(model) %}
{%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
{% for column in columns %}
select '{{ column | replace("'", "''") }}: a value occurs ' || n || ' times, fewer than {{ min_count | int }}' as failure
from (select count(*) as n from {{ model }} where {{ adapter.quote(column) }} is not null
      group by {{ adapter.quote(column) }}) v
where n < {{ min_count | int }}
union all
{% endfor %}
{{ synthdb.synthdb_stored_failures(model, 'rare_categories') }}
{% endtest %}
