"""``synthdb budget set|show``: the differential-privacy budget of a source (issue 7).

A source relation (the contract a synthetic model learns from, e.g.
``synthdb_contracts.contract_transactions``) gets a total epsilon, optionally per recipient.
Each DP release debits it before reading any data; over-budget runs are refused.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("budget", help="set or show a source's privacy budget")
    parser.add_argument("action", choices=["set", "show"])
    parser.add_argument("source", help="schema.relation of the training input")
    parser.add_argument("epsilon", nargs="?", type=float, help="total epsilon (for set)")
    parser.add_argument("--recipient", default=None, help="budget for one recipient only")
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synthdb.errors import ConfigError
    from synthdb.release import audit, digest, ledger

    # pg_catalog first: the engineer may own this database and set its search_path
    with digest.connect_in_catalog() as conn:
        audit.ensure_schema(conn, args.audit_schema)
        ledger.ensure_ledger(conn, args.audit_schema)
        if args.action == "set":
            if args.epsilon is None:
                raise ConfigError("budget set needs the total epsilon, e.g. synthdb budget set "
                                  "synthdb_contracts.contract_transactions 3.0")
            ledger.set_budget(conn, args.audit_schema, args.source, args.epsilon, args.recipient)
        left = ledger.remaining(conn, args.audit_schema, args.source, args.recipient)
        conn.commit()
    who = f" for {args.recipient}" if args.recipient else ""
    print(f"{args.source}{who}: remaining epsilon "
          + ("unlimited (no budget set)" if left == float("inf") else f"{left:g}"))
    return 0
