{#-
  k_anonymity(quasi_identifiers, k): every combination of the quasi-identifiers occurs at least
  k times in the table (NULL counts as a value), and the verdict stored for the run that
  produced the table passed its k-anonymity checks. One failing row per problem.

  The class sizes are computed once, by the synthetic step's checks, and stored with the
  verdict (metric k_anonymity.min_class_size, its quasi-identifiers in the details). When that
  figure exists for exactly these quasi-identifiers, the test compares it with its own k and
  does not scan the table again; otherwise (another quasi-identifier set, an older run) it
  counts the classes itself. Fail-closed either way: a missing verdict, or one of another run,
  fails through synthdb_stored_failures; that the table still holds the rows that were
  counted is what publish checks (content digest).
  With synth.privacy.subject on a deidentify release, the stored verdict also counts distinct
  subjects per class (k_anonymity.min_subjects_per_class): the table has no subject column, so
  that count is made by the synthetic step and enforced here through the stored verdict.
-#}
{% test k_anonymity(model, quasi_identifiers, k=5) %}
{%- set model = synthdb.synthdb_tested_relation(model) %}
{%- if quasi_identifiers is string -%}{%- set quasi_identifiers = [quasi_identifiers] -%}{%- endif -%}
{%- set qi_json = tojson(quasi_identifiers | list) | replace("'", "''") %}
with stored as (
  select m.value from {{ adapter.quote(adapter.synthdb_audit_schema()) }}.metrics m
  where m.run_id = {{ synthdb.synthdb_run_id_sql(model) }}
    and m.check_name = 'k_anonymity' and m.metric = 'min_class_size'
    and m.details -> 'quasi_identifiers' @> '{{ qi_json }}'::jsonb
    and m.details -> 'quasi_identifiers' <@ '{{ qi_json }}'::jsonb
),
classes as (
  select count(*) as n from {{ model }} group by {{ synthdb.synthdb_column_list(quasi_identifiers) }}
)
select 'the smallest quasi-identifier class has ' || value || ' rows, fewer than k = {{ k | int }} (stored figure)' as failure
from stored where value < {{ k | int }}
union all
select 'a quasi-identifier class has ' || n || ' rows, fewer than k = {{ k | int }}' as failure
from classes where n < {{ k | int }} and not exists (select 1 from stored)
union all
{{ synthdb.synthdb_stored_failures(model, 'k_anonymity') }}
{% endtest %}
