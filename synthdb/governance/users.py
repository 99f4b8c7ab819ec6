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
from synthdb.governance import releases


def add_user(
    settings: ConnectionSettings,
    recipient: str,
    login: str,
    *,
    password: str | None = None,
    role: str | None = None,
    audit_schema: str = "synthdb_audit",
) -> str:
    """Create (or re-grant) ``login`` in the recipient's group role; returns the group role."""
    if not login or login.startswith("pg_"):
        raise ConfigError(f"recipient {recipient}: login {login!r} is empty or reserved (pg_*)")
    with releases.connect(settings, audit_schema) as conn:
        group = role or releases.latest_role(conn, audit_schema, recipient)
        if group is None:
            raise ConfigError(
                f"recipient {recipient}: no release in {audit_schema}.releases names its role; "
                "publish first or pass --role"
            )
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone():
            raise ConfigError(f"recipient {recipient}: group role {group!r} does not exist")
        existing = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (login,)
        ).fetchone()
        ident = sql.Identifier(login)
        if existing is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        elif any(existing):
            raise ConfigError(
                f"recipient {recipient}: role {login!r} exists and is privileged "
                "(superuser/createrole/createdb); refusing to make it a recipient login"
            )
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
