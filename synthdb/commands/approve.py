"""``synthdb approve <recipient>/<table>/v<N> [--group] --ticket <id> --by <name>``.

Records the approval of one exact release in the audit schema, then grants its recipient role
SELECT — the only way a release published with ``approval_required: true`` becomes readable.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("approve", help="approve a release and grant it to its role")
    parser.add_argument("release", help="<recipient>/<table>/v<N>")
    parser.add_argument("--ticket", required=True, help="change/approval ticket id")
    parser.add_argument("--by", required=True, help="name of the approver")
    parser.add_argument("--group", action="store_true",
                        help="approve every table published together with this release "
                             "(publish.related), all or none")
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb import db
    from synthdb.governance.approvals import approve, approve_group
    from synthdb.governance.releases import ReleaseRef

    result = (approve_group if args.group else approve)(
        db.settings_from_env(),
        ReleaseRef.parse(args.release),
        ticket=args.ticket,
        by=args.by,
        audit_schema=args.audit_schema,
    )
    approved = ", ".join(result.get("releases") or [f"{result['release']} (run "
                                                    f"{result['run_id']})"])
    print(f"approved {approved} under ticket {result['ticket']} by {result['approved_by']}; "
          f"granted SELECT to {result['role']}")
    return 0
