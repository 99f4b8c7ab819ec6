"""``synthdb roles setup --engineer <role>``: an owner for the audit schema (issue 12).

See synthdb.release.roles and docs/trust-model.md for what this protects and what it cannot.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "roles", help="hand the audit schema to an owner role; limit the dbt engineer's role")
    parser.add_argument("action", choices=["setup"])
    parser.add_argument("--engineer", required=True,
                        help="the role dbt logs in as (must exist, must not be a superuser)")
    parser.add_argument("--owner", default="synthdb_owner",
                        help="owner role to create (NOLOGIN) or reuse; default synthdb_owner")
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb import db
    from synthdb.release import digest, roles, share_roles

    # pg_catalog first: the engineer may own this database and set its search_path
    with digest.connect_in_catalog() as conn:
        done = roles.setup(conn, args.engineer, args.owner, args.audit_schema)
        conn.commit()
    print(f"{done['audit_schema']}: owned by {done['owner']}; {done['engineer']} may read it, "
          "start runs and append releases, downloads and budget spends; verdicts are written "
          "only by the owner's seal_run")
    share = share_roles.setup_destination(db.settings_from_env(), args.engineer)
    print(f"{share}: {done['engineer']} may create release schemas there and record releases; "
          f"recipient group roles are made only by {share_roles.ADMIN_ROLE}'s "
          "ensure_recipient_role")
    return 0
