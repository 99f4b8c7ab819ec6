"""``synthdb recipient add-user <recipient> <login>``: a personal login for a recipient.

The login joins the recipient's group role (from its latest release, or ``--role``), so it
reads exactly what was released to that recipient. Passwords come from an environment
variable, never from the command line (which other users can see in the process list).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("recipient", help="manage recipient logins")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add-user", help="create a LOGIN role in the recipient's group role")
    add.add_argument("recipient")
    add.add_argument("login")
    add.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the password (default: none; the login cannot "
        "connect until it has one)",
    )
    add.add_argument("--role", help="group role (default: the role of the latest release)")
    add.add_argument("--audit-schema", default="synthdb_audit")
    add.set_defaults(func=run_add_user)


def run_add_user(args: argparse.Namespace) -> int:
    from synthdb import db
    from synthdb.governance.users import add_user, password_from_env
    from synthdb.release.destination import destination_settings

    password = password_from_env(args.password_env)
    settings = db.settings_from_env()
    group = add_user(
        settings,
        args.recipient,
        args.login,
        password=password,
        role=args.role,
        audit_schema=args.audit_schema,
    )
    print(
        f"login {args.login} can now read what is released to {args.recipient} "
        f"(member of {group}); connect with: "
        f"{destination_settings(settings).psql_command(user=args.login)}"
    )
    return 0
