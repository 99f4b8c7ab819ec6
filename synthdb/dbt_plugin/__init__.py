"""dbt integration: the adapter plugin (imported as ``dbt.adapters.synthdb``) and its macros."""
