"""Approvals: a named person signs off one exact release (and so one exact run), then grant.

A release published with ``approval_required: true`` exists in the recipient's schema but its
role has no SELECT on it. ``approve`` records who approved, under which ticket, which run —
and only then grants, in the same transaction, so there is never a grant without an approval
row. Approving an old version whose table has since been replaced is refused: the grant would
expose a different run than the one approved. The grant happens in the release's destination
database, the approval row in the source-side audit schema (committed first).

``approve_group`` does the same for every table of a release group (``publish.related``,
published together): one call, one ticket, all or nothing. A group is released together, so
it is approved together: granting the parent alone would expose keys whose children the
approver has not seen, and each member is refused if its table no longer holds the rows its
run measured.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError
from synthdb.governance import releases, roles
from synthdb.governance.releases import Release, ReleaseRef
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
    _check_arguments(ref, ticket, by)
    with releases.connect(settings, audit_schema) as conn:
        rel = releases.find_release(conn, audit_schema, ref)
        _approve_all(settings, conn, audit_schema, [rel], ticket, by)
    return {"release": rel.name, "run_id": rel.run_id, "role": rel.role, "ticket": ticket,
            "approved_by": by}


def approve_group(
    settings: ConnectionSettings,
    ref: ReleaseRef,
    *,
    ticket: str,
    by: str,
    audit_schema: str = "synthdb_audit",
) -> dict[str, Any]:
    """Approve every release published together with ``ref`` (its release group) in one call.

    Refused, with nothing approved or granted, if ``ref`` is not part of a group or if any
    member is already approved, needs no approval, was replaced, or its table's content
    digest no longer matches its run.
    """
    _check_arguments(ref, ticket, by)
    with releases.connect(settings, audit_schema) as conn:
        rel = releases.find_release(conn, audit_schema, ref)
        group = ((rel.manifest.get("metadata") or {}).get("release_group") or {}).get("id")
        if not group:
            raise ConfigError(f"approve {rel.name}: this release is not part of a release "
                              "group (publish.related); approve it without --group")
        rows = conn.execute(sql.SQL(
            "SELECT recipient, split_part(published_relation, '.', 2), version FROM {}.releases "
            "WHERE manifest -> 'metadata' -> 'release_group' ->> 'id' = %s ORDER BY release_id"
        ).format(sql.Identifier(audit_schema)), (group,)).fetchall()
        members = [releases.find_release(conn, audit_schema, ReleaseRef(r[0], r[1], r[2]))
                   for r in rows]
        _approve_all(settings, conn, audit_schema, members, ticket, by)
    return {"release": rel.name, "releases": [m.name for m in members],
            "run_id": rel.run_id, "role": rel.role, "ticket": ticket, "approved_by": by}


def _check_arguments(ref: ReleaseRef, ticket: str, by: str) -> None:
    if ref.version is None:
        raise ConfigError(f"approve {ref}: name the exact version, e.g. {ref}/v1")
    if not ticket.strip() or not by.strip():
        raise ConfigError(f"approve {ref}: --ticket and --by must not be empty")


def _check_pending(conn, audit_schema: str, rel: Release) -> None:
    """ConfigError unless ``rel`` was published to await an approval and has none yet."""
    done = conn.execute(
        sql.SQL("SELECT ticket, approved_by, approved_at FROM {}.approvals WHERE release_id = %s"
                ).format(sql.Identifier(audit_schema)), (rel.release_id,)).fetchone()
    if done is not None:
        raise ConfigError(
            f"approve {rel.name}: already approved by {done[1]} under ticket "
            f"{done[0]} at {done[2]:%Y-%m-%d %H:%M:%S %Z}")
    if not rel.approval_required:
        raise ConfigError(
            f"approve {rel.name}: this release did not require approval "
            "(approval_required was not set when it was published)")


def _approve_all(settings: ConnectionSettings, conn, audit_schema: str, rels: list[Release],
                 ticket: str, by: str) -> None:
    """Check every release, then approval rows (committed first) and grants, all or none."""
    a = sql.Identifier(audit_schema)
    for rel in rels:
        _check_pending(conn, audit_schema, rel)
    with releases.connect_destination(settings, rels[0]) as dconn:
        for rel in rels:
            releases.check_live(conn, dconn, audit_schema, rel, "approve",
                                stale_hint="a newer version replaced it; approve the latest "
                                "version instead", stale_error=ConfigError)
        for rel in rels:
            conn.execute(sql.SQL("INSERT INTO {}.approvals (release_id, run_id, ticket, "
                                 "approved_by) VALUES (%s, %s, %s, %s)").format(a),
                         (rel.release_id, rel.run_id, ticket, by))
            _grant(dconn, rel)
        # the approval rows first: a grant never exists without them
        conn.commit()
        try:
            dconn.commit()
        except BaseException:
            conn.execute(sql.SQL("DELETE FROM {}.approvals WHERE release_id = ANY(%s)").format(a),
                         ([rel.release_id for rel in rels],))
            conn.commit()
            raise


def _grant(dconn, rel: Release) -> None:
    roles.validate_group_role(dconn, rel.recipient, rel.role)
    schema, table = sql.Identifier(rel.schema), sql.Identifier(rel.table)
    role = sql.Identifier(rel.role)
    dconn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    dconn.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(schema, table, role))
    if rel.manifest.get("destination"):
        history = sql.Identifier(SHARE_SCHEMA, "releases")
        _require_no_owner_code(dconn, history, f"{SHARE_SCHEMA}.releases", rel)
        dconn.execute(sql.SQL("UPDATE {} SET approved_at = now() WHERE release_id = %s").format(
            history), (rel.release_id,))


def _require_no_owner_code(dconn, table: sql.Composable, label: str, rel: Release) -> None:
    """ConfigError if writing ``table`` would run code of its owner's with the approver's
    rights: a trigger, a rule, or a row-level security policy. The search_path cannot lend
    the engineer a function any more (``releases.connect_destination``), but code attached to
    a table runs whoever writes it, and the engineer owns ``synthdb_share.releases`` when they
    created the destination and `synthdb roles setup` (which takes it over) has not run
    since. The lock (ROW
    EXCLUSIVE, as the UPDATE's own) keeps anyone from adding one before the UPDATE."""
    dconn.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(table))
    found = dconn.execute(
        "SELECT array_remove(ARRAY[CASE WHEN c.relrowsecurity THEN 'row-level security' END, "
        "CASE WHEN EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = c.oid) THEN 'a rule' "
        "END], NULL) || ARRAY(SELECT 'trigger ' || t.tgname FROM pg_trigger t "
        "WHERE t.tgrelid = c.oid AND NOT t.tgisinternal ORDER BY t.tgname), "
        "pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = %s::regclass",
        (label,)).fetchone()
    if found[0]:
        raise ConfigError(
            f"approve {rel.name}: {label} carries {', '.join(found[0])} of its owner "
            f"{found[1]}'s; approving writes that table, which would run it with your rights. "
            "Nothing was approved: remove it (or run `synthdb roles setup` so the owner's side "
            "owns the destination's history)")
