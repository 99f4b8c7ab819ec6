"""``synthdb demo source|release``: the production-like demo source and its full release."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from synthdb.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="create the demo source / run the demo release")
    parser.add_argument("action", choices=["source", "release"])
    parser.add_argument("--customers", type=int, default=100_000,
                        help="number of customers (transactions: twice as many); default 100000")
    parser.add_argument("--seed", type=int, default=42, help="seed of the demo source")
    parser.add_argument("--project-dir", default=".",
                        help="the demo dbt project (default: .; in the repository: examples/demo)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.customers < 1:
        raise ConfigError("--customers must be at least 1")
    if args.action == "source":
        import psycopg

        from synthdb import db
        from synthdb.demo.source import load_demo_source

        with psycopg.connect(db.settings_from_env().conninfo()) as conn:
            counts = load_demo_source(conn, customers=args.customers, seed=args.seed)
            conn.commit()
        for table, n in counts.items():
            print(f"{table}: {n:,} rows")
        return 0
    from synthdb.demo.release import run as run_release

    project = Path(args.project_dir).resolve()
    config = project / "dbt_project.yml"
    if not config.exists():
        raise ConfigError(f"{project} is not a dbt project (no dbt_project.yml); use --project-dir")
    if _project_name(config) == "synthdb":
        raise ConfigError(f"{project} is the synthdb dbt package, not the demo; "
                          "use --project-dir examples/demo (or `make demo`)")
    # dbt runs in the project folder, so the embedded server (./.synthdb) must be that folder's
    os.chdir(project)
    return run_release(project, args.customers, args.seed)


def _project_name(config: Path) -> str | None:
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    return data.get("name") if isinstance(data, dict) else None
