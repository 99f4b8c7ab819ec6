"""``synthdb key set|list``: pseudonymisation keys kept out of SQL (issue 12).

``synthdb key set <name> [--from-env VAR] [--grant ROLE ...]`` stores a key for
``pseudonymize(col, '<name>')`` in the owner-only table ``synthdb_keys.keys`` (a random 32-byte
key unless ``VAR`` holds one). The key is read from the environment, never from the command
line, and never printed. ``synthdb key list`` shows names and dates only.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("key", help="set or list pseudonymisation keys")
    actions = parser.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="store a key (random unless --from-env)")
    put.add_argument("name")
    put.add_argument("--from-env", metavar="VAR", help="environment variable holding the key")
    put.add_argument("--grant", metavar="ROLE", action="append", default=[],
                     help="role that may compute pseudonyms (e.g. the engineer's dbt role)")
    put.set_defaults(func=run_set)
    show = actions.add_parser("list", help="names of the stored keys (never the keys)")
    show.set_defaults(func=run_list)


def _connect():
    """The owner's connection, resolving in pg_catalog first: the engineer may own the
    database and set its search_path, and a function of theirs called here would run with the
    rights of the only role that can read the keys (digest.connect_in_catalog)."""
    from synthdb.release import digest

    return digest.connect_in_catalog()


def run_set(args: argparse.Namespace) -> int:
    import os

    from synthdb.errors import ConfigError
    from synthdb.release import keys

    key = None
    if args.from_env:
        value = os.environ.get(args.from_env)
        if not value:
            raise ConfigError(f"--from-env {args.from_env}: the environment variable is unset "
                              "or empty")
        key = value.encode()
    with _connect() as conn:
        replaced = keys.set_key(conn, args.name, key, grant_to=args.grant)
        conn.commit()
    print(f"key {args.name} {'replaced' if replaced else 'stored'} in {keys.KEY_SCHEMA}.keys "
          f"({'from ' + args.from_env if key else 'random'}); pseudonyms made with the old key "
          "no longer match" if replaced else
          f"key {args.name} stored in {keys.KEY_SCHEMA}.keys "
          f"({'from ' + args.from_env if key else 'random 32 bytes'})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from synthdb.release import keys

    with _connect() as conn:
        for name, set_at, set_by in keys.key_names(conn):
            print(f"{name}\tset {set_at:%Y-%m-%d %H:%M} by {set_by}")
    return 0
