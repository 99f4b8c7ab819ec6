"""Recording the joined release's check where the audit schema predates it."""

from __future__ import annotations

import psycopg
import pytest

from synthdb.errors import GateError
from synthdb.release import joined_checks

ROW = {"check": "joined_k_anonymity", "metric": "min_subjects_per_class", "value": 34.0,
       "threshold": 10.0, "passed": True, "details": {"tables": ["customers", "orders"]}}


def test_missing_group_checks_table_refuses_in_one_line(fresh_db) -> None:
    """An audit schema made before related releases (no group_checks table, which the engineer
    may not create under `roles setup`) refuses the group publish with a message that says
    what to do, not PostgreSQL's bare "relation does not exist"."""
    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA old_audit")
    with pytest.raises(GateError, match="has no group_checks table .* re-run `synthdb roles setup`"):
        joined_checks.record(fresh_db, "old_audit", "release", None, {"customers": "r1"}, [ROW])


def test_rows_are_recorded_when_the_table_exists(fresh_db) -> None:
    from synthdb.release import audit

    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        audit.ensure_schema(conn, "new_audit")
    joined_checks.record(fresh_db, "new_audit", "release", "inv-1", {"customers": "r1"}, [ROW])
    with psycopg.connect(fresh_db.conninfo()) as conn:
        stored = conn.execute(
            "SELECT publish_model, metric, value, passed FROM new_audit.group_checks"
        ).fetchall()
    assert stored == [("release", "min_subjects_per_class", 34.0, True)]
