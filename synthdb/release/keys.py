"""Pseudonymisation keys that never travel in SQL (issue 12).

``pseudonymize(col, key_name)`` used to inline the HMAC key into the contract view, where
``pg_views`` showed it to every role, and ``target/`` and dbt's logs kept copies. Now the key
lives in table ``synthdb_keys.keys`` of the source database, readable by its owner only
(schema and table revoked from PUBLIC). The macro calls ``synthdb_keys.pseudonym(value,
key_name)``, a SECURITY DEFINER function owned by the same owner: the view's SQL names the key,
never its bytes. The table stores the HMAC's inner and outer pads (key XOR 0x36 / 0x5c, RFC
2104), so each row costs two SHA-256 calls and one primary-key lookup.

Whoever may EXECUTE the function can compute pseudonyms of values of their choosing (an
oracle), so EXECUTE is revoked from PUBLIC and granted only to the roles named when the key
is set (by default the owner alone, which is the role dbt runs as in the embedded set-up).
Keys are set from an environment variable or generated; they are never printed or logged.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from psycopg import sql

from synthdb.errors import ConfigError

KEY_SCHEMA = "synthdb_keys"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
BLOCK = 64  # SHA-256 block size in bytes

_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.pseudonym(value text, key_name text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    pads record;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT inner_pad, outer_pad INTO pads FROM {schema}.keys WHERE name = key_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'synthdb: pseudonymisation key "%" is not set', key_name
            USING HINT = 'run: synthdb key set ' || key_name;
    END IF;
    RETURN encode(sha256(pads.outer_pad || sha256(pads.inner_pad || convert_to(value, 'UTF8'))),
                  'hex');
END
$fn$
"""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"key name {name!r}: use letters, digits and _ only")
    return name


def pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104 inner and outer pads of ``key`` for HMAC-SHA256."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def ensure_store(conn) -> None:
    """The key table and the pseudonym function, closed to PUBLIC (idempotent)."""
    schema = sql.Identifier(KEY_SCHEMA)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
    conn.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {}.keys (
        name text PRIMARY KEY, inner_pad bytea NOT NULL, outer_pad bytea NOT NULL,
        set_at timestamptz NOT NULL DEFAULT now(), set_by text NOT NULL DEFAULT current_user)"""
                         ).format(schema))
    conn.execute(sql.SQL(_FUNCTION).format(schema=schema))
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
    conn.execute(sql.SQL("REVOKE ALL ON TABLE {}.keys FROM PUBLIC").format(schema))
    conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {}.pseudonym(text, text) FROM PUBLIC").format(
        schema))


def set_key(conn, name: str, key: bytes | None = None,
            grant_to: list[str] | tuple[str, ...] = ()) -> bool:
    """Store ``key`` (random 32 bytes when ``None``) under ``name``; True if it replaced one.

    ``grant_to``: roles (e.g. the engineer's dbt role) that may call the function.
    """
    check_name(name)
    if key is not None and len(key) < 16:
        raise ConfigError(f"key {name}: a pseudonymisation key needs at least 16 bytes")
    ensure_store(conn)
    inner, outer = pads(key if key is not None else secrets.token_bytes(32))
    schema = sql.Identifier(KEY_SCHEMA)
    replaced = conn.execute(sql.SQL("SELECT 1 FROM {}.keys WHERE name = %s").format(schema),
                            (name,)).fetchone() is not None
    conn.execute(sql.SQL(
        "INSERT INTO {}.keys (name, inner_pad, outer_pad) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET inner_pad = excluded.inner_pad, "
        "outer_pad = excluded.outer_pad, set_at = now(), set_by = current_user").format(schema),
        (name, inner, outer))
    for role in grant_to:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            schema, sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {}.pseudonym(text, text) TO {}").format(
            schema, sql.Identifier(role)))
    return replaced


def key_names(conn) -> list[tuple[str, object, str]]:
    """(name, set_at, set_by) of every stored key; never the key."""
    if conn.execute("SELECT to_regclass(%s)", (f"{KEY_SCHEMA}.keys",)).fetchone()[0] is None:
        return []
    return [tuple(r) for r in conn.execute(sql.SQL(
        "SELECT name, set_at, set_by FROM {}.keys ORDER BY name").format(
        sql.Identifier(KEY_SCHEMA)))]
