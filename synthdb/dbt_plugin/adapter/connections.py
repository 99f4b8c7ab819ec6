"""Connection handling for the synthdb adapter: Postgres credentials under a new type name.

The profile says ``type: synthdb``; everything else (host, port, user, ...) is Postgres. When no
host is given, the embedded server of this project is used (DESIGN §7).
"""

from __future__ import annotations

from dataclasses import dataclass

from dbt.adapters.postgres.connections import PostgresConnectionManager, PostgresCredentials


@dataclass
class SynthdbCredentials(PostgresCredentials):
    """Postgres credentials plus synthdb's own settings."""

    audit_schema: str = "synthdb_audit"

    @property
    def type(self) -> str:
        return "synthdb"

    def _connection_keys(self):
        return (*super()._connection_keys(), "audit_schema")


class SynthdbConnectionManager(PostgresConnectionManager):
    TYPE = "synthdb"
