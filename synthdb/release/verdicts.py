"""Which run's verdict vouches for a table right now — found from the database, not a comment.

Publish used to read the run id from the staging table's comment and compare row counts; every
attack of issue 12 went through that (an UPDATE keeps the count, a comment can be copied, a view
can carry any comment). Here the run is the one that recorded *this table's oid* when it swapped
it in (synthdb.release.digest), the comment only has to agree, and the table must still be the
same kind, under the same name, with the same columns and the same content digest. Each
refusal says which of these differs.

Callers hold the table locked (``lock_table``) from the check until their transaction commits,
so nobody can change the rows between the check and the copy.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from synthdb.errors import GateError
from synthdb.release import digest


def failed_gates(failed_metrics: list[str]) -> str:
    """Which gate a failed run failed, for messages: utility checks block too (issue 13), and an
    engineer told "privacy gate" about a distorted correlation looks in the wrong place."""
    checks = {m.split(".", 1)[0] for m in failed_metrics}
    kinds = (["privacy"] if checks - {"utility"} or not checks else []) + (
        ["utility"] if "utility" in checks else [])
    return " and ".join(kinds) + (" gates" if len(kinds) > 1 else " gate")


def lock_table(conn, schema: str, name: str) -> None:
    """SHARE lock: readers go on, writers wait until this transaction ends."""
    conn.execute(sql.SQL("LOCK TABLE {}.{} IN SHARE MODE").format(
        sql.Identifier(schema), sql.Identifier(name)))


def require_plain_reads(conn, oid: int, prefix: str, label: str) -> None:
    """GateError when reads of table ``oid`` could differ by reader (``digest.read_hazards``:
    row-level security, inheritance children); call it under a lock that blocks ALTER TABLE."""
    hazards = digest.read_hazards(conn, oid)
    if hazards:
        raise GateError(f"{prefix}: {label} cannot be vouched for: " + "; ".join(hazards))


def comment_run_id(conn, oid: int) -> str | None:
    """The run id a table's comment claims (a hint for messages; never trusted alone)."""
    text = conn.execute("SELECT obj_description(%s::oid, 'pg_class')", (oid,)).fetchone()[0]
    try:
        return json.loads(text).get("synthdb_run_id") if text else None
    except (ValueError, AttributeError):
        return None


def _run(conn, audit_schema: str, where: str, value: Any) -> dict[str, Any] | None:
    row = conn.execute(
        sql.SQL("SELECT run_id, model, target_relation, fingerprint, "
                "config -> 'privacy' ->> 'subject' FROM {}.runs "
                "WHERE outcome = 'success' AND fingerprint IS NOT NULL AND " + where +
                " ORDER BY finished_at DESC LIMIT 1").format(sql.Identifier(audit_schema)),
        (value,)).fetchone()
    if row is None:
        return None
    return {"run_id": row[0], "model": row[1], "target": row[2], "fingerprint": row[3],
            "subject": row[4]}


def bound_run(conn, audit_schema: str, schema: str, name: str, prefix: str, *,
              with_content: bool = True) -> str:
    """The run whose recorded fingerprint ``schema.name`` matches exactly, or GateError.

    ``prefix`` starts every refusal (e.g. "synthdb gate: refusing to publish x to y").
    The table is SHARE-locked as a side effect when it is a plain table. ``with_content=False``
    checks identity, kind and columns but leaves the content digest to the caller: publish
    digests the copy it made under this lock instead (one full digest, not two), and the copy
    holds the table's rows exactly, so a changed row still fails that comparison.
    """
    label = f"{schema}.{name}"
    found = digest.identify(conn, schema, name)
    if found is None:
        raise GateError(f"{prefix}: the staging table does not exist (run the synthetic model)")
    oid, relkind, _ = found
    if relkind != "r":
        raise GateError(
            f"{prefix}: {label} is a {digest.describe_relkind(relkind)}, not the table a synthdb "
            "run wrote; a verdict vouches only for the exact table it measured")
    lock_table(conn, schema, name)
    found = digest.identify(conn, schema, name)  # re-read under the lock: it may have moved
    if found is None or found[0] != oid:
        raise GateError(f"{prefix}: {label} was replaced while publish was checking it")
    require_plain_reads(conn, oid, prefix, label)
    claimed = comment_run_id(conn, oid)
    run = _run(conn, audit_schema, "(fingerprint ->> 'oid')::bigint = %s", oid)
    if run is None:
        other = _run(conn, audit_schema, "run_id = %s", claimed) if claimed else None
        if other is None:
            raise GateError(
                f"{prefix}: no synthdb run recorded this table (oid {oid}); it was written "
                "outside synthdb or recreated, so no verdict vouches for it"
                + (f" (its comment names run {claimed}, which recorded no table)"
                   if claimed else ""))
        wrote = f"{other['fingerprint']['schema']}.{other['fingerprint']['name']}"
        if wrote == label:
            raise GateError(
                f"{prefix}: {label} is not the table run {claimed} measured (that table, oid "
                f"{other['fingerprint']['oid']}, was replaced; this is oid {oid}); its comment "
                "cannot vouch for a different table")
        raise GateError(f"{prefix}: the table's comment names run {claimed}, which wrote "
                        f"{wrote}, not {label}; no run recorded this table")
    fp = run["fingerprint"]
    wrote = f"{fp['schema']}.{fp['name']}"
    if wrote != label or run["target"] != label:
        raise GateError(
            f"{prefix}: {label} was moved or renamed: run {run['run_id']} of model "
            f"{run['model']} wrote it as {wrote}; another model's run cannot be published "
            "under this name")
    if claimed != run["run_id"]:
        raise GateError(
            f"{prefix}: the table's comment names run {claimed}, but the table is the one run "
            f"{run['run_id']} wrote; the comment was changed")
    now = digest.fingerprint(conn, schema, name, with_content=with_content)
    problems = digest.content_problems(fp, now, with_content=with_content)
    if problems:
        raise GateError(f"{prefix}: run {run['run_id']} measured a different table: "
                        + "; ".join(problems))
    check_no_subject(run, now, prefix)
    return str(run["run_id"])


def check_no_subject(run: dict[str, Any], table: digest.Fingerprint | None, prefix: str) -> None:
    """The release lint's last word: the run's subject column (``synth.privacy.subject``) is
    counted, never released, so a table holding a column of that name is refused."""
    subject = run.get("subject")
    if subject and table is not None and any(c[0] == subject for c in table.columns):
        raise GateError(
            f"{prefix}: the table has column {subject!r}, the subject of run {run['run_id']} "
            f"(model {run['model']}, synth.privacy.subject); a subject is counted, never "
            "released")


def recorded_fingerprint(conn, audit_schema: str, run_id: str) -> dict[str, Any] | None:
    """The fingerprint a run recorded at its swap (None for runs that predate digests)."""
    row = conn.execute(sql.SQL("SELECT fingerprint FROM {}.runs WHERE run_id = %s").format(
        sql.Identifier(audit_schema)), (run_id,)).fetchone()
    return row[0] if row else None


def check_published(conn, audit_schema: str, run_id: str, schema: str, name: str,
                    prefix: str, audit_conn=None, label: str | None = None) -> int:
    """Refuse (GateError) unless published ``schema.name`` holds exactly run ``run_id``'s rows.

    For approve and export: the published table is a copy, so identity differs; kind, columns
    and content digest must match what the run measured. Locks the table until commit.
    ``audit_conn`` reads the run when the published table lives in another database than the
    audit schema (``conn`` reaches the table). ``label`` names the table in refusals (publish
    checks a temporary copy but names the staged table). Returns the table's row count (from
    the digest's own scan).
    """
    with digest.catalog_first(conn):
        return _check_published(conn, audit_schema, run_id, schema, name, prefix, audit_conn,
                                label)


def _check_published(conn, audit_schema: str, run_id: str, schema: str, name: str,
                     prefix: str, audit_conn, label: str | None) -> int:
    recorded = recorded_fingerprint(audit_conn or conn, audit_schema, run_id)
    if not recorded:
        raise GateError(f"{prefix}: run {run_id} recorded no content digest (it predates "
                        "digests); rebuild and publish again")
    now = digest.fingerprint(conn, schema, name, with_content=False)
    if now is None:
        raise GateError(f"{prefix}: {schema}.{name} does not exist")
    if now.relkind == "r":
        # SHARE needs a write privilege; an exporter with SELECT only checks without the lock
        # (then a writer, i.e. the table's owner, could still change rows right after).
        if conn.execute("SELECT has_table_privilege(%s::oid, 'UPDATE, DELETE, TRUNCATE')",
                        (now.oid,)).fetchone()[0]:
            lock_table(conn, schema, name)
        require_plain_reads(conn, now.oid, prefix, label or now.label)
        now = digest.fingerprint(conn, schema, name)
    require_content(recorded, now, prefix, run_id, label)
    return int(now.rows or 0)


def require_content(recorded: dict[str, Any], now: digest.Fingerprint | None, prefix: str,
                    run_id: str, label: str | None = None) -> None:
    """GateError unless ``now`` (a fingerprint with content) holds what ``recorded`` vouches
    for: kind, columns, digest version and content digest."""
    if now is None:
        raise GateError(f"{prefix}: {label} does not exist")
    problems = digest.content_problems(recorded, now)
    if problems:
        raise GateError(f"{prefix}: {label or now.label} no longer holds what run {run_id} "
                        "measured: " + "; ".join(problems))
