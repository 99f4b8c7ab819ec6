"""Recipient group roles and names that synthdb can vouch for (issue 12).

Publish grants to a *group role* and ``recipient add-user`` puts logins into it. If either
accepted any existing role, ``--role postgres`` or ``role: pg_read_all_data`` would hand a
recipient login the keys to production. So a group role must be one synthdb created for that
recipient: NOLOGIN, no attributes (superuser, createrole, createdb, replication, bypassrls),
member of nothing but ``synthdb_recipients``, with only plain logins as members, owning no
database, holding no privilege beyond SELECT on tables and USAGE on schemas (in the database
checked: the destination), and carrying synthdb's marker comment naming the recipient. Recipient names become
folder names and SQL literals, so they are restricted to a safe alphabet.
"""

from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

from synthdb.errors import ConfigError
from synthdb.release.destination import RECIPIENTS_GROUP, SHARE_SCHEMA

MARKER = "synthdb recipient group: "
_RECIPIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,62}$")
_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PRIVILEGES = {"rolsuper": "SUPERUSER", "rolcanlogin": "LOGIN", "rolcreaterole": "CREATEROLE",
               "rolcreatedb": "CREATEDB", "rolreplication": "REPLICATION",
               "rolbypassrls": "BYPASSRLS"}


def check_recipient_name(recipient: str) -> str:
    """``recipient`` if it is a safe folder and role-name part, else ConfigError."""
    if not isinstance(recipient, str) or not _RECIPIENT.match(recipient):
        raise ConfigError(
            f"recipient {recipient!r}: use letters, digits and _ only (at most 63 characters, "
            "not starting with _); the name becomes a folder and part of role names")
    return recipient


def check_role_name(role: str, recipient: str) -> str:
    if not isinstance(role, str) or not _ROLE.match(role) or role.lower().startswith("pg_") \
            or role == RECIPIENTS_GROUP:
        raise ConfigError(
            f"recipient {recipient}: role {role!r} cannot be a recipient group role (reserved "
            "pg_* or synthdb name, or not a plain identifier)")
    return role


def inside(root: str | Path, relative: str | Path, what: str) -> Path:
    """``root/relative`` resolved, refused when it leaves ``root`` (``../``, absolute, links)."""
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise ConfigError(f"{what} {str(relative)!r} leaves the project folder {base}; use a "
                          "path inside it")
    return path


def ensure_group_role(conn, recipient: str, role: str,
                      adoptable: bool = False) -> None:
    """Create ``role`` as the recipient's group role, or check an existing one.

    ``adoptable``: the audit schema shows earlier releases of this recipient to this role
    (made before roles carried the marker); a clean unmarked role is then marked, not refused.
    """
    check_recipient_name(recipient)
    check_role_name(role, recipient)
    row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    ident = sql.Identifier(role)
    if _delegated(conn):
        # `synthdb roles setup`: the owner's function creates or enrols the group role, so
        # the engineer's role needs no CREATEROLE (synthdb.release.share_roles).
        if row is not None:
            validate_group_role(conn, recipient, role)
        conn.execute(sql.SQL("SELECT {}.ensure_recipient_role(%s, %s)").format(
            sql.Identifier(SHARE_SCHEMA)), (recipient, role))
        return
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
            ident, sql.Literal(MARKER + recipient)))
    else:
        validate_group_role(conn, recipient, role, adoptable=adoptable)
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RECIPIENTS_GROUP), ident))


def _delegated(conn) -> bool:
    """The owner's ensure_recipient_role exists here and this role may run it."""
    row = conn.execute(
        "SELECT has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.proname = "
        "'ensure_recipient_role' AND p.prosecdef", (SHARE_SCHEMA,)).fetchone()
    return bool(row and row[0])


def validate_group_role(conn, recipient: str, role: str, adoptable: bool = False) -> None:
    """ConfigError unless ``role`` is a clean synthdb group role of ``recipient``."""
    check_role_name(role, recipient)
    where = f"recipient {recipient}: role {role!r}"
    row = conn.execute(
        "SELECT oid, " + ", ".join(_PRIVILEGES) + ", shobj_description(oid, 'pg_authid') "
        "FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if row is None:
        raise ConfigError(f"{where} does not exist; publish a release to the recipient first")
    oid, flags, comment = row[0], row[1:1 + len(_PRIVILEGES)], row[-1]
    bad = [word for word, on in zip(_PRIVILEGES.values(), flags, strict=True) if on]
    if bad:
        raise ConfigError(f"{where} has {', '.join(bad)}; a recipient group role must be a "
                          "NOLOGIN role without attributes that synthdb created")
    groups = [r[0] for r in conn.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "WHERE m.member = %s AND g.rolname <> %s", (oid, RECIPIENTS_GROUP))]
    if groups:
        raise ConfigError(f"{where} is a member of {', '.join(sorted(groups))}; a recipient "
                          "group role may inherit nothing")
    members = [r[0] for r in conn.execute(
        "SELECT u.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member "
        "WHERE m.roleid = %s AND NOT m.admin_option AND u.rolname <> current_user "
        "AND (u.rolsuper OR u.rolcreaterole OR u.rolcreatedb OR u.rolreplication "
        "     OR u.rolbypassrls OR NOT u.rolcanlogin)", (oid,))]
    if members:
        raise ConfigError(f"{where} has privileged or group members ({', '.join(sorted(members))})"
                          "; only plain recipient logins may be members")
    extra = conn.execute("""
        SELECT n.nspname || '.' || c.relname || ': ' || a.privilege_type
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             aclexplode(c.relacl) a
        WHERE a.grantee = %(oid)s AND a.privilege_type <> 'SELECT'
        UNION ALL
        SELECT 'schema ' || n.nspname || ': CREATE' FROM pg_namespace n
        WHERE has_schema_privilege(%(oid)s, n.oid, 'CREATE') AND n.nspname <> 'pg_temp'
        UNION ALL
        SELECT 'database ' || current_database() || ': CREATE'
        WHERE has_database_privilege(%(oid)s, current_database(), 'CREATE')
        LIMIT 3""", {"oid": oid}).fetchall()
    if extra:
        raise ConfigError(f"{where} holds privileges a reader must not have "
                          f"({'; '.join(r[0] for r in extra)}); revoke them first")
    owns = conn.execute("SELECT datname FROM pg_database WHERE datdba = %s LIMIT 1",
                        (oid,)).fetchone()
    if owns:
        raise ConfigError(f"{where} owns database {owns[0]!r}; refusing it as a recipient role")
    if comment != MARKER + recipient:
        if adoptable and not comment:
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(role), sql.Literal(MARKER + recipient)))
            return
        owner = comment[len(MARKER):] if comment and comment.startswith(MARKER) else None
        detail = (f"it is recipient {owner!r}'s group role" if owner
                  else "synthdb did not create it")
        raise ConfigError(f"{where} is not a synthdb group role of this recipient ({detail}); "
                          f"use the default {recipient}_reader or a new role name")
