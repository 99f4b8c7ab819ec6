"""``synthdb roles setup``, destination half: what a plain engineer role needs to publish.

Publish writes into the destination database ``<db>_share`` (synthdb.release.destination) and
makes one NOLOGIN group role per recipient, a member of ``synthdb_recipients``. Done by the
engineer's own role that would need CREATEDB (the database), CREATEROLE and ADMIN on
``synthdb_recipients`` (the group roles) — rights that let it make any login, join any
group it administers, or enrol a role of its choosing as a recipient. Instead the owner, once:

* creates and locks down the destination database and the recipients group (the same steps
  publish takes when run by a superuser), and registers it with the embedded server;
* grants the engineer CONNECT and CREATE on the destination database only (publish creates
  each recipient's schema there and owns the tables it publishes), and USAGE on
  ``synthdb_share`` with SELECT, INSERT on its ``releases`` table (the recipient history row,
  read through each recipient's view, which runs with the engineer's rights);
* creates ``synthdb_share.ensure_recipient_role(recipient, role)``, a SECURITY DEFINER
  function owned by a NOLOGIN role with no members (``synthdb_recipient_admin``: CREATEROLE,
  ADMIN on ``synthdb_recipients`` without inheriting or SET). It creates a NOLOGIN role carrying
  synthdb's marker for that recipient, or accepts one that already carries it and has no
  attributes, and adds it to ``synthdb_recipients``; it refuses any other role.
"""

from __future__ import annotations

from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.governance.roles import MARKER
from synthdb.release import destination, digest

ADMIN_ROLE = "synthdb_recipient_admin"
FUNCTION = "ensure_recipient_role(text, text)"

_ENSURE = """
CREATE OR REPLACE FUNCTION {share}.ensure_recipient_role(p_recipient text, p_role text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_role record;
BEGIN
    IF p_recipient !~ '^[A-Za-z0-9][A-Za-z0-9_]{{0,62}}$'
       OR p_role !~ '^[A-Za-z_][A-Za-z0-9_]{{0,62}}$' OR lower(p_role) LIKE 'pg\\_%'
       OR p_role = {group} THEN
        RAISE EXCEPTION 'synthdb: % cannot be a recipient group role of %', p_role, p_recipient;
    END IF;
    SELECT oid, rolsuper OR rolcanlogin OR rolcreaterole OR rolcreatedb OR rolreplication
           OR rolbypassrls AS privileged, shobj_description(oid, 'pg_authid') AS marker
        INTO v_role FROM pg_roles WHERE rolname = p_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', p_role);
        EXECUTE format('COMMENT ON ROLE %I IS %L', p_role, {marker} || p_recipient);
    ELSIF v_role.privileged OR v_role.marker IS DISTINCT FROM {marker} || p_recipient THEN
        RAISE EXCEPTION 'synthdb: role % is not a synthdb group role of recipient %',
            p_role, p_recipient;
    END IF;
    IF NOT pg_has_role(p_role, {group}, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', {group}, p_role);
    END IF;
END
$fn$
"""


def _take_over(conn, engineer: str, dbname: str) -> None:
    """The destination, ``synthdb_share`` and its ``releases`` become the admin's when the
    engineer can act as their owner: a destination the engineer made by publishing with
    CREATEDB before this set-up would leave them ALTER DATABASE (settings for every session
    there), UPDATE/DELETE of the recipients' history and triggers on it."""
    share = destination.SHARE_SCHEMA
    owned = (
        ("SELECT datdba FROM pg_database WHERE datname = %s", dbname,
         sql.SQL("ALTER DATABASE {}").format(sql.Identifier(dbname))),
        ("SELECT nspowner FROM pg_namespace WHERE nspname = %s", share,
         sql.SQL("ALTER SCHEMA {}").format(sql.Identifier(share))),
        ("SELECT relowner FROM pg_class WHERE oid = pg_catalog.to_regclass(%s)",
         f"{share}.releases", sql.SQL("ALTER TABLE {}").format(sql.Identifier(share, "releases"))),
    )
    for owner_query, name, alter in owned:
        owner = conn.execute(owner_query, (name,)).fetchone()
        if owner and conn.execute("SELECT pg_catalog.pg_has_role(%s, %s::oid, 'USAGE')",
                                  (engineer, owner[0])).fetchone()[0]:
            conn.execute(alter + sql.SQL(" OWNER TO CURRENT_USER"))


def setup_destination(admin: ConnectionSettings, engineer: str) -> str:
    """Prepare ``admin``'s destination database for publishing as ``engineer``; returns its
    name. Idempotent; run as a superuser (it creates a database and a CREATEROLE role)."""
    dest = destination.destination_settings(admin)
    destination.ensure_database(admin, dest)
    e, g = sql.Identifier(engineer), sql.Identifier(destination.RECIPIENTS_GROUP)
    a, share = sql.Identifier(ADMIN_ROLE), sql.Identifier(destination.SHARE_SCHEMA)
    with digest.connect_in_catalog(dest) as conn:  # the engineer may own it
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            (ADMIN_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(a))
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN CREATEROLE").format(a))
        conn.execute(sql.SQL("GRANT {} TO {} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE").format(
            g, a))
        conn.execute(sql.SQL(_ENSURE).format(share=share, group=sql.Literal(
            destination.RECIPIENTS_GROUP), marker=sql.Literal(MARKER)))
        fn = sql.SQL("{}.{}").format(share, sql.SQL(FUNCTION))
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(fn, a))
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(fn))
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(fn, e))
        db = sql.Identifier(dest.dbname)
        _take_over(conn, engineer, dest.dbname)
        conn.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(db, e))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(share, e))
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON {}.releases TO {}").format(share, e))
        conn.commit()
    return dest.dbname
