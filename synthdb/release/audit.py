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
    # What the verdict vouches for (synthdb.release.digest.Fingerprint): the staged table's
    # oid, schema, name, relkind, columns and content digest, recorded at the swap.
    "ALTER TABLE {schema}.runs ADD COLUMN IF NOT EXISTS fingerprint jsonb",
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
    # The gate on a release group's joined tables (synthdb.release.joined_checks): one row per
    # measured figure, kept whether the publish went ahead or was refused.
    """CREATE TABLE IF NOT EXISTS {schema}.group_checks (
        group_check_id bigserial PRIMARY KEY,
        publish_model  text NOT NULL,
        invocation_id  text,
        runs           jsonb NOT NULL,
        check_name     text NOT NULL,
        metric         text NOT NULL,
        value          double precision,
        threshold      double precision,
        passed         boolean,
        details        jsonb,
        measured_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        db_user        text NOT NULL DEFAULT current_user
    )""",
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


def managed(conn, schema: str) -> bool:
    """True when ``synthdb roles setup`` handed the audit schema to an owner role.

    Then the tables exist and belong to the owner; the engineer's role reads them, appends
    what it may, and records verdicts only through the owner's functions (synthdb.release.roles).
    """
    return bool(conn.execute(
        "SELECT to_regprocedure(quote_ident(%s) || '.seal_run(text,text,text,jsonb,jsonb)') "
        "IS NOT NULL", (schema,)).fetchone()[0])


def ensure_schema(conn, schema: str, force: bool = False) -> None:
    """Create the audit schema and tables if missing (idempotent; a managed schema is left
    to its owner unless ``force``)."""
    if not force and managed(conn, schema):
        return
    ident = sql.Identifier(schema)
    for statement in _DDL:
        conn.execute(sql.SQL(statement).format(schema=ident))


# Advisory-lock namespace of synthesis runs: a run holds (RUN_LOCK_CLASS, hashtext(run_id)) on
# its own session for as long as it lives, so "is that process gone?" is one try-lock away.
RUN_LOCK_CLASS = 0x5D7B


def hold_run_lock(conn, run_id: str) -> None:
    """Take the run's session-level advisory lock; released when the connection ends."""
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (RUN_LOCK_CLASS, run_id))


ORPHANED = ("orphaned: the process running it ended before it finished (killed or "
            "disconnected); marked failed by a later run")


def fail_run(conn, schema: str, run_id: str, message: str) -> bool:
    """Mark ``run_id`` failed: directly, or through the owner's function when managed."""
    if managed(conn, schema):
        return bool(conn.execute(sql.SQL("SELECT {}.fail_run(%s, %s)").format(
            sql.Identifier(schema)), (run_id, message)).fetchone()[0])
    finish_run(conn, schema, run_id, "error", message=message)
    return True


def seal_run(conn, schema: str, run_id: str, table: tuple[str, str],
             rows: list[dict[str, Any]], fields: dict[str, Any]) -> dict[str, Any]:
    """Managed schema: the owner's ``seal_run`` fingerprints ``table``, measures the SQL
    checks itself, stores the metric rows and marks the run a success; returns the fingerprint.
    """
    owner = conn.execute("SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = "
                         "n.nspowner WHERE n.nspname = %s", (schema,)).fetchone()[0]
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
        sql.Identifier(table[0]), sql.Identifier(owner)))
    conn.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
        sql.Identifier(table[0]), sql.Identifier(table[1]), sql.Identifier(owner)))
    payload = [{"check": r["check"], "metric": r["metric"], "value": _finite(r.get("value")),
                "threshold": _finite(r.get("threshold")), "passed": r.get("passed"),
                "details": r.get("details") or {}} for r in rows]
    return conn.execute(sql.SQL("SELECT {}.seal_run(%s, %s, %s, %s, %s)").format(
        sql.Identifier(schema)), (run_id, table[0], table[1], _json(payload), _json(fields))
    ).fetchone()[0]


def fail_orphans(conn, schema: str) -> list[str]:
    """Mark ``running`` runs whose process is gone as failed; returns their run ids.

    A run's lock is held by its live session, so a lock we can take belongs to a session that
    ended (``kill -9``, a lost connection): its row would otherwise say ``running`` forever.
    A concurrent live run keeps its lock and its row. Commits.
    """
    done = []
    rows = conn.execute(sql.SQL("SELECT run_id FROM {}.runs WHERE outcome = 'running'").format(
        sql.Identifier(schema))).fetchall()
    if rows and managed(conn, schema):
        for (run_id,) in rows:
            if fail_run(conn, schema, run_id, ORPHANED):
                done.append(run_id)
        conn.commit()
        return done
    for (run_id,) in rows:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                           (RUN_LOCK_CLASS, run_id)).fetchone()[0]
        if not got:
            continue
        try:
            conn.execute(sql.SQL(
                "UPDATE {}.runs SET outcome = 'error', finished_at = clock_timestamp(), "
                "message = %s WHERE run_id = %s AND outcome = 'running'").format(
                sql.Identifier(schema)), (ORPHANED, run_id))
            conn.commit()
            done.append(run_id)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (RUN_LOCK_CLASS, run_id))
            conn.commit()
    return done


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
