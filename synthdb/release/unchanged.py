"""Unchanged since the run wrote it: a proof from PostgreSQL's row stamps, not a second digest.

Publish must show that the rows it copies are the rows the run measured (an insider with the
engineer's rights owns the staged table and may edit it after the checks). The content digest
does that by rendering and hashing every row again: at 5M rows ~6 s of a ~9 s publish.

PostgreSQL stamps every row version with the id of the transaction that wrote it (``xmin``);
nobody but a superuser can choose it. So:

* the run, in the transaction that wrote the staged table and before it commits, checks that
  every row carries that transaction's id (:func:`writer_xid`; rows written under a savepoint
  or by another transaction carry other ids, and then nothing is recorded) and records the
  full 64-bit id in the fingerprint it seals next to the digest of the same rows;
* after the commit no new row can carry that id: an INSERT, an UPDATE (even ``SET x = x``), a
  ``TRUNCATE`` + ``COPY FREEZE`` or a table rewrite writes row versions with the modifier's
  id, and a DELETE lowers the count. VACUUM (FULL), CLUSTER and freezing keep ``xmin``;
* so, if the table publish holds SHARE-locked still has exactly the run's row count and every
  row has the run's ``xmin``, it holds exactly the rows the run wrote and digested
  (:func:`reasons_to_digest` returns no reason), and publish records the run's digest as the
  copy's without hashing again.

Content can change without a new row version in a few ways, and each sends publish back to the
digest: a column of a type whose text depends on the catalog (an enum's ``RENAME VALUE``, a
domain, a user type's output function, ``reg*`` and ``aclitem`` values naming objects or roles
by oid), a column dropped and added again (its value then comes from ``attmissingval``, not
the row) or a generated column, and a 32-bit transaction id wraparound (the recorded id's low
32 bits could be reused after 2^32 transactions; the proof needs fewer than 2^31). The proof
may only ever spare work: whenever a condition fails, publish digests the copy as before.
See ``docs/design-notes.md`` note 24.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from synthdb.release import digest

# A 32-bit xid compares safely (no reuse of the recorded id's low bits) within 2^31 ids.
XID_HORIZON = 2**31
# pg_catalog's types have oids below FirstNormalObjectId; a user's types (enums, domains,
# composites, types with their own output functions) are created above it.
FIRST_NORMAL_OID = 16384


def writer_xid(conn, schema: str, name: str) -> int | None:
    """The full id of the current transaction if it wrote every visible row of
    ``schema.name`` itself (not under a savepoint), else None. Call it in the writer's own
    transaction, after its last change to the table."""
    with digest.catalog_first(conn):
        writer = conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
        # the id as a constant: pg_current_xact_id() in the filter is evaluated per row
        # (0.36 s against 0.23 s at 5M rows)
        other = conn.execute(sql.SQL(
            "SELECT count(*) FILTER (WHERE t.xmin <> %s::xid8::xid) FROM {}.{} AS t").format(
            sql.Identifier(schema), sql.Identifier(name)), (writer,)).fetchone()[0]
    return int(writer) if other == 0 else None


def _column_reasons(conn, oid: int) -> list[str]:
    """Columns whose content could change without a new row version (see the docstring)."""
    rows = conn.execute(
        "SELECT a.attname, a.attisdropped, a.atthasmissing, a.attgenerated <> '', "
        "a.atttypid >= %s OR t.typtype NOT IN ('b', 'r', 'm') "
        "OR format_type(a.atttypid, NULL) LIKE ANY (ARRAY['reg%%', 'aclitem%%']) "
        "FROM pg_attribute a LEFT JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s AND a.attnum > 0", (FIRST_NORMAL_OID, oid)).fetchall()
    reasons = []
    for name, dropped, missing, generated, catalog_text in rows:
        if dropped:
            reasons.append("a column was dropped")
        elif missing or generated:
            reasons.append(f"column {name!r} takes values from the catalog (added with a "
                           "default, or generated)")
        elif catalog_text:
            reasons.append(f"column {name!r} has a type whose text the catalog decides")
    return reasons


def reasons_to_digest(conn, recorded: dict[str, Any], staging: tuple[str, str],
                      measured_rows: int | None) -> list[str]:
    """Why the staged table's content must be digested (empty: it is unchanged since the run).

    ``recorded`` is the run's fingerprint; its ``oid`` is the table the caller has checked and
    holds SHARE-locked (no writer can commit until the caller's transaction ends), with
    row-level security off. The scan reads ``staging`` by name, as the COPY does, in the
    caller's transaction: read committed, both statements see the state fixed by the lock;
    repeatable read, both see the transaction's one snapshot. A row from any other table
    (the name resolved elsewhere) counts as changed.
    """
    with digest.catalog_first(conn):
        return _reasons(conn, recorded, staging, measured_rows)


def _reasons(conn, recorded: dict[str, Any], staging: tuple[str, str],
             measured_rows: int | None) -> list[str]:
    writer = recorded.get("writer_xid")
    if writer is None:
        return ["the run recorded no writer transaction"]
    if not isinstance(writer, int) or isinstance(writer, bool) or writer < 3:
        return [f"the recorded writer transaction {writer!r} is not a transaction id"]
    if measured_rows is None or recorded.get("rows") != measured_rows:
        return ["the run's row count and its fingerprint's differ"]
    current = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
    if not 0 < current - writer < XID_HORIZON:
        return [f"the run's transaction is {current - writer} transactions old (the proof "
                f"holds below {XID_HORIZON})"]
    oid = int(recorded["oid"])
    reasons = _column_reasons(conn, oid)
    if reasons:
        return reasons
    rows, other = conn.execute(sql.SQL(
        "SELECT count(*), count(*) FILTER (WHERE t.tableoid <> %s::oid "
        "OR t.xmin <> %s::text::xid8::xid) FROM {}.{} AS t").format(
        sql.Identifier(staging[0]), sql.Identifier(staging[1])), (oid, str(writer))).fetchone()
    if other:
        return [f"{other} row(s) were written after the run"]
    if rows != measured_rows:
        return [f"{rows} rows now, {measured_rows} measured"]
    return []
