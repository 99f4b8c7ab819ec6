"""``synthdb scan <schema | schema.table>``: suggest a privacy classification for columns.

Prints one line per column (class, policy, detected kind, confidence, evidence as counts) and,
with ``--yaml``, writes dbt ``sources:`` YAML carrying ``meta.synthdb`` blocks. Sampled values
are never printed.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="detect likely PII in a schema or table and suggest a classification"
    )
    parser.add_argument("target", help="schema or schema.table")
    parser.add_argument("--sample", type=int, default=500, help="rows sampled per table")
    parser.add_argument(
        "--min-share", type=float, default=0.3, help="share of values that must match a detector"
    )
    parser.add_argument("--yaml", metavar="PATH", help="write suggested dbt sources YAML here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb.contract.scan import PiiScanner, format_findings, write_yaml
    from synthdb.release import digest

    scanner = PiiScanner(sample_size=args.sample, min_share=args.min_share)
    # pg_catalog first: a function of the database owner's must not decide what looks like PII
    with digest.connect_in_catalog() as conn:
        conn.read_only = True
        findings = scanner.scan(conn, args.target)
    print(format_findings(findings))
    if args.yaml:
        write_yaml(findings, args.yaml)
        print(f"wrote {args.yaml}")
    return 0
