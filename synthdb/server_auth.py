"""Who may log in to the embedded server, and how (issue 12).

``initdb`` leaves the embedded server on ``trust``: any local user could connect as any role,
and a recipient's password meant nothing. synthdb rewrites ``pg_hba.conf`` whenever it starts
the server or adds a destination database:

- the owner role (``postgres``) connects over the Unix socket only as the operating-system
  user who runs synthdb (``peer``, mapped in ``pg_ident.conf``) — no password to leak, and no
  other local user gets in;
- members of ``synthdb_recipients`` (every recipient's group role, so every recipient login)
  connect with a scram-sha-256 password, and only to destination databases;
- any other role needs its scram-sha-256 password.

A marker file in the data directory says the server is managed this way, so publish knows
the source database is already closed to recipients (see ``destination.source_exposure``).
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import psycopg

MARKER = "synthdb_auth"
DESTINATIONS = "synthdb_destinations"
OWNER = "postgres"
GROUP = "synthdb_recipients"  # the same name as destination.RECIPIENTS_GROUP
_HEADER = "# Written by synthdb (synthdb/server_auth.py); edits are overwritten.\n"


def hba_text(destinations: list[str], owner: str = OWNER) -> str:
    """The whole pg_hba.conf: owner by peer, recipients to destinations only, others scram."""
    lines = [_HEADER, f"local all {owner} peer map=synthdb_owner\n"]
    if destinations:
        names = ",".join(f'"{name}"' for name in sorted(set(destinations)))
        lines.append(f"local {names} +{GROUP} scram-sha-256\n")
    lines += [f"local all +{GROUP} reject\n", "local all all scram-sha-256\n"]
    return "".join(lines)


def ident_text(system_users: list[str], owner: str = OWNER) -> str:
    return _HEADER + "".join(f"synthdb_owner {user} {owner}\n"
                             for user in sorted(set(system_users)))


def _destinations(pgdata: Path) -> list[str]:
    path = pgdata / DESTINATIONS
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)  # in place: the server's system user keeps owning the file
    return True


def secure(pgdata: Path, conninfo: str, system_user: str | None) -> None:
    """Write pg_hba.conf / pg_ident.conf for this server and reload it (idempotent)."""
    users = [getpass.getuser()] + ([system_user] if system_user else [])
    changed = _write_if_changed(pgdata / "pg_ident.conf", ident_text(users))
    changed |= _write_if_changed(pgdata / "pg_hba.conf", hba_text(_destinations(pgdata)))
    (pgdata / MARKER).write_text("pg_hba.conf is written by synthdb\n")
    if changed:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        _wait_for_reload(conninfo)


def _wait_for_reload(conninfo: str, timeout: float = 10.0) -> None:
    """Until a password-less login of an unknown role is refused by scram, not trust."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg.connect(conninfo + " user='synthdb_auth_probe' password='x'").close()
        except psycopg.OperationalError as exc:
            if "password authentication failed" in str(exc):
                return
        time.sleep(0.05)


def is_managed(conn) -> bool:
    """True when ``conn`` reaches a server whose pg_hba.conf synthdb writes."""
    try:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    except psycopg.Error:  # not a superuser (pg_read_all_settings): cannot be ours to manage
        if not conn.autocommit:
            conn.rollback()
        return False
    try:
        return (Path(row[0]) / MARKER).exists()
    except OSError:
        return False


def register_destination(conn, dbname: str) -> bool:
    """Let recipients connect to ``dbname`` on a managed server; ``False`` when unmanaged."""
    if not is_managed(conn):
        return False
    pgdata = Path(conn.execute("SELECT current_setting('data_directory')").fetchone()[0])
    names = _destinations(pgdata)
    if dbname in names:
        return True
    (pgdata / DESTINATIONS).write_text("".join(f"{n}\n" for n in [*names, dbname]))
    (pgdata / "pg_hba.conf").write_text(hba_text([*names, dbname]))
    conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # the postmaster re-reads pg_hba.conf on SIGHUP; new backends follow
    return True
