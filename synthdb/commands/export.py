"""``synthdb export <recipient>/<table>[/v<N>] --ticket <id> --ttl 7d --out <dir> [--csv]``.

Writes a signed, short-lived bundle of a published (and, if required, approved) release; the
export is logged in ``synthdb_audit.downloads``. See ``synthdb.governance.bundle``.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="write a signed export bundle of a release")
    parser.add_argument("release", help="<recipient>/<table>[/v<N>] (default: latest version)")
    parser.add_argument("--ticket", required=True, help="ticket id the export is made for")
    parser.add_argument("--ttl", required=True, help="token lifetime, e.g. 7d, 12h, 30m")
    parser.add_argument("--out", required=True, help="new or empty folder for the bundle")
    parser.add_argument("--csv", action="store_true", help="also write data.csv")
    parser.add_argument(
        "--key-file",
        help="signing key file (default .synthdb/signing.key; SYNTHDB_SIGNING_KEY wins)",
    )
    parser.add_argument(
        "--project-dir", default=".", help="dbt project folder (evidence, target/manifest.json)"
    )
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb import db
    from synthdb.governance.bundle import export_bundle
    from synthdb.governance.releases import ReleaseRef

    result = export_bundle(
        db.settings_from_env(),
        ReleaseRef.parse(args.release),
        ticket=args.ticket,
        ttl=args.ttl,
        out=args.out,
        csv=args.csv,
        key_file=args.key_file,
        project_dir=args.project_dir,
        audit_schema=args.audit_schema,
    )
    print(
        f"exported {result.release}: {result.rows} rows, {result.bytes} bytes in "
        f"{result.bundle} ({result.seconds:.1f} s); token valid until {result.expires_at}"
    )
    return 0
