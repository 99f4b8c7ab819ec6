{#-
  k_anonymity(quasi_identifiers, k): every combination of the quasi-identifiers occurs at least
  k times in the table (NULL counts as a value), and the verdict stored for the run that
  produced the table passed its k-anonymity checks. One failing row per problem.
-#}
{% test k_anonymity(model, quasi_identifiers, k=5) %}
{%- set model = synthdb.synthdb_tested_relation(model) %}
with classes as (
  select count(*) as n from {{ model }} group by {{ synthdb.synthdb_column_list(quasi_identifiers) }}
)
select 'a quasi-identifier class has ' || n || ' rows, fewer than k = {{ k | int }}' as failure
from classes where n < {{ k | int }}
union all
{{ synthdb.synthdb_stored_failures(model, 'k_anonymity') }}
{% endtest %}
