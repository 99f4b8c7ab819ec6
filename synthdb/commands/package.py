"""``synthdb package-path``: the folder of the dbt package ``synthdb`` for ``packages.yml``.

    packages:
      - local: "{{ env_var('SYNTHDB_DBT_PACKAGE') }}"

with ``export SYNTHDB_DBT_PACKAGE="$(synthdb package-path)"`` before ``dbt deps``: the macros
and generic tests of exactly the installed synthdb, with no checkout and no network.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "package-path", help="print the folder of the dbt package synthdb (for packages.yml)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb.dbt_package_path import dbt_package_path

    print(dbt_package_path())
    return 0
