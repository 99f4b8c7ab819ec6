"""Finding one release by the name people use for it: ``<recipient>/<table>[/v<N>]``.

The release row in the audit schema is the source of truth (its manifest JSON holds the role,
approval flag, columns and evidence path), so every governance command reads it from there and
not from files someone could have moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError, SynthdbError
from synthdb.governance.errors import ReleaseNotFound
from synthdb.release import audit, digest, verdicts

_REF = re.compile(r"^(?P<recipient>[^/]+)/(?P<table>[^/]+)(?:/v(?P<version>\d+))?$")


@dataclass(frozen=True)
class ReleaseRef:
    recipient: str
    table: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> ReleaseRef:
        match = _REF.match(text.strip())
        if not match:
            raise ConfigError(
                f"release {text!r}: expected <recipient>/<table>[/v<N>], e.g. partner_demo/"
                "transactions/v2"
            )
        version = match["version"]
        return cls(match["recipient"], match["table"], int(version) if version else None)

    def __str__(self) -> str:
        tail = f"/v{self.version}" if self.version is not None else ""
        return f"{self.recipient}/{self.table}{tail}"


@dataclass(frozen=True)
class Release:
    release_id: int
    run_id: str
    recipient: str
    relation: str  # "schema.table" as published
    version: int
    published_at: Any
    manifest: dict[str, Any]
    approved: bool  # approved, or no approval needed

    @property
    def name(self) -> str:
        return f"{self.recipient}/{self.table}/v{self.version}"

    @property
    def schema(self) -> str:
        return self.relation.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.relation.split(".", 1)[1]

    @property
    def role(self) -> str:
        return self.manifest.get("role") or f"{self.recipient}_reader"

    @property
    def approval_required(self) -> bool:
        return bool(self.manifest.get("approval_required"))


def connect(settings: ConnectionSettings, audit_schema: str) -> psycopg.Connection:
    """A connection with the audit tables present (older databases lack ``approvals``),
    resolving in pg_catalog first (``connect_destination`` says why)."""
    conn = digest.connect_in_catalog(settings)
    audit.ensure_schema(conn, audit_schema)
    conn.commit()
    return conn


def find_release(conn, audit_schema: str, ref: ReleaseRef) -> Release:
    """The named release (latest version when none is given), or ReleaseNotFound."""
    a = sql.Identifier(audit_schema)
    query = sql.SQL(
        "SELECT r.release_id, r.run_id, r.recipient, r.published_relation, r.version, "
        "r.published_at, r.manifest, ap.release_id IS NOT NULL "
        "FROM {a}.releases r LEFT JOIN {a}.approvals ap USING (release_id) "
        "WHERE r.recipient = %s AND split_part(r.published_relation, '.', 2) = %s "
        "AND (%s::int IS NULL OR r.version = %s::int) "
        "ORDER BY r.version DESC, r.release_id DESC LIMIT 1"
    ).format(a=a)
    row = conn.execute(query, (ref.recipient, ref.table, ref.version, ref.version)).fetchone()
    if row is None:
        raise ReleaseNotFound(f"release {ref}: no such release in {audit_schema}.releases")
    manifest = row[6] or {}
    needs = bool(manifest.get("approval_required"))
    return Release(
        row[0], row[1], row[2], row[3], row[4], row[5], manifest, approved=bool(row[7]) or not needs
    )


def latest_role(conn, audit_schema: str, recipient: str) -> str | None:
    """The group role of the recipient's latest release (None when it has none)."""
    row = conn.execute(
        sql.SQL(
            "SELECT manifest ->> 'role' FROM {}.releases WHERE recipient = %s "
            "ORDER BY published_at DESC, release_id DESC LIMIT 1"
        ).format(sql.Identifier(audit_schema)),
        (recipient,),
    ).fetchone()
    if row is None:
        return None
    return row[0] or f"{recipient}_reader"


def log_download(
    conn,
    audit_schema: str,
    release_id: int | None,
    action: str,
    ticket: str | None,
    details: dict[str, Any],
) -> None:
    """One row in ``downloads`` per export or verify (DESIGN §6: every download logged)."""
    import json

    conn.execute(
        sql.SQL(
            "INSERT INTO {}.downloads (release_id, action, ticket, details) VALUES (%s, %s, %s, %s)"
        ).format(sql.Identifier(audit_schema)),
        (release_id, action, ticket, json.dumps(details, default=str)),
    )


def destination_of(settings: ConnectionSettings, release: Release) -> ConnectionSettings:
    """Where ``release`` was published: the configured destination (``SYNTHDB_SHARE_*``, else
    ``<db>_share``), checked against the database its release row names. Releases made before
    destinations existed (no ``destination`` in the manifest) live in the source database."""
    from synthdb.release.destination import destination_settings

    recorded = release.manifest.get("destination")
    if not recorded:
        return settings
    dest = destination_settings(settings)
    if dest.dbname != recorded.get("dbname"):
        raise ConfigError(
            f"release {release.name} was published to database {recorded.get('dbname')!r}, "
            f"but the configured destination is {dest.dbname!r}; set SYNTHDB_SHARE_DBNAME "
            "(and SYNTHDB_SHARE_HOST/PORT/USER if it is on another server)")
    return dest


def connect_destination(settings: ConnectionSettings, release: Release) -> psycopg.Connection:
    """A connection to ``release``'s destination (``destination_of``) for the owner's reads
    and grants there, resolving functions, operators and catalog tables in pg_catalog first.

    The engineer may own the destination (a publishing role with CREATEDB creates it) or the
    source database; as owner they may ``ALTER DATABASE ... SET search_path = <own schema>,
    pg_catalog``, and a function of theirs there (an ``obj_description`` reporting an older
    version, a ``=`` that matches every approval) would answer the approver's reads and run
    with the approver's rights (tests/test_attacks_destination.py)."""
    return digest.connect_in_catalog(destination_of(settings, release))


def live_version(conn, release: Release) -> tuple[str | None, int | None]:
    """(run id, version) of the release the published table holds now, from its release
    comment; ``conn`` reaches the release's destination (``destination_of``).

    Each publish replaces the table, so an older version's release row no longer describes
    the table; approve and export compare this with the release's own run and version (the
    version too: re-publishing the same staged run makes a new version with the same run id,
    and approving the older one would grant the newer, unapproved one).
    """
    import json

    row = conn.execute(
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (release.schema, release.table),
    ).fetchone()
    if row is None or not row[0]:
        return None, None
    try:
        comment = json.loads(row[0])
        return comment.get("run_id"), comment.get("version")
    except (ValueError, AttributeError):
        return None, None


def check_live(
    conn: psycopg.Connection,
    dconn: psycopg.Connection,
    audit_schema: str,
    release: Release,
    action: str,
    *,
    stale_hint: str,
    stale_error: type[SynthdbError],
) -> None:
    """Raise unless ``release``'s table still holds exactly its run's rows.

    Approve (which grants) and export (which copies out) both act on the rows the table holds
    *now*, so both must refuse when a newer version replaced them (``stale_error`` with
    ``stale_hint``) or when the rows differ from what the run measured (``GateError`` from the
    digest comparison, computed in the destination).
    """
    live_run, live = live_version(dconn, release)
    if (live_run, live) != (release.run_id, release.version):
        raise stale_error(
            f"{action} {release.name}: table {release.relation} now holds v{live} (run "
            f"{live_run}), not this release (v{release.version}, run {release.run_id}); "
            f"{stale_hint}"
        )
    verdicts.check_published(dconn, audit_schema, release.run_id, release.schema,
                             release.table, f"{action} {release.name}: refused",
                             audit_conn=conn)
