"""The ``synthdb`` command line.

Each sub-command lives in its own module under ``synthdb.commands`` with a
``register(subparsers)`` function; this file only wires them together and turns
``SynthdbError`` into one clear line on stderr (no traceback soup).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from synthdb import __version__
from synthdb.errors import SynthdbError

# Modules under synthdb.commands that add sub-commands (one line each).
COMMAND_MODULES = [
    "db",
    "demo",
    "budget",
    "report",
    "scan",
    "validate",
    "recipient",
    "export",
    "verify",
    "approve",
    "key",
    "roles",
    "package",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthdb", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"synthdb {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"synthdb.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SynthdbError as exc:
        print(f"synthdb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
