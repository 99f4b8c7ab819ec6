"""The evidence store in the database (DESIGN §2): schema ``synthdb_audit`` by default.

``runs`` has one row per synthesis attempt (successful or not), ``metrics`` one row per measured
quantity with its threshold and verdict, ``releases`` one row per publish. The dbt tests and the
publish gate both read these rows, so what a test reports and what publish enforces agree.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

REQUIRED_CHECKS = ("k_anonymity", "rare_categories", "no_leakage")

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.runs (
        run_id          text PRIMARY KEY,
        invocation_id   text,
        model           text NOT NULL,
        source_relation text,
        target_relation text,
        mode            text,
        generator       jsonb,
        config          jsonb,
        config_hash     text,
        seed            bigint,
        train_rows      bigint,
        holdout_rows    bigint,
        synthetic_rows  bigint,
        suppressed_rows bigint,
        code_version    text,
        db_user         text NOT NULL DEFAULT current_user,
        started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at     timestamptz,
        outcome         text NOT NULL DEFAULT 'running',
        message         text,
        evidence_path   text
    )""",
    """CREATE TABLE IF NOT EXISTS {schema}.metrics (
        run_id     text NOT NULL REFERENCES {schema}.runs (run_id) ON DELETE CASCADE,
        check_name text NOT NULL,
        metric     text NOT NULL,
        value      double precision,
        threshold  double precision,
        passed     boolean,
        details    jsonb,
        PRIMARY KEY (run_id, check_name, metric)
    )""",
    """CREATE TABLE IF NOT EXISTS {schema}.releases (
        release_id        bigserial PRIMARY KEY,
        run_id            text NOT NULL REFERENCES {schema}.runs (run_id),
        recipient         text NOT NULL,
        published_relation text NOT NULL,
        version           integer NOT NULL,
        published_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_by      text NOT NULL DEFAULT current_user,
        invocation_id     text,
        manifest          jsonb,
        UNIQUE (published_relation, version)
    )""",
    """CREATE TABLE IF NOT EXISTS {schema}.downloads (
        download_id bigserial PRIMARY KEY,
        release_id  bigint REFERENCES {schema}.releases (release_id),
        action      text NOT NULL,
        ticket      text,
        at          timestamptz NOT NULL DEFAULT clock_timestamp(),
        by_user     text NOT NULL DEFAULT current_user,
        details     jsonb
    )""",
    # A run's verdict: every gated metric passed and every required check was measured.
    """CREATE OR REPLACE VIEW {schema}.verdicts AS
        SELECT r.run_id, r.model, r.outcome,
               coalesce(bool_and(m.passed) FILTER (WHERE m.passed IS NOT NULL), false)
                 AND r.outcome = 'success'
                 AND count(DISTINCT m.check_name) FILTER (
                     WHERE m.check_name IN ('k_anonymity', 'rare_categories', 'no_leakage')
                 ) = 3 AS passed,
               array_agg(m.check_name || '.' || m.metric ORDER BY m.check_name, m.metric)
                 FILTER (WHERE m.passed = false) AS failed_metrics
        FROM {schema}.runs r LEFT JOIN {schema}.metrics m USING (run_id)
        GROUP BY r.run_id, r.model, r.outcome""",
    # One row per approval of one exact release (and so one exact run): who, when, which ticket.
    """CREATE TABLE IF NOT EXISTS {schema}.approvals (
        approval_id  bigserial PRIMARY KEY,
        release_id   bigint NOT NULL REFERENCES {schema}.releases (release_id),
        run_id       text NOT NULL REFERENCES {schema}.runs (run_id),
        ticket       text NOT NULL,
        approved_by  text NOT NULL,
        approved_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        db_user      text NOT NULL DEFAULT current_user,
        UNIQUE (release_id)
    )""",
]


def ensure_schema(conn, schema: str) -> None:
    """Create the audit schema and tables if missing (idempotent)."""
    ident = sql.Identifier(schema)
    for statement in _DDL:
        conn.execute(sql.SQL(statement).format(schema=ident))


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def start_run(conn, schema: str, run_id: str, **fields: Any) -> None:
    cols = ["run_id", *fields]
    values = [run_id, *(_json(v) if isinstance(v, dict | list) else v for v in fields.values())]
    conn.execute(
        sql.SQL("INSERT INTO {}.runs ({}) VALUES ({})").format(
            sql.Identifier(schema),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)),
        ),
        values,
    )


def finish_run(conn, schema: str, run_id: str, outcome: str, **fields: Any) -> None:
    fields = {"outcome": outcome, **fields}
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in fields
    )
    conn.execute(
        sql.SQL("UPDATE {}.runs SET {}, finished_at = clock_timestamp() WHERE run_id = %s").format(
            sql.Identifier(schema), assignments
        ),
        [*(_json(v) if isinstance(v, dict | list) else v for v in fields.values()), run_id],
    )


def store_metrics(conn, schema: str, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Insert metric rows: dicts with check, metric, value, threshold, passed, details."""
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.metrics (run_id, check_name, metric, value, threshold, passed, "
                "details) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(sql.Identifier(schema)),
            [
                (run_id, r["check"], r["metric"], _finite(r.get("value")),
                 _finite(r.get("threshold")), r.get("passed"), _json(r.get("details") or {}))
                for r in rows
            ],
        )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def verdict(conn, schema: str, run_id: str) -> dict[str, Any] | None:
    """The stored verdict of a run: passed flag, failed metrics and per-check rows."""
    row = conn.execute(
        sql.SQL("SELECT passed, failed_metrics, outcome FROM {}.verdicts WHERE run_id = %s").format(
            sql.Identifier(schema)
        ),
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    metrics = conn.execute(
        sql.SQL(
            "SELECT check_name, metric, value, threshold, passed FROM {}.metrics "
            "WHERE run_id = %s ORDER BY check_name, metric"
        ).format(sql.Identifier(schema)),
        (run_id,),
    ).fetchall()
    return {
        "run_id": run_id,
        "passed": bool(row[0]),
        "failed_metrics": list(row[1] or []),
        "outcome": row[2],
        "metrics": [
            {"check": m[0], "metric": m[1], "value": m[2], "threshold": m[3], "passed": m[4]}
            for m in metrics
        ],
    }
