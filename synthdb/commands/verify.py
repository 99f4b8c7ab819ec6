"""``synthdb verify <bundle>``: signature, expiry and checksums of an export bundle.

Exit 0 when valid, 1 with the precise reason when rejected (expired, altered or forged), 2
for usage errors (no key, no database). Every verification is logged in the audit schema.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("verify", help="verify an export bundle")
    parser.add_argument("bundle", help="bundle folder")
    parser.add_argument(
        "--key-file",
        help="signing key file (default .synthdb/signing.key; SYNTHDB_SIGNING_KEY wins)",
    )
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb import db
    from synthdb.governance.bundle import verify_bundle
    from synthdb.governance.errors import BundleRejected

    try:
        result = verify_bundle(
            db.settings_from_env(),
            args.bundle,
            key_file=args.key_file,
            project_dir=args.project_dir,
            audit_schema=args.audit_schema,
        )
    except BundleRejected as exc:
        print(f"synthdb: REJECTED: {exc}", file=sys.stderr)
        return 1
    print(f"bundle {args.bundle} OK: {result.release}, ticket {result.ticket}, {result.reason}")
    return 0
