"""Privacy budget ledger: how much epsilon each source has spent, per recipient, in the database.

Why in the database: budgets are shared state between concurrent dbt runs and users; a row lock
on the budget row (``SELECT ... FOR UPDATE``) makes "check remaining, then record the spend" one
atomic step, so two releases cannot both squeeze through the last bit of budget. ``reserve`` is
called *before* any source row is read, so a refused release has cost nothing.

Tables (in the audit schema):

* ``privacy_budget`` — one row per (source relation, recipient) with the total epsilon allowed;
  ``recipient`` NULL is the source-wide budget that every recipient's spend counts against.
* ``budget_spend`` — one row per run: epsilon and delta (NULL for non-DP runs, ``dp`` false).

Budgets follow the data (issue 12): each budget row and each spend also records the *base
tables* its relation reads (synthdb.release.lineage: catalog and dbt lineage). A budget binds a
run, and a spend counts against a budget, when they share a base table — so the same SQL under
another view name is bound by the same budget. Rows written before this have no base tables
and match on the relation name only.

Accounting is basic sequential composition: spent = sum of epsilons. A source with no budget row
is unlimited (the spend is still recorded). A non-DP run on a source that has a budget is refused:
its privacy loss is unbounded.
"""

from __future__ import annotations

import math
from typing import Any

from psycopg import sql

from synthdb.errors import ConfigError
from synthdb.release import digest

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.privacy_budget (
        budget_id       bigserial PRIMARY KEY,
        source_relation text NOT NULL,
        recipient       text,
        total_epsilon   double precision NOT NULL CHECK (total_epsilon >= 0),
        updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    # one budget per (source, recipient), NULL recipient included (NULLs are not equal in UNIQUE)
    """CREATE UNIQUE INDEX IF NOT EXISTS privacy_budget_key
        ON {schema}.privacy_budget (source_relation, coalesce(recipient, ''))""",
    """CREATE TABLE IF NOT EXISTS {schema}.budget_spend (
        spend_id        bigserial PRIMARY KEY,
        run_id          text NOT NULL,
        source_relation text NOT NULL,
        recipient       text,
        epsilon         double precision CHECK (epsilon IS NULL OR epsilon > 0),
        delta           double precision,
        dp              boolean NOT NULL,
        at              timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK (dp = (epsilon IS NOT NULL))
    )""",
]


_DDL += [
    "ALTER TABLE {schema}.privacy_budget ADD COLUMN IF NOT EXISTS base_relations text[]",
    "ALTER TABLE {schema}.budget_spend ADD COLUMN IF NOT EXISTS base_relations text[]",
]


def _q(schema: str, table: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def ensure_ledger(conn, schema: str, force: bool = False) -> None:
    """Create the ledger tables if missing (idempotent; a managed schema is left to its
    owner unless ``force``)."""
    from synthdb.release.audit import managed

    if not force and managed(conn, schema):
        return
    for statement in _DDL:
        conn.execute(sql.SQL(statement).format(schema=sql.Identifier(schema)))
    # Reference the audit runs table when it exists (audit.ensure_schema creates it), so a
    # spend always points at a recorded run; the ledger still works stand-alone without it.
    has_runs = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema.replace(chr(34), chr(34) * 2)}".runs',)
    ).fetchone()[0]
    has_fk = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'budget_spend_run_fk' "
        "AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s))",
        (schema,),
    ).fetchone()[0]
    if has_runs and not has_fk:
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT budget_spend_run_fk FOREIGN KEY (run_id) "
                "REFERENCES {} (run_id)"
            ).format(_q(schema, "budget_spend"), _q(schema, "runs"))
        )


def set_budget(conn, schema: str, source: str, total: float, recipient: str | None = None
               ) -> None:
    """Set (insert or replace) the total epsilon of ``source`` for ``recipient`` (None = all).

    The budget covers the base tables ``source`` reads now (views followed in the catalog).
    """
    from synthdb.release.lineage import catalog_bases

    total = float(total)
    if not (total >= 0 and math.isfinite(total)):
        raise ConfigError(f"privacy budget of {source!r}: total epsilon must be >= 0, got {total}")
    bases = sorted({source, *catalog_bases(conn, source)})
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (source_relation, recipient, total_epsilon, base_relations) "
                "VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (source_relation, coalesce(recipient, '')) DO UPDATE "
                "SET total_epsilon = excluded.total_epsilon, "
                "base_relations = excluded.base_relations, updated_at = clock_timestamp()"
            ).format(_q(schema, "privacy_budget")),
            (source, recipient, total, bases),
        )


def _spent(conn, schema: str, covers: list[str], recipient: str | None) -> float:
    """Epsilon spent by runs that read any of ``covers`` (for ``recipient``; None = anyone)."""
    row = conn.execute(
        sql.SQL("SELECT coalesce(sum(epsilon), 0) FROM {} WHERE dp "
                "AND (source_relation = ANY(%(c)s) OR base_relations && %(c)s::text[]) "
                "AND (%(r)s::text IS NULL OR recipient = %(r)s)").format(
            _q(schema, "budget_spend")),
        {"c": covers, "r": recipient},
    ).fetchone()
    return float(row[0])


def _budgets(conn, schema: str, keys: list[str], recipient: str | None, lock: bool) -> list:
    """Budget rows that bind a run reading ``keys``: source-wide and the recipient's own.

    Each row is (source_relation, recipient, total, covers): covers are the base tables (and
    the name) the budget was set on.
    """
    q = sql.SQL(
        "SELECT source_relation, recipient, total_epsilon, "
        "array_append(coalesce(base_relations, '{{}}'::text[]), source_relation) FROM {} "
        "WHERE (recipient IS NULL OR recipient = %(r)s) "
        "AND (source_relation = ANY(%(k)s) OR base_relations && %(k)s::text[]) "
        "ORDER BY budget_id"
    ).format(_q(schema, "privacy_budget"))
    if lock:
        q = q + sql.SQL(" FOR UPDATE")
    return conn.execute(q, {"r": recipient, "k": keys}).fetchall()


def _keys(conn, source: str, bases: list[str] | None) -> list[str]:
    from synthdb.release.lineage import catalog_bases

    return sorted({source, *(bases if bases is not None else catalog_bases(conn, source))})


def remaining(conn, schema: str, source: str, recipient: str | None = None,
              bases: list[str] | None = None) -> float:
    """Epsilon still available for ``recipient`` on ``source`` (inf if no budget applies).
    Summed in pg_catalog (``reserve`` says why)."""
    left = math.inf
    with conn.transaction(), digest.catalog_first(conn):
        for _, who, total, covers in _budgets(conn, schema, _keys(conn, source, bases),
                                              recipient, lock=False):
            left = min(left, float(total) - _spent(conn, schema, covers, who))
    return left


def reserve(
    conn,
    schema: str,
    run_id: str,
    source: str,
    recipient: str | None,
    epsilon: float | None,
    delta: float | None = None,
    bases: list[str] | None = None,
) -> dict[str, Any]:
    """Record the spend of one run, or refuse (ConfigError) if it would exceed a budget.

    ``epsilon`` None (or inf) is a non-DP run: recorded with ``dp`` false, refused if a
    budget applies to the source. ``bases`` are the tables the source reads (default: from
    the catalog); a budget on any relation over one of them applies. Budget rows are locked
    for the check-and-insert, so concurrent reservations serialise. Nothing is written when
    refused.

    Everything here resolves in pg_catalog (``digest.catalog_first``): the run's connection
    is the engineer's, whose role may ``SET search_path = <own schema>, pg_catalog``, and a
    ``sum(double precision)`` of theirs answering 0 let a run spend a budget already spent
    (tests/test_attacks_destination.py).
    """
    dp = epsilon is not None and math.isfinite(float(epsilon))
    if dp and not float(epsilon) > 0:
        raise ConfigError(f"run {run_id}: epsilon must be > 0, got {epsilon!r}")
    with conn.transaction(), digest.catalog_first(conn):
        keys = _keys(conn, source, bases)
        budgets = _budgets(conn, schema, keys, recipient, lock=True)
        report: dict[str, Any] = {
            "run_id": run_id,
            "source": source,
            "recipient": recipient,
            "dp": dp,
            "epsilon": float(epsilon) if dp else None,
            "delta": (float(delta or 0.0) if dp else None),
            "remaining": math.inf,
            "base_relations": keys,
        }
        for key, who, total, covers in budgets:
            scope = "source-wide" if who is None else f"recipient {who!r}"
            if key != source:
                shared = sorted(set(covers) & set(keys) - {key})
                scope += f", set on {key!r}, which reads the same table(s) {', '.join(shared)}"
            spent = _spent(conn, schema, covers, who)
            left = float(total) - spent
            if not dp:
                raise ConfigError(
                    f"privacy budget of {source!r} ({scope}): a non-DP release has unbounded "
                    f"privacy loss; set synth.generator.epsilon (spent {spent:g}, remaining "
                    f"{left:g} of {float(total):g})"
                )
            if float(epsilon) > left + 1e-12:
                raise ConfigError(
                    f"privacy budget of {source!r} ({scope}) exceeded: spent {spent:g}, "
                    f"requested {float(epsilon):g}, remaining {left:g} of {float(total):g}"
                )
            report["remaining"] = min(report["remaining"], left - float(epsilon))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, source_relation, recipient, epsilon, delta, dp, "
                "base_relations) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(_q(schema, "budget_spend")),
            (run_id, source, recipient, report["epsilon"], report["delta"], dp, keys),
        )
    return report
