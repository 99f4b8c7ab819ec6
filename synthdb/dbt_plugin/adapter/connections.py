"""Connection handling for the synthdb adapter: Postgres credentials under a new type name.

The profile says ``type: synthdb``; everything else (host, port, user, ...) is Postgres. When the
host is ``embedded`` (the default in the demo profile), the project's embedded PostgreSQL is
started on first use and its socket directory becomes the host (DESIGN §7).

The embedded server's folder belongs to the dbt project, not to the shell: ``dbt --project-dir
/x/proj`` run from ``/elsewhere`` uses ``/x/proj/.synthdb`` (issue 11). The adapter fills
``embedded_home`` from the project root when the profile does not set it; ``SYNTHDB_HOME`` and a
relative ``embedded_home`` are taken relative to the project root too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dbt.adapters.postgres.connections import PostgresConnectionManager, PostgresCredentials


@dataclass
class SynthdbCredentials(PostgresCredentials):
    """Postgres credentials plus synthdb's own settings."""

    audit_schema: str = "synthdb_audit"
    # folder of the embedded server (host: embedded); default <project root>/.synthdb
    embedded_home: str | None = None
    # the release destination (synthdb.release.destination); unset: SYNTHDB_SHARE_* variables,
    # then the database <dbname>_share on the same server
    share_host: str | None = None
    share_port: int | None = None
    share_user: str | None = None
    share_password: str | None = None
    share_dbname: str | None = None

    @property
    def type(self) -> str:
        return "synthdb"

    def _connection_keys(self):
        return (*super()._connection_keys(), "audit_schema")


def anchor_embedded_home(credentials: SynthdbCredentials, project_root: str | None) -> None:
    """Tie the embedded server's folder to the dbt project (``--project-dir``), not the cwd."""
    from synthdb import db

    if credentials.host != db.EMBEDDED or project_root is None:
        return
    base = Path(project_root)
    if credentials.embedded_home:
        home = Path(credentials.embedded_home)
        credentials.embedded_home = str((home if home.is_absolute() else base / home).resolve())
    else:
        credentials.embedded_home = str(db.synthdb_home(base))


def resolve_embedded(credentials: SynthdbCredentials) -> SynthdbCredentials:
    """Replace ``host: embedded`` by the socket directory of the running embedded server."""
    from synthdb import db

    if credentials.host == db.EMBEDDED:
        home = Path(credentials.embedded_home) if credentials.embedded_home else None
        settings = db.start_embedded(home)
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
