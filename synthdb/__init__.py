"""synthdb: release synthetic data from PostgreSQL through dbt, with measured privacy."""

__version__ = "0.1.0"
