"""One synthesis run: contract view in, synthetic table (staging) plus stored evidence out.

Atomicity (DESIGN §2, "choose one and document it"): rows are written with psycopg 3 COPY into a
uniquely named table ``__synthdb_tmp_<run>`` in the staging schema. Only when generation, k
suppression and all metrics have succeeded is it swapped in for the target in one transaction
(DROP old + RENAME new + COMMENT), so readers see the old table or the new one, never a half one.
Any failure drops the temporary table and records the run as failed; the previous table is
untouched. Leftover temporaries of a killed process are removed at the start of the next run.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from synthdb import __version__
from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError, EmptyInputError, SynthdbError
from synthdb.release import (
    audit,
    digest,
    ledger,
    lineage,
    pgio,
    precheck,
    pseudonyms,
    sqlchecks,
)
from synthdb.release.config import SynthConfig
from synthdb.release.progress import Progress

TMP_PREFIX = "__synthdb_tmp_"
REPORT_KEYS = ("target", "protected_attributes", "min_group_size")


@dataclass
class SynthesisRequest:
    """What the ``synthetic`` materialization asks for."""

    model: str
    source: tuple[str, str]  # (schema, name) of the training input (the contract)
    target: tuple[str, str]  # (schema, name) of the staging table to (re)place
    config: SynthConfig
    upstream_schemas: list[str] = field(default_factory=list)  # schemas the contract reads
    invocation_id: str | None = None
    audit_schema: str = "synthdb_audit"
    project_root: str = "."
    contract_id: str | None = None  # dbt unique id of the contract, for the in-build lint
    graph: dict[str, Any] | None = None
    target_path: str = "target"
    progress: Progress | None = None  # stage lines (dbt's logger inside dbt)
    warnings: list[str] = field(default_factory=list)  # e.g. tests looser than the config


def _qualified(schema: str, name: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _label(schema: str, name: str) -> str:
    return f"{schema}.{name}"


def check_isolation(request: SynthesisRequest) -> None:
    """Refuse to write next to the data we learn from (DESIGN §2: enforced, not advised)."""
    target_schema = request.target[0]
    protected = {request.source[0], *request.upstream_schemas, *request.config.protected_schemas}
    if target_schema in protected:
        raise ConfigError(
            f"model {request.model}: refusing to write synthetic data into schema "
            f"{target_schema!r}, which holds source data the release reads from (protected: "
            f"{', '.join(sorted(protected))}); give the model its own staging schema, e.g. "
            "config(schema='<recipient>_staging')"
        )


def _cleanup_stale(conn, schema: str, audit_schema: str) -> None:
    """Drop temporary tables of runs that are over (a live run's table is left alone).

    Call after audit.fail_orphans: a run still 'running' then is alive.
    """
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname LIKE %s",
        (schema, TMP_PREFIX.replace("_", r"\_") + "%"),
    ).fetchall()
    for (name,) in rows:
        live = conn.execute(sql.SQL(
            "SELECT 1 FROM {}.runs WHERE outcome = 'running' AND run_id LIKE %s").format(
            sql.Identifier(audit_schema)), (name[len(TMP_PREFIX):] + "%",)).fetchone()
        if live:
            continue
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(schema, name)))


def _count_rows(conn, request: SynthesisRequest) -> int:
    n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        _qualified(*request.source))).fetchone()[0]
    if n == 0:
        raise EmptyInputError(
            f"model {request.model}: the training input {_label(*request.source)} has no rows; "
            "nothing to learn from (the previous release is untouched)"
        )
    return int(n)


def _read_training(conn, request: SynthesisRequest, columns: list[pgio.PgColumn], seed: int
                   ) -> tuple[pd.DataFrame, int]:
    cfg = request.config
    source = _qualified(*request.source)
    n_source = _count_rows(conn, request)
    select = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), source
    )
    limit = int(cfg.max_train_rows / (1 - cfg.holdout))
    if n_source > limit:
        # Bernoulli sample in SQL (views cannot TABLESAMPLE); seeded so a fixed seed repeats.
        _seed_session_random(conn, seed)
        fraction = min(1.0, 1.1 * limit / n_source)
        select = sql.SQL("SELECT * FROM ({}) s WHERE random() < {}").format(
            select, sql.Literal(fraction)
        )
    frame = pgio.read_frame(conn, select, columns)
    if len(frame) > limit:
        frame = frame.sample(n=limit, random_state=seed % 2**32).reset_index(drop=True)
    return frame, int(n_source)


def _seed_session_random(conn, seed: int) -> None:
    """Seed this session's ``random()`` from the run's seed (setseed takes [-1, 1])."""
    conn.execute("SELECT setseed(%s)", ((seed % 2_000_000) / 1_000_000 - 1,))


def _split(frame: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_hold = int(round(len(frame) * holdout)) if len(frame) >= 10 else 0
    return (frame.iloc[order[n_hold:]].reset_index(drop=True),
            frame.iloc[order[:n_hold]].reset_index(drop=True))


def _specs(frame: pd.DataFrame, columns: list[pgio.PgColumn], cfg: SynthConfig, model: str):
    from synthdb.generators import infer_specs

    unknown = sorted(set(cfg.columns) - {c.name for c in columns})
    if unknown:
        raise ConfigError(
            f"model {model}: config synth.columns names column(s) {', '.join(map(repr, unknown))} "
            "that the training input does not have"
        )
    specs = infer_specs(frame, {c.name: c.pg_type for c in columns})
    mock: set[str] = set()
    for spec in specs:
        override = cfg.columns.get(spec.name) or {}
        if not isinstance(override, dict):
            raise ConfigError(f"model {model}: config synth.columns.{spec.name} must be a mapping")
        if override.get("method") == "mock":
            mock.add(spec.name)
        elif override.get("method") not in (None, "synthesize"):
            raise ConfigError(
                f"model {model}: synth.columns.{spec.name}.method must be 'synthesize' or 'mock'"
            )
        if "kind" in override:
            spec.kind = override["kind"]
        if "role" in override:
            spec.role = override["role"]
    return specs, mock


def _build_generator(cfg: SynthConfig, seed: int, mock: set[str]):
    """The model's generator: ``synth.generator.method`` (default: ``default_generator``'s)."""
    from synthdb.generators import MockGenerator, build_generator

    if cfg.mode == "mock":
        return MockGenerator(seed=seed)
    options = {
        "rare_min_count": cfg.privacy.rare_min_count,
        "max_train_rows": cfg.max_train_rows,
        "chunk_size": cfg.chunk_size,
        "random_state": seed,
        **cfg.generator,
    }
    try:
        return build_generator(**options, passthrough_mock=mock)
    except ConfigError as exc:
        raise ConfigError(f"config synth.generator: {exc}") from exc


def _privacy_metrics(conn, table, request: SynthesisRequest, specs, mock: set[str],
                     suppressed: int, n_written: int) -> list[dict[str, Any]]:
    privacy = request.config.privacy
    rows: list[dict[str, Any]] = []
    if privacy.quasi_identifiers:
        stats = sqlchecks.k_anonymity(conn, table, privacy.quasi_identifiers, privacy.k)
        rows.append({
            "check": "k_anonymity", "metric": "min_class_size",
            "value": stats["min_class_size"], "threshold": privacy.k,
            "passed": stats["classes_below_k"] == 0 and stats["rows"] > 0,
            "details": {**stats, "quasi_identifiers": privacy.quasi_identifiers,
                        "suppressed_rows": suppressed},
        })
        rows.append({
            "check": "k_anonymity", "metric": "suppressed_share",
            "value": suppressed / n_written if n_written else 0.0,
            "threshold": privacy.max_suppression,
            "passed": n_written > 0 and suppressed / n_written <= privacy.max_suppression,
            "details": {"suppressed_rows": suppressed, "written_rows": n_written},
        })
    else:
        rows.append({
            "check": "k_anonymity", "metric": "quasi_identifiers_declared", "value": 0,
            "threshold": 1, "passed": False,
            "details": {"reason": "no quasi-identifiers declared in synth.privacy; "
                        "k-anonymity cannot be verified (fail-closed)"},
        })
    categorical = [s.name for s in specs if s.kind in ("categorical", "boolean")
                   and s.name not in mock]
    rare_columns = privacy.rare_columns if privacy.rare_columns is not None else categorical
    worst = 0
    for column in rare_columns:
        stats = sqlchecks.rare_categories(conn, table, column, privacy.rare_min_count)
        worst = max(worst, stats["rare_values"])
        rows.append({
            "check": "rare_categories", "metric": f"rare_values:{column}",
            "value": stats["rare_values"], "threshold": 0, "passed": stats["rare_values"] == 0,
            "details": {**stats, "column": column, "min_count": privacy.rare_min_count},
        })
    rows.append({
        "check": "rare_categories", "metric": "columns_checked", "value": len(rare_columns),
        "threshold": None, "passed": None, "details": {"columns": rare_columns},
    })
    return rows


def _leakage_metrics(train, holdout, synthetic, request: SynthesisRequest, mock: set[str],
                     seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Gated leakage rows plus the full report metrics, from one neighbour search."""
    from synthdb.metrics import report_metrics

    privacy = request.config.privacy
    keep = [c for c in train.columns if c not in mock]
    if len(holdout) < 5 or not keep:
        return [{
            "check": "no_leakage", "metric": "holdout_rows", "value": len(holdout),
            "threshold": 5, "passed": False,
            "details": {"reason": "too few rows to hold out for leakage checks (fail-closed)"},
        }], {}
    config = {
        "quasi_identifiers": [], "k": 1, "rare_columns": [], "rare_min_count": 1,
        "dcr_share_max": privacy.dcr_share_max,
        "identical_match_tolerance": privacy.identical_match_tolerance,
        "mia_advantage_max": privacy.mia_advantage_max, "sample_size": privacy.sample_size,
        "seed": seed % 2**32,
        **{k: v for k, v in request.config.report.items() if k in REPORT_KEYS},
    }
    full = report_metrics(train[keep], holdout[keep], synthetic[keep], config)
    rows = [
        {"check": r["check"], "metric": r["metric"], "value": r["value"],
         "threshold": r["threshold"], "passed": r["passed"], "details": r["details"]}
        for r in full["gate"] if r["check"] in ("no_leakage", "utility")
    ]
    rows += _utility_threshold_rows(train[keep], holdout[keep], synthetic[keep], request, seed)
    return rows, full


def _utility_threshold_rows(train, holdout, synthetic, request: SynthesisRequest,
                            seed: int) -> list[dict[str, Any]]:
    """Gated rows of the model's declared utility thresholds (``synth.utility``)."""
    from synthdb.metrics.utility_checks import parse_utility, utility_rows

    where = f"model {request.model}: config synth.utility"
    thresholds = parse_utility(request.config.utility or None, where)
    found = utility_rows(train, holdout, synthetic, thresholds, request.model,
                         request.config.privacy.sample_size, seed % 2**32)
    return [{"check": r.check, "metric": r.metric, "value": r.value, "threshold": r.threshold,
             "passed": r.passed, "details": r.details} for r in found]


def run_synthesis(settings: ConnectionSettings, request: SynthesisRequest) -> dict[str, Any]:
    """Run one release's synthesis; returns run id, row counts and the stored verdict."""
    cfg = request.config
    check_isolation(request)
    run_id = uuid.uuid4().hex
    seed = cfg.seed if cfg.seed is not None else secrets.randbits(62)
    schema = request.audit_schema
    target_schema, target_name = request.target
    tmp = _qualified(target_schema, TMP_PREFIX + run_id[:16])
    timings: dict[str, float] = {}
    progress = request.progress or Progress(request.model)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        progress.lap(name, timings[name])

    with psycopg.connect(settings.conninfo()) as conn:
        audit.ensure_schema(conn, schema)
        conn.commit()
        audit.fail_orphans(conn, schema)
        audit.hold_run_lock(conn, run_id)
        audit.start_run(
            conn, schema, run_id, invocation_id=request.invocation_id, model=request.model,
            source_relation=_label(*request.source), target_relation=_label(*request.target),
            mode=cfg.mode, config=cfg.as_dict(), config_hash=cfg.fingerprint(), seed=seed,
            code_version=__version__,
        )
        conn.commit()
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(target_schema)))
            _cleanup_stale(conn, target_schema, schema)
            conn.commit()
            progress.start("read")
            learned: list[str] = []
            if cfg.validate_contract and request.graph is not None and request.contract_id:
                from synthdb.release.contract_gate import check_contract

                report = check_contract(request.model, request.contract_id, request.graph,
                                        request.project_root, request.target_path, conn)
                conn.commit()
                learned = pseudonyms.learned_columns(
                    request.model, report, request.graph.get("nodes", {}).get(
                        request.contract_id), cfg.mode, cfg.columns)
            columns = pgio.relation_columns(conn, *request.source)
            if not columns:
                raise SynthdbError(
                    f"model {request.model}: training input {_label(*request.source)} does not "
                    "exist or has no columns"
                )
            # The whole configuration is checked (catalog only) before any budget is spent:
            # a configuration error costs nothing.
            precheck.check_release_config(cfg, columns, request.model)
            # The privacy budget is debited (or the run refused) after the contract check,
            # which reads only the catalog, and before any row is read. Budgets follow the
            # base tables the contract reads, not its name (synthdb.release.lineage).
            ledger.ensure_ledger(conn, schema)
            epsilon = cfg.generator.get("epsilon") if cfg.mode != "mock" else None
            if epsilon is not None and float(epsilon) == float("inf"):
                epsilon = None  # epsilon = inf is the non-DP fit
            bases = lineage.base_relations(conn, _label(*request.source), request.contract_id,
                                           request.graph)
            ledger.reserve(conn, schema, run_id, _label(*request.source), cfg.recipient,
                           epsilon, float(cfg.generator.get("delta", 0.0) or 0.0), bases=bases)
            conn.commit()
            if cfg.mode == "mock":
                # Mock reads the schema only (catalog types): the relation is never queried.
                from synthdb.generators import infer_specs

                empty = pgio.empty_frame(columns)
                specs = infer_specs(empty, {c.name: c.pg_type for c in columns})
                mock, train, holdout, n_source = set(), empty, empty, 0
                if cfg.rows is None:
                    raise ConfigError(f"model {request.model}: mode 'mock' needs synth.rows")
            elif cfg.mode == "deidentify":
                # Policy-transformed source rows are released as they are; a sample is read
                # only to draw the QA report. k-anonymity is the decisive check here.
                from synthdb.generators import infer_specs

                n_source = _count_rows(conn, request)
                _seed_session_random(conn, seed)
                train = pgio.read_frame(conn, sql.SQL("SELECT {} FROM {} ORDER BY random() "
                                                      "LIMIT {}").format(
                    sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
                    _qualified(*request.source), sql.Literal(cfg.privacy.sample_size)), columns)
                holdout = train.iloc[0:0]
                specs = infer_specs(train, {c.name: c.pg_type for c in columns})
                mock = set()
            else:
                frame, n_source = _read_training(conn, request, columns, seed)
                conn.commit()
                train, holdout = _split(frame, cfg.holdout, seed)
                del frame
                specs, mock = _specs(train, columns, cfg, request.model)
            lap("read")
            generator = None if cfg.mode == "deidentify" else _build_generator(cfg, seed, mock)
            if generator is not None:
                try:
                    generator.fit(None if cfg.mode == "mock" else train, specs)
                except SynthdbError as exc:
                    raise type(exc)(f"model {request.model}: {exc}") from exc
            lap("fit")
            n_rows = cfg.rows or n_source
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(tmp, sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
                for c in columns)))
            if generator is None:
                names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
                written = conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    tmp, names, names, _qualified(*request.source))).rowcount
            else:
                written = pgio.write_frames(
                    conn, tmp, columns,
                    progress.chunks(generator.sample_chunks(n_rows, seed=seed,
                                                            chunk_size=cfg.chunk_size), n_rows),
                )
            lap("sample_write")
            suppressed = 0
            privacy = cfg.privacy
            if privacy.quasi_identifiers:
                missing = [q for q in privacy.quasi_identifiers if q not in {c.name for c in columns}]
                if missing:
                    raise ConfigError(
                        f"model {request.model}: quasi-identifier column(s) "
                        f"{', '.join(map(repr, missing))} are not in {_label(*request.source)}"
                    )
                below = sqlchecks.k_anonymity(conn, tmp, privacy.quasi_identifiers, privacy.k)
                if below["rows_below_k"] and below["rows_below_k"] <= privacy.max_suppression * written:
                    suppressed = sqlchecks.suppress_below_k(
                        conn, tmp, privacy.quasi_identifiers, privacy.k)
            metric_rows = _privacy_metrics(conn, tmp, request, specs, mock, suppressed, written)
            metric_rows += pseudonyms.linkability_metrics(conn, tmp, request.source, learned)
            lap("privacy_sql")
            # The evaluation sample is drawn with the run's seed, so a fixed seed gives the
            # same leakage and utility figures (no coin toss near a threshold).
            _seed_session_random(conn, seed)
            synthetic_sample = pgio.read_frame(
                conn, sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT {}").format(
                    sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), tmp,
                    sql.Literal(privacy.sample_size)), columns)
            full_metrics: dict[str, Any] = {}
            if cfg.mode == "mock":
                metric_rows.append({
                    "check": "no_leakage", "metric": "source_rows_read", "value": 0,
                    "threshold": 0, "passed": True,
                    "details": {"reason": "mock mode reads only the schema"}})
            elif cfg.mode == "deidentify":
                metric_rows.append({
                    "check": "no_leakage", "metric": "real_rows_released",
                    "value": written - suppressed, "threshold": None, "passed": None,
                    "details": {"reason": "deidentify mode releases policy-transformed source "
                                "rows (highest linkage risk); k-anonymity is the decisive check"}})
            else:
                rows, full_metrics = _leakage_metrics(train, holdout, synthetic_sample, request,
                                                      mock, seed)
                metric_rows += rows
            lap("leakage_metrics")
            if request.warnings:
                metric_rows.append({
                    "check": "config", "metric": "looser_tests", "value": len(request.warnings),
                    "threshold": None, "passed": None,
                    "details": {"warnings": request.warnings}})
            managed = audit.managed(conn, schema)
            if not managed:  # managed: the owner's seal_run stores them at the swap
                audit.store_metrics(conn, schema, run_id, metric_rows)
            # Commit the measured table (still a temporary name; the run still 'running') so
            # no transaction sits open while the report is drawn: on a wide contract that
            # took minutes. Cleanup by a concurrent run skips a live run's temporary table.
            conn.commit()
            describe = (generator.describe() if generator is not None else
                        {"method": "deidentify", "policy": "contract policy macros only"})
            counts = {"source": n_source if cfg.mode != "mock" else None,
                      "training": len(train) if cfg.mode == "synthesize" else None,
                      "holdout": len(holdout) if cfg.mode == "synthesize" else None,
                      "released": written - suppressed}
            evidence = _write_run_evidence(request, run_id, describe, metric_rows, full_metrics,
                                           train, synthetic_sample, counts)
            lap("evidence")
            comment = json.dumps({"synthdb_run_id": run_id,
                                  "synthetic": cfg.mode != "deidentify",
                                  "method": cfg.mode, "code_version": __version__})
            target = _qualified(target_schema, target_name)
            kind = conn.execute(
                "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s", (target_schema, target_name)).fetchone()
            if kind is not None:
                drop = "DROP VIEW {}" if kind[0] == "v" else "DROP TABLE {}"
                conn.execute(sql.SQL(drop).format(target))
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                tmp, sql.Identifier(target_name)))
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))
            results = {"train_rows": len(train), "holdout_rows": len(holdout),
                       "synthetic_rows": written - suppressed, "suppressed_rows": suppressed,
                       "generator": describe, "evidence_path": str(evidence)}
            if managed:
                audit.seal_run(conn, schema, run_id, (target_schema, target_name), metric_rows,
                               results)
            else:
                staged = digest.fingerprint(conn, target_schema, target_name)
                audit.finish_run(conn, schema, run_id, "success", **results,
                                 fingerprint=staged.as_dict() if staged is not None else None)
            conn.commit()
            lap("swap_and_digest")
        except BaseException as exc:
            conn.rollback()
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(tmp))
            audit.fail_run(conn, schema, run_id, str(exc)[:2000])
            conn.commit()
            raise
        result = audit.verdict(conn, schema, run_id) or {}
    result.update({"rows": written - suppressed, "suppressed": suppressed, "seed": seed,
                   "timings": timings, "evidence": str(evidence)})
    return result


def _write_run_evidence(request: SynthesisRequest, run_id: str, describe: dict,
                        metric_rows: list[dict], full_metrics: dict, train: pd.DataFrame,
                        synthetic: pd.DataFrame, counts: dict[str, Any] | None = None) -> Path:
    """QA report (HTML + JSON) of this run under ``<evidence_dir>/runs/<run_id>/``."""
    from synthdb.governance.roles import inside

    root = inside(request.project_root, request.config.evidence_dir, "evidence_dir") / "runs" / run_id
    root.mkdir(parents=True, exist_ok=True)
    evidence = {
        "run_id": run_id, "model": request.model, "source": _label(*request.source),
        "target": _label(*request.target), "generator": describe,
        "thresholds": dict(request.config.privacy.__dict__), "metric_rows": metric_rows,
        "metrics": full_metrics, "code_version": __version__,
        "synthetic": request.config.mode != "deidentify", "warnings": request.warnings,
        "row_counts": counts or {}, "release": {"recipient": request.config.recipient},
    }
    (root / "run.json").write_text(json.dumps(evidence, indent=2, default=str))
    from synthdb.report import render_html

    render_html(evidence, train, synthetic, root / "qa_report.html")
    return root
