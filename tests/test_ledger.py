"""Privacy budget ledger against a real PostgreSQL database (no mocks)."""

from __future__ import annotations

import math

import psycopg
import pytest

from synthdb.errors import ConfigError
from synthdb.release import audit, ledger

S = "synthdb_audit"


def _snapshot(conn) -> list:
    spend = conn.execute(
        f"SELECT run_id, source_relation, recipient, epsilon, delta, dp FROM {S}.budget_spend "
        "ORDER BY spend_id"
    ).fetchall()
    budget = conn.execute(
        f"SELECT source_relation, recipient, total_epsilon FROM {S}.privacy_budget ORDER BY 1, 2"
    ).fetchall()
    return [spend, budget]


def test_ledger_refuses_over_budget_and_leaves_db_unchanged(fresh_db) -> None:
    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        audit.ensure_schema(conn, S)
        ledger.ensure_ledger(conn, S)
        ledger.ensure_ledger(conn, S)  # idempotent
        for run in ("r1", "r2", "r3", "r4"):
            audit.start_run(conn, S, run, model="m")
        ledger.set_budget(conn, S, "public.people", 2.0)
        ledger.set_budget(conn, S, "public.people", 1.0, recipient="acme")
        first = ledger.reserve(conn, S, "r1", "public.people", "acme", 0.75, 0.0)
        assert first["dp"] and math.isclose(first["remaining"], 0.25)
        assert math.isclose(ledger.remaining(conn, S, "public.people", "acme"), 0.25)
        assert math.isclose(ledger.remaining(conn, S, "public.people"), 1.25)
        before = _snapshot(conn)
        with pytest.raises(ConfigError, match=r"spent 0\.75, requested 0\.5, remaining 0\.25"):
            ledger.reserve(conn, S, "r2", "public.people", "acme", 0.5, 0.0)
        with pytest.raises(ConfigError, match="non-DP"):
            ledger.reserve(conn, S, "r3", "public.people", "acme", None)
        assert _snapshot(conn) == before
        # another recipient is bound by the source-wide budget (2.0 - 0.75 left)
        with pytest.raises(ConfigError, match="source-wide"):
            ledger.reserve(conn, S, "r2", "public.people", "other", 1.5)
        assert _snapshot(conn) == before
        ledger.reserve(conn, S, "r2", "public.people", "other", 1.25)
        assert ledger.remaining(conn, S, "public.people") == pytest.approx(0.0)
        # a source without a budget: non-DP run recorded with dp = false and epsilon NULL
        rec = ledger.reserve(conn, S, "r4", "public.orders", None, None)
        assert rec["dp"] is False and rec["epsilon"] is None
        row = conn.execute(
            f"SELECT epsilon, dp FROM {S}.budget_spend WHERE run_id = 'r4'"
        ).fetchone()
        assert row == (None, False)
        # spends reference recorded runs
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            ledger.reserve(conn, S, "no-such-run", "public.orders", None, 0.1)


def test_budget_row_lock_serialises_reservations(fresh_db) -> None:
    """A second transaction waits on the budget row while the first holds it."""
    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        ledger.ensure_ledger(conn, S)
        ledger.set_budget(conn, S, "src", 1.0)
    a = psycopg.connect(fresh_db.conninfo())
    b = psycopg.connect(fresh_db.conninfo(), autocommit=True)
    try:
        a.execute(f"SELECT 1 FROM {S}.privacy_budget WHERE source_relation = 'src' FOR UPDATE")
        b.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            ledger.reserve(b, S, "x", "src", None, 0.5)
        a.rollback()
        assert ledger.reserve(b, S, "x", "src", None, 0.5)["remaining"] == pytest.approx(0.5)
    finally:
        a.close()
        b.close()
