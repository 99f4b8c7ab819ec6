"""``synthdb validate [--update]``: lint share contracts and check their sources for drift.

Reads dbt's ``target/manifest.json`` written by ``dbt compile`` (``dbt parse`` is not enough:
it leaves no compiled SQL). Lint issues and drift are printed one per line naming model, column
and rule; the exit status is 1 when there is any, so CI goes red. ``--update`` approves the
current source schemas by rewriting ``synthdb.lock.yml`` (lint must still pass). It connects
to the database the project's dbt profile names (synthdb.contract.profile_connection).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate", help="lint share contracts (column lineage) and check source schema drift"
    )
    parser.add_argument("--project-dir", default=".", help="dbt project folder (default .)")
    parser.add_argument(
        "--manifest", help="path of manifest.json (default <project-dir>/target/manifest.json)"
    )
    parser.add_argument("--lock", help="lock file (default <project-dir>/synthdb.lock.yml)")
    parser.add_argument(
        "--update", action="store_true", help="approve the live source schemas into the lock file"
    )
    parser.add_argument("--profiles-dir", help="folder of profiles.yml (default: as dbt finds "
                        "it; the project folder is tried too). Without a profile, SYNTHDB_*")
    parser.add_argument("--target", help="profile target (default: the profile's own)")
    parser.add_argument("--no-drift", action="store_true", help="skip the schema drift check")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb.contract.validate import validate_project

    report = validate_project(
        project_dir=args.project_dir,
        manifest_path=args.manifest,
        lock_path=args.lock,
        update=args.update,
        check_drift=not args.no_drift,
        profiles_dir=args.profiles_dir,
        target=args.target,
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
