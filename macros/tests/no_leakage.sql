{#-
  no_leakage(): the run that produced the table passed the leakage checks measured against a
  holdout that was never used for training: identical-match share no higher than the holdout's
  own (plus tolerance and a one-sided 1 % sampling allowance), DCR share and membership-inference advantage below their thresholds. The thresholds
  live in the model's config (synth.privacy) or in this test's arguments; the stricter wins.
-#}
{% test no_leakage(model, dcr_share_max=none, mia_advantage_max=none) %}
{%- set model = synthdb.synthdb_tested_relation(model) %}
{{ synthdb.synthdb_stored_failures(model, 'no_leakage') }}
{% endtest %}
