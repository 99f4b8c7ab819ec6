"""Where releases land: a database outside production's boundary (DESIGN §2, issue 12).

A recipient who can connect to the source database can read its catalog — every contract's
SQL in ``pg_views``, production column names and types, row counts in ``reltuples`` — even
without SELECT on a single table. So releases are published into a separate *destination*:
by default the database ``<source db>_share`` on the same server (created on first publish),
or any connection named by ``SYNTHDB_SHARE_HOST/PORT/USER/PASSWORD/DBNAME`` (or the profile's
``share_*`` fields). Recipient logins belong to the group role ``synthdb_recipients``; the
embedded server's ``pg_hba.conf`` lets that group connect to destination databases only
(``synthdb.server_auth``). On any other server the operator must revoke CONNECT on the source
database from PUBLIC; synthdb checks and warns, it does not change grants it does not own.

The destination keeps the recipient-facing part of the release history (``synthdb_share.
releases``, read through each recipient's ``releases`` view); the audit schema with runs,
metrics, verdicts and release rows stays on the source side.
"""

from __future__ import annotations

import os
import re
import select
from collections.abc import Mapping
from dataclasses import replace

import psycopg
from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError

SHARE_SUFFIX = "_share"
SHARE_SCHEMA = "synthdb_share"
RECIPIENTS_GROUP = "synthdb_recipients"
ENV_PREFIX = "SYNTHDB_SHARE_"
# Set by the owner on a destination of the embedded server, whose pg_hba.conf keeps recipients
# out of every other database: a publishing role that cannot read data_directory trusts it.
MANAGED_COMMENT = "synthdb destination: recipients may connect here only (pg_hba.conf)"
_DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def destination_settings(source: ConnectionSettings,
                         overrides: Mapping[str, object] | None = None,
                         env: Mapping[str, str] | None = None) -> ConnectionSettings:
    """The destination's connection: ``overrides`` (profile), else ``SYNTHDB_SHARE_*``, else
    the source's server with database ``<source db>_share``. Refuses the source itself."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for key in ("host", "port", "user", "password", "dbname"):
        value = (overrides or {}).get(key) or env.get(ENV_PREFIX + key.upper()) or None
        if value is not None:
            values[key] = value
    dest = replace(
        source,
        host=str(values.get("host", source.host)),
        port=int(values.get("port", source.port)),  # type: ignore[call-overload]
        user=str(values.get("user", source.user)),
        password=str(values.get("password", source.password if "user" not in values else "")),
        dbname=str(values.get("dbname", source.dbname + SHARE_SUFFIX)),
    )
    if not _DBNAME.match(dest.dbname):
        raise ConfigError(f"destination database {dest.dbname!r}: use letters, digits and _ "
                          "only (it is named in pg_hba.conf)")
    if same_database(source, dest):
        raise ConfigError(
            f"destination database {dest.dbname!r} is the source database: releases must land "
            "outside production's boundary (unset SYNTHDB_SHARE_DBNAME / share_dbname, or name "
            "another database)")
    return dest


def same_server(a: ConnectionSettings, b: ConnectionSettings) -> bool:
    return (a.host, int(a.port)) == (b.host, int(b.port))


def same_database(a: ConnectionSettings, b: ConnectionSettings) -> bool:
    return same_server(a, b) and a.dbname == b.dbname


def ensure_database(source: ConnectionSettings, dest: ConnectionSettings) -> list[str]:
    """Create the destination database when it is on the source's server and missing, lock
    it down, and register it with the embedded server's authentication. Returns warnings.

    Both connections resolve in pg_catalog first (``digest.connect_in_catalog``): `synthdb
    roles setup` runs this as a superuser, in databases the engineer may own."""
    from synthdb.release.digest import connect_in_catalog

    warnings: list[str] = []
    if same_server(source, dest):
        with connect_in_catalog(source, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (dest.dbname,)).fetchone()
            if not exists:
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(
                        sql.Identifier(dest.dbname)))
                except psycopg.errors.DuplicateDatabase:
                    pass  # created meanwhile by another publish
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise ConfigError(
                        f"destination database {dest.dbname!r} does not exist and "
                        f"{source.user} may not create it ({exc.diag.message_primary}); "
                        "run `synthdb roles setup --engineer <role>` as the owner, or create "
                        "it, or set SYNTHDB_SHARE_DBNAME") from None
            # A plain engineer role publishes into a destination `synthdb roles setup`
            # prepared (locked down, registered, granted) without owning it.
            if administers(conn, dest.dbname):
                _ensure_group(conn)
                _lock_down(conn, dest.dbname)
                from synthdb import server_auth

                if server_auth.register_destination(conn, dest.dbname):
                    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(dest.dbname), sql.Literal(MANAGED_COMMENT)))
                warning = source_exposure(conn, source.dbname)
            else:  # is_managed needs a superuser; the owner's comment says what it found
                warning = None if conn.execute(
                    "SELECT shobj_description(oid, 'pg_database') = %s FROM pg_database "
                    "WHERE datname = %s", (MANAGED_COMMENT, dest.dbname)).fetchone()[0] \
                    else source_exposure(conn, source.dbname)
            if warning:
                warnings.append(warning)
    with connect_in_catalog(dest, autocommit=True) as conn:
        if not administers(conn, dest.dbname):
            if conn.execute("SELECT to_regclass(%s)", (SHARE_SCHEMA + ".releases",)).fetchone()[0]:
                return warnings
            raise ConfigError(f"destination database {dest.dbname!r} is not prepared for "
                              f"{dest.user}: run `synthdb roles setup --engineer {dest.user}` "
                              "as its owner")
        if not same_server(source, dest):
            _ensure_group(conn)
            _lock_down(conn, dest.dbname)
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(
            SHARE_SCHEMA)))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(
            sql.Identifier(SHARE_SCHEMA)))
        conn.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {}.releases (
            release_id bigint PRIMARY KEY, recipient text NOT NULL, schema_name text NOT NULL,
            table_name text NOT NULL, version integer NOT NULL, published_at timestamptz NOT NULL,
            run_id text NOT NULL, rows bigint, metadata jsonb, changelog jsonb,
            approval_required boolean NOT NULL DEFAULT false, approved_at timestamptz)""").format(
            sql.Identifier(SHARE_SCHEMA)))
    return warnings


def administers(conn, dbname: str) -> bool:
    """True when the connected role may lock ``dbname`` down: a superuser or its owner."""
    return bool(conn.execute(
        "SELECT r.rolsuper OR pg_has_role(r.oid, d.datdba, 'USAGE') FROM pg_roles r, "
        "pg_database d WHERE r.rolname = current_user AND d.datname = %s",
        (dbname,)).fetchone()[0])


def _ensure_group(conn) -> None:
    """The NOLOGIN group every recipient group role joins (pg_hba matches ``+`` on it)."""
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                        (RECIPIENTS_GROUP,)).fetchone():
        try:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(
                sql.Identifier(RECIPIENTS_GROUP)))
        except psycopg.errors.DuplicateObject:
            pass


def _lock_down(conn, dbname: str) -> None:
    """Only recipients (and the owner) may connect to the destination."""
    db = sql.Identifier(dbname)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
        db, sql.Identifier(RECIPIENTS_GROUP)))


def source_exposure(conn, source_db: str) -> str | None:
    """A warning when recipients could connect to the source database (outside the embedded
    server, whose pg_hba.conf already rejects them); ``None`` when it is closed to them."""
    from synthdb import server_auth

    if server_auth.is_managed(conn):
        return None
    open_to = conn.execute(
        "SELECT has_database_privilege(%s, %s, 'CONNECT')", (RECIPIENTS_GROUP, source_db)
    ).fetchone()[0]
    if not open_to:
        return None
    return (f"recipients can connect to the source database {source_db!r} and read its catalog "
            f"(contract SQL, column names, row counts): run REVOKE CONNECT ON DATABASE "
            f"{source_db} FROM PUBLIC (granting CONNECT to the roles that need it), or reject "
            f"+{RECIPIENTS_GROUP} for it in pg_hba.conf")


def connect(dest: ConnectionSettings) -> psycopg.Connection:
    """A transaction on the destination (autocommit off)."""
    return psycopg.connect(dest.conninfo())


def create_copy(src, staging: tuple[str, str], dst, target: tuple[str, str],
                columns: list, table_oid: int | None = None) -> int:
    """Create ``target`` in the destination with the staging table's column types and stream
    the rows into it with binary COPY (source transaction → destination transaction).

    Both transactions stay open: the caller commits the destination only when the release is
    complete, so readers never see a half-copied table. Returns the number of rows copied
    (PostgreSQL's own ``COPY n`` count: no second scan of the copy). ``FREEZE``: the table is
    created in this transaction, so its rows can be written frozen; nobody sees them before
    the commit, and the digest, the recipients' first reads and VACUUM then find no hint bits
    to set. ``table_oid``: copy only rows of that table (the one the caller checked and locked;
    a name resolving to another table by the time the COPY runs yields no rows).
    """
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in columns)
    target_sql = sql.Identifier(*target)
    dst.execute(sql.SQL("CREATE TABLE {} ({})").format(target_sql, definition))
    into_cur = dst.cursor()
    pinned = sql.SQL("")
    if table_oid is not None:
        # pg_catalog's own operator and type, whatever the session's search_path says
        pinned = sql.SQL(" AS synthdb_staged WHERE synthdb_staged.tableoid "
                         "OPERATOR(pg_catalog.=) {}::pg_catalog.oid").format(
            sql.Literal(table_oid))
    with src.cursor().copy(sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT (FORMAT binary)").format(
            cols, sql.Identifier(*staging), pinned)) as out, \
            into_cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary, FREEZE)").format(
                target_sql, cols)) as into:
        relay_rows(out, into)
    return into_cur.rowcount


# Bytes gathered before one write into the destination's COPY: psycopg passes a buffer up to
# 128 KiB to libpq as it is (a larger one it splits, copying).
RELAY_BUFFER = 128 * 1024


def relay_rows(out: psycopg.Copy, into: psycopg.Copy) -> None:
    """Move every row of ``out`` (a running ``COPY ... TO STDOUT``) into ``into``.

    The server sends one COPY message per row, and psycopg's ``Copy`` hands over one per
    iteration, each through its generator and wait machinery, and writes each one on its own:
    at 5M rows that relay cost ~4.7 CPU-s of Python, more than either server's side of the
    copy. Here the messages are taken straight from libpq's buffer (``PQgetCopyData``) and
    written in ~128 KiB buffers: ~0.9 CPU-s at 5M (measured, load ~4). The bytes are the same,
    in the same order. When libpq's buffer is empty the relay waits on the socket with
    ``select`` (not in libpq), so other threads run and Ctrl-C interrupts it (psycopg then
    cancels the COPY). When the COPY ends every result is read before an error (e.g. a
    row-level security policy refusing the read) is raised, so the connection is left idle.
    """
    pgconn = out.connection.pgconn
    buffer = bytearray()
    while True:
        size, row = pgconn.get_copy_data(1)  # 1: never block inside libpq
        if size > 0:
            buffer += row
            if len(buffer) >= RELAY_BUFFER:
                into.write(buffer)
                buffer = bytearray()
        elif size == 0:  # nothing buffered: wait for the server, then read what it sent
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        else:  # -1: the COPY is done (-2, a failure, raises in psycopg)
            break
    if buffer:
        into.write(buffer)
    failed = None
    while (result := pgconn.get_result()) is not None:
        if result.status != psycopg.pq.ExecStatus.COMMAND_OK and failed is None:
            failed = psycopg.errors.error_from_result(result, encoding=out.connection.info.encoding)
    if failed is not None:
        raise failed


def record_release(dst, release: dict) -> None:
    """The recipient-facing history row (read through ``<schema>.releases``)."""
    import json

    dst.execute(sql.SQL(
        "INSERT INTO {}.releases (release_id, recipient, schema_name, table_name, version, "
        "published_at, run_id, rows, metadata, changelog, approval_required) "
        "VALUES (%(release_id)s, %(recipient)s, %(schema_name)s, %(table_name)s, %(version)s, "
        "%(published_at)s, %(run_id)s, %(rows)s, %(metadata)s, %(changelog)s, "
        "%(approval_required)s)").format(sql.Identifier(SHARE_SCHEMA)),
        {**release, "metadata": json.dumps(release["metadata"], default=str),
         "changelog": json.dumps(release["changelog"], default=str)})


def create_releases_view(dst, schema: str, recipient: str, role: str) -> None:
    """``<schema>.releases``: the recipient's own release history, readable by its role.

    The view runs with its owner's rights over ``synthdb_share.releases`` in the destination,
    so the recipient sees its own rows only and nothing of the source-side audit schema. A
    release that needs approval is listed once it is approved.
    """
    view = sql.Identifier(schema, "releases")
    dst.execute(sql.SQL("""CREATE OR REPLACE VIEW {view} AS
        SELECT table_name, version, published_at, run_id, rows, metadata, changelog, approved_at
        FROM {share}.releases
        WHERE recipient = {recipient} AND schema_name = {schema}
          AND (approved_at IS NOT NULL OR NOT approval_required)""").format(
        view=view, share=sql.Identifier(SHARE_SCHEMA), recipient=sql.Literal(recipient),
        schema=sql.Literal(schema)))
    dst.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(view, sql.Identifier(role)))
