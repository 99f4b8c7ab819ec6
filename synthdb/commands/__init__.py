"""Sub-commands of the synthdb CLI, one module each (see synthdb.cli)."""
