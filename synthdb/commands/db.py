"""``synthdb db start|stop|status|url``: manage the embedded PostgreSQL server."""

from __future__ import annotations

import argparse

from synthdb import db


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="manage the embedded PostgreSQL server")
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "start":
        settings = db.start_embedded()
        print(f"embedded PostgreSQL running; connect with: {settings.psql_command()}")
    elif args.action == "stop":
        print("stopped" if db.stop_embedded() else "not running")
    elif args.action == "status":
        settings = db.embedded_status()
        print("not running" if settings is None else f"running at {settings.host}")
        return 0 if settings is not None else 1
    else:
        settings = db.settings_from_env(start=False)
        print(settings.conninfo())
    return 0
