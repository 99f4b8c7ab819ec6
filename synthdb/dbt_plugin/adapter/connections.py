"""Connection handling for the synthdb adapter: Postgres credentials under a new type name.

The profile says ``type: synthdb``; everything else (host, port, user, ...) is Postgres. When the
host is ``embedded`` (the default in the demo profile), the project's embedded PostgreSQL is
started on first use and its socket directory becomes the host (DESIGN §7).
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


def resolve_embedded(credentials: SynthdbCredentials) -> SynthdbCredentials:
    """Replace ``host: embedded`` by the socket directory of the running embedded server."""
    from synthdb import db

    if credentials.host == db.EMBEDDED:
        settings = db.start_embedded()
        credentials.host = settings.host
        credentials.port = settings.port
    return credentials


class SynthdbConnectionManager(PostgresConnectionManager):
    TYPE = "synthdb"

    @classmethod
    def open(cls, connection):
        if connection.state != "open":
            resolve_embedded(connection.credentials)
        return super().open(connection)
