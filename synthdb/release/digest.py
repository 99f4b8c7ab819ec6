"""What exactly a verdict vouches for: one table's identity, shape and content, from SQL.

A stored verdict is only worth something if publish, approve and export can tell that the rows
they are about to expose are the rows that were measured (issue 12: an UPDATE of 1,000 rows, a
view renamed into place, another model's table moved in — all were published before). So the
synthetic step records a :class:`Fingerprint` of the table it swapped in, and every later step
recomputes it and compares.

The content digest is order-independent and cryptographic, in two levels: every row's text
form is hashed (SHA-256); the row hashes are put in 65,536 buckets by their first two bytes; a
bucket's digest is SHA-256 over its sorted hashes; the table's digest is SHA-256 over the
non-empty buckets' digests in bucket order. A plain sum or XOR of hashes would let an insider
craft rows that cancel out; two different multisets of rows with the same digest need a
SHA-256 collision at one of the three levels (fixed 32-byte units, so no concatenation is
ambiguous). One level — SHA-256 over *all* sorted hashes, the definition before version 2 —
built a single ``bytea`` of 32 bytes per row, and PostgreSQL caps a value at 1 GB: a table
above ~33.5M rows could not be digested, so it could not be released at all (fail closed).
Each bucket's value is now 1/65,536 of that (the cap is ~2.2 trillion rows), at the same cost.

Rows are rendered under fixed output settings (transaction-local, restored afterwards) so two
sessions with different ``TimeZone`` or ``DateStyle`` render — and so hash — the same bytes.
The row is written ``ROW(t.*)``, never ``t``: a column named like the alias would otherwise be
hashed alone. The multiset of rows is what counts: duplicates are kept, order is not.

Cost, measured on the embedded server of this shared 2-core machine (the demo's 9 columns):
at 5M rows idle ~8 s, of which rendering rows as text ~3.3 s, SHA-256 ~2 s, the sort and the
bucket aggregation ~2.9 s (one sort by bucket and hash feeds both levels). The subquery is
fenced (``OFFSET 0``) so each row is hashed once, and ``DIGEST_PLAN_SETTINGS`` lets PostgreSQL
give the rendering and hashing to parallel workers while the leader sorts (5M at load ~5.5:
14.8-16.8 s → 10.7-12.4 s; 1M 3.3 → 2.3 s; the value does not depend on the plan). It is paid
once at the swap (overlapped with the Python metrics) and once per approve or export; publish
pays it only when it cannot prove the rows unchanged since the run wrote them from their
``xmin`` (``writer_xid``, synthdb.release.unchanged). A fingerprint records
``digest_version``: a digest recorded under another definition cannot be compared and is
refused with a message saying so. See ``docs/design-notes.md`` notes 15 and 21.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from synthdb.db import ConnectionSettings

# Output settings that affect a row's text form; fixed while hashing.
# Every content read (the digest here and in the owner's seal function) runs under these:
# the first five fix how values render as text (the digest hashes text); ``row_security`` off
# means no row-level security policy can filter what is measured — a read a policy would
# affect fails instead ("query would be affected by row-level security policy").
READ_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "row_security": "off",
}

# How PostgreSQL plans the digest (not what it computes): it costs sha256() like an addition, so
# it never finds the hashing worth parallel workers. With these transaction-local costs the
# rows are rendered and hashed by up to ``max_parallel_workers_per_gather`` workers (the
# server's own limit; none below ``min_parallel_table_scan_size``) while the leader sorts and
# aggregates; the digest's value does not depend on the plan.
DIGEST_PLAN_SETTINGS = {
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
}

# Where functions, operators and types resolve while a gate reads (transaction-local, restored
# afterwards): pg_catalog first, as in the owner's SECURITY DEFINER functions. A role may
# ``ALTER ROLE ... SET search_path`` to put a schema it owns first (no privilege needed, like
# the default isolation level), and a ``sha256(bytea)`` or ``<>(xid, xid)`` of its own there
# would otherwise decide what the gate computes. Names of tables are always schema-qualified.
GATE_SEARCH_PATH = {"search_path": "pg_catalog, pg_temp"}
# Only pg_catalog's own set_config may switch it: an unqualified ``set_config`` resolves
# through the very search_path it is meant to replace, and the engineer's
# ``set_config(text, text, boolean)`` first in it could leave the path as it was.
_SET_LOCAL = "SELECT pg_catalog.set_config(%s, %s, true)"


def set_local(conn, settings: dict[str, str]) -> None:
    """``settings`` for the rest of ``conn``'s current transaction, by pg_catalog's own
    set_config (see ``_SET_LOCAL``)."""
    for key, value in settings.items():
        conn.execute(_SET_LOCAL, (key, value))


def resolve_in_catalog(conn) -> None:
    """Functions, operators, types and catalog tables resolve in pg_catalog first for the rest
    of ``conn``'s current transaction (GATE_SEARCH_PATH; the commit or rollback ends it).
    Publish calls it once for its whole source transaction, before its first catalog read."""
    set_local(conn, GATE_SEARCH_PATH)


def connect_in_catalog(settings: ConnectionSettings | None = None, **kwargs: Any
                       ) -> psycopg.Connection:
    """A new connection to ``settings`` (the configured server, ``db.settings_from_env``, when
    None) whose whole session resolves in pg_catalog first (GATE_SEARCH_PATH).

    For the connections of the owner's commands (approve, export, verify, budget, recipient,
    roles setup): the engineer may own the source or the destination database, and ``ALTER
    DATABASE ... SET search_path = <own schema>, pg_catalog`` reaches every role that connects
    there. A function or operator of theirs would then answer the owner's reads (which version
    a table holds, whether a release is approved) and run with the owner's rights. The path is
    switched before the first statement, by pg_catalog's own set_config, for the session (it
    survives the commits these commands make).

    The session also acts as the role that logged in (``SET ROLE NONE``): a database default
    ``role = <engineer>`` (``ALTER DATABASE ... SET role``, also the owner's to set) starts the
    session of every member of that role — a superuser is a member of all — as the engineer,
    and what the owner's command creates then (the key store) would be the engineer's. A role
    default of the login's own is dropped as well: grant the rights by membership instead."""
    from synthdb.db import settings_from_env

    conn = psycopg.connect((settings or settings_from_env()).conninfo(), **kwargs)
    try:
        conn.execute("SELECT pg_catalog.set_config('role', 'none', false), "
                     "pg_catalog.set_config('search_path', %s, false)",
                     (GATE_SEARCH_PATH["search_path"],))
        if not conn.autocommit:
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def catalog_first(conn) -> Iterator[None]:
    """``resolve_in_catalog`` for the statements inside; the caller's search_path again
    afterwards (same transaction; after an error the transaction is aborted and rolls the
    setting back itself)."""
    saved = conn.execute("SELECT pg_catalog.current_setting('search_path')").fetchone()[0]
    resolve_in_catalog(conn)
    yield
    set_local(conn, {"search_path": saved})

# The one definition of the content digest; the owner's seal function (synthdb.release.roles)
# runs the same text, so both sides hash identically. ``{table}`` is the qualified table.
# Bucket = the first two bytes of the row hash as an integer (an int key sorts faster than a
# bytea prefix); ``OFFSET 0`` keeps PostgreSQL from inlining the subquery, which would hash
# every row twice (once for the bucket, once for the value).
DIGEST_VERSION = 2
DIGEST_SELECT = (
    "SELECT encode(sha256(coalesce(string_agg(d, ''::bytea ORDER BY b), ''::bytea)), 'hex'), "
    "coalesce(sum(n), 0)::bigint FROM (SELECT get_byte(h, 0) * 256 + get_byte(h, 1) AS b, "
    "sha256(string_agg(h, ''::bytea ORDER BY h)) AS d, count(*) AS n "
    "FROM (SELECT sha256(convert_to(ROW(t.*)::text, 'UTF8')) AS h FROM {table} AS t "
    "OFFSET 0) rows GROUP BY 1) buckets"
)


@dataclass(frozen=True)
class Fingerprint:
    """Identity (oid, schema, name, relkind), shape (columns) and content of one relation."""

    oid: int
    schema: str
    name: str
    relkind: str
    columns: list[list[str]]  # [[name, type], ...] in column order
    digest: str | None  # None when not computed (e.g. for a view, which is refused anyway)
    rows: int | None
    digest_version: int = DIGEST_VERSION  # which definition ``digest`` follows
    # The full (64-bit) id of the transaction that wrote every one of the rows, when the run
    # verified that in that transaction (``writer_xid``); publish then proves "unchanged since"
    # from the rows' ``xmin`` instead of digesting again (synthdb.release.unchanged).
    writer_xid: int | None = None

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RELKINDS = {"r": "table", "v": "view", "m": "materialized view", "f": "foreign table",
            "p": "partitioned table"}


def describe_relkind(relkind: str) -> str:
    return RELKINDS.get(relkind, f"relation of kind {relkind!r}")


def identify(conn, schema: str, name: str) -> tuple[int, str, list[list[str]]] | None:
    """(oid, relkind, columns) of ``schema.name`` from the catalog, or None if absent.

    Read with pg_catalog first (``catalog_first``) whoever calls: the run that records the
    fingerprint and the gates that compare it name types alike (as the owner's seal does), and
    a ``pg_class`` or ``=`` of the engineer's own cannot answer for the catalog."""
    with catalog_first(conn):
        return _identify(conn, schema, name)


def _identify(conn, schema: str, name: str) -> tuple[int, str, list[list[str]]] | None:
    row = conn.execute(
        "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
    if row is None:
        return None
    columns = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (row[0],)).fetchall()
    return int(row[0]), str(row[1]), [[c[0], c[1]] for c in columns]


def read_hazards(conn, oid: int) -> list[str]:
    """Why reads of table ``oid`` could differ by who or what reads it (empty: they cannot).

    A synthdb run writes a plain table without row-level security or inheritance children.
    An owner who adds a policy can show the checks and the copy different rows (a policy may
    test ``current_query()``), and a child table's rows come from wherever the child lives.
    Both are refused rather than reasoned about. Read under a lock that blocks ALTER TABLE
    (publish's SHARE lock), the answer holds until the lock is released.
    """
    with catalog_first(conn):
        row = conn.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM pg_inherits "
            "i WHERE i.inhparent = c.oid) FROM pg_class c WHERE c.oid = %s", (oid,)).fetchone()
    if row is None:
        return []
    problems = []
    if row[0] or row[1]:
        problems.append("row-level security is enabled on it (a policy could show the checks "
                        "and the copy different rows); a synthdb run never enables it")
    if row[2]:
        problems.append("it has inheritance children (their rows would be read through it); "
                        "a synthdb run never creates them")
    return problems


def content_digest(conn, schema: str, name: str) -> tuple[str, int]:
    """(hex content digest, row count) of ``schema.name``; see the module docstring."""
    with conn.transaction():  # set_config(..., true) needs a transaction (autocommit too)
        settings = {**READ_SETTINGS, **DIGEST_PLAN_SETTINGS, **GATE_SEARCH_PATH}
        saved = {key: conn.execute("SELECT pg_catalog.current_setting(%s)",
                                   (key,)).fetchone()[0]
                 for key in settings}
        set_local(conn, settings)
        row = conn.execute(sql.SQL(DIGEST_SELECT).format(
            table=sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
        ).fetchone()
        set_local(conn, saved)
    return str(row[0]), int(row[1])


def fingerprint(conn, schema: str, name: str, *, with_content: bool = True
                ) -> Fingerprint | None:
    """The fingerprint of ``schema.name`` now (content only for plain tables), or None."""
    found = identify(conn, schema, name)
    if found is None:
        return None
    oid, relkind, columns = found
    digest = rows = None
    if with_content and relkind == "r":
        digest, rows = content_digest(conn, schema, name)
    return Fingerprint(oid, schema, name, relkind, columns, digest, rows)


def content_problems(recorded: dict[str, Any], now: Fingerprint, *,
                     with_content: bool = True) -> list[str]:
    """Why ``now`` does not hold the content ``recorded`` vouches for (empty: it does).

    Compares kind, columns and content, not identity: a published copy is another table
    with the same rows. ``with_content=False``: kind and columns only (the caller digests a
    copy of the rows instead).
    """
    problems: list[str] = []
    if now.relkind != "r":
        problems.append(f"{now.label} is a {describe_relkind(now.relkind)}, not a table")
        return problems
    if [list(c) for c in recorded.get("columns") or []] != now.columns:
        problems.append(f"its columns changed (recorded {_cols(recorded.get('columns'))}, now "
                        f"{_cols(now.columns)})")
    if with_content and recorded.get("digest_version", 1) != now.digest_version:
        problems.append(
            f"its content digest was recorded under definition version "
            f"{recorded.get('digest_version', 1)} and this synthdb computes version "
            f"{now.digest_version}, so the rows cannot be compared; rebuild the model to record "
            "a current digest (if the audit schema is managed, re-run `synthdb roles setup` "
            "first so the owner's seal function computes it too)")
    elif with_content and recorded.get("digest") != now.digest:
        problems.append(f"its rows changed after the checks (content digest "
                        f"{str(recorded.get('digest'))[:12]}… recorded, {str(now.digest)[:12]}… "
                        f"now; {recorded.get('rows')} rows recorded, {now.rows} now)")
    return problems


def _cols(columns: Any) -> str:
    return ", ".join(f"{c[0]} {c[1]}" for c in columns or []) or "none"
