{#-
  utility(): the run that produced the table kept the signals its model declared it must keep
  (config synth.utility: minimum accuracy, maximum per-column distance, critical pairs'
  correlations, seasonality, unseen category combinations). Each declared threshold is a stored
  metric with a verdict; a failed one also stops the publish. Without declared thresholds the
  utility scores are informational and this test passes.
-#}
{% test utility(model) %}
{{ synthdb.synthdb_stored_failures(model, 'utility') }}
{% endtest %}
