"""The release flow run by the dbt adapter: read, split, fit, sample, write, measure, gate."""
