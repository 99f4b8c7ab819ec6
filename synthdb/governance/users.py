"""Recipient logins: a LOGIN role that is a member of the recipient's group role.

Publishing grants USAGE/SELECT to a NOLOGIN group role (``<recipient>_reader`` unless the
release said otherwise); people get their own login inside it, so access can be revoked per
person and the audit log shows who read what. The login inherits nothing else.
"""

from __future__ import annotations

import os

from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError
from synthdb.governance import releases, roles
from synthdb.release import digest
from synthdb.release.destination import RECIPIENTS_GROUP, destination_settings


def add_user(
    settings: ConnectionSettings,
    recipient: str,
    login: str,
    *,
    password: str | None = None,
    role: str | None = None,
    audit_schema: str = "synthdb_audit",
) -> str:
    """Create (or re-grant) ``login`` in the recipient's group role; returns the group role.

    The group must be a synthdb-created group role of this recipient (``roles``): ``--role
    postgres`` or ``pg_read_all_data`` is refused. The login is created on the destination
    server, where the recipient's releases are.
    """
    roles.check_recipient_name(recipient)
    if not login or login.lower().startswith("pg_") or login == RECIPIENTS_GROUP:
        raise ConfigError(f"recipient {recipient}: login {login!r} is empty or reserved (pg_*)")
    with releases.connect(settings, audit_schema) as conn:
        group = role or releases.latest_role(conn, audit_schema, recipient)
        if group is None:
            raise ConfigError(
                f"recipient {recipient}: no release in {audit_schema}.releases names its role; "
                "publish first or pass --role"
            )
    dest = destination_settings(settings)
    with digest.connect_in_catalog(dest) as conn:  # see releases.connect
        roles.validate_group_role(conn, recipient, group)
        existing = conn.execute(
            "SELECT oid, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication "
            "OR rolbypassrls, shobj_description(oid, 'pg_authid') FROM pg_roles "
            "WHERE rolname = %s", (login,)
        ).fetchone()
        ident = sql.Identifier(login)
        if existing is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        elif existing[1]:
            raise ConfigError(
                f"recipient {recipient}: role {login!r} exists and is privileged "
                "(superuser/createrole/createdb/replication/bypassrls); refusing to make it a "
                "recipient login"
            )
        else:
            others = [r[0] for r in conn.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "WHERE m.member = %s AND g.rolname <> %s", (existing[0], group))]
            if others or (existing[2] or "").startswith(roles.MARKER):
                raise ConfigError(
                    f"recipient {recipient}: role {login!r} exists and is a group role or a "
                    f"member of {', '.join(sorted(others)) or 'another group'}; a recipient "
                    "login must be a plain role of its own")
        # INHERIT on the membership is what lets the login use the group's grants.
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN INHERIT").format(ident))
        if password is not None:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), ident))
        conn.commit()
    return group


def password_from_env(var: str | None) -> str | None:
    """The password held in environment variable ``var`` (never a command-line argument)."""
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"--password-env {var}: the environment variable is unset or empty")
    return value
