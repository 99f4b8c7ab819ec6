"""Approvals: a named person signs off one exact release (and so one exact run), then grant.

A release published with ``approval_required: true`` exists in the recipient's schema but its
role has no SELECT on it. ``approve`` records who approved, under which ticket, which run —
and only then grants, in the same transaction, so there is never a grant without an approval
row. Approving an old version whose table has since been replaced is refused: the grant would
expose a different run than the one approved. The grant happens in the release's destination
database, the approval row in the source-side audit schema (committed first).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError
from synthdb.governance import releases, roles
from synthdb.governance.releases import ReleaseRef
from synthdb.release import verdicts
from synthdb.release.destination import SHARE_SCHEMA


def approve(
    settings: ConnectionSettings,
    ref: ReleaseRef,
    *,
    ticket: str,
    by: str,
    audit_schema: str = "synthdb_audit",
) -> dict[str, Any]:
    """Record the approval of ``ref`` (a versioned release) and grant SELECT to its role."""
    if ref.version is None:
        raise ConfigError(f"approve {ref}: name the exact version, e.g. {ref}/v1")
    if not ticket.strip() or not by.strip():
        raise ConfigError(f"approve {ref}: --ticket and --by must not be empty")
    with releases.connect(settings, audit_schema) as conn:
        rel = releases.find_release(conn, audit_schema, ref)
        a = sql.Identifier(audit_schema)
        done = conn.execute(
            sql.SQL(
                "SELECT ticket, approved_by, approved_at FROM {}.approvals WHERE release_id = %s"
            ).format(a),
            (rel.release_id,),
        ).fetchone()
        if done is not None:
            raise ConfigError(
                f"approve {rel.name}: already approved by {done[1]} under ticket "
                f"{done[0]} at {done[2]:%Y-%m-%d %H:%M:%S %Z}"
            )
        if not rel.approval_required:
            raise ConfigError(
                f"approve {rel.name}: this release did not require approval "
                "(approval_required was not set when it was published)"
            )
        dconn = psycopg.connect(releases.destination_of(settings, rel).conninfo())
        live_run = releases.live_run_id(dconn, rel)
        if live_run != rel.run_id:
            dconn.close()
            raise ConfigError(
                f"approve {rel.name}: table {rel.relation} now holds run {live_run}, not the "
                f"approved release's run {rel.run_id} (a newer version replaced it); approve "
                "the latest version instead"
            )
        # The grant exposes the table's rows now: they must be the rows the run measured
        # (the table is in the destination, the run's fingerprint in the audit schema).
        try:
            verdicts.check_published(dconn, audit_schema, rel.run_id, rel.schema, rel.table,
                                     f"approve {rel.name}: refused", audit_conn=conn)
        except BaseException:
            dconn.close()
            raise
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.approvals (release_id, run_id, ticket, approved_by) "
                "VALUES (%s, %s, %s, %s)"
            ).format(a),
            (rel.release_id, rel.run_id, ticket, by),
        )
        with dconn:
            roles.validate_group_role(dconn, rel.recipient, rel.role)
            schema, table = sql.Identifier(rel.schema), sql.Identifier(rel.table)
            role = sql.Identifier(rel.role)
            dconn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
            dconn.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(schema, table, role))
            if rel.manifest.get("destination"):
                dconn.execute(sql.SQL("UPDATE {}.releases SET approved_at = now() "
                                      "WHERE release_id = %s").format(
                    sql.Identifier(SHARE_SCHEMA)), (rel.release_id,))
            # the approval row first: a grant never exists without it
            conn.commit()
            try:
                dconn.commit()
            except BaseException:
                conn.execute(sql.SQL("DELETE FROM {}.approvals WHERE release_id = %s").format(a),
                             (rel.release_id,))
                conn.commit()
                raise
    return {
        "release": rel.name,
        "run_id": rel.run_id,
        "role": rel.role,
        "ticket": ticket,
        "approved_by": by,
    }
