"""``synthdb report <run id | model>``: regenerate the QA report of a run from the database.

Metrics come from ``synthdb_audit.metrics``; the real side is re-read from the run's training
input with the run's seed (so the same train/holdout split, if the source is unchanged) and the
synthetic side from the run's staging table, which must still hold that run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="regenerate the QA report of a run")
    parser.add_argument("run", help="run id, or a synthetic model name (its latest run)")
    parser.add_argument("--out", default=None, help="HTML path (default: the run's evidence)")
    parser.add_argument("--audit-schema", default="synthdb_audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from psycopg import sql

    from synthdb.errors import ConfigError
    from synthdb.release import digest, pgio
    from synthdb.release.config import parse_synth_config
    from synthdb.release.publish import staging_run_id
    from synthdb.release.synthesize import SynthesisRequest, _read_training, _split
    from synthdb.report import render_html

    audit = sql.Identifier(args.audit_schema)
    # pg_catalog first: a reviewer's report must not be computed by the database owner's code
    with digest.connect_in_catalog() as conn:
        row = conn.execute(
            sql.SQL("SELECT run_id, model, source_relation, target_relation, config, seed, "
                    "generator, evidence_path FROM {}.runs WHERE (run_id = %s OR model = %s) "
                    "AND outcome = 'success' ORDER BY started_at DESC LIMIT 1").format(audit),
            (args.run, args.run)).fetchone()
        if row is None:
            raise ConfigError(f"no successful run with id or model {args.run!r} in "
                              f"{args.audit_schema}.runs")
        run_id, model, source, target, config, seed, generator, evidence = row
        source_rel = tuple(source.split(".", 1))
        target_rel = tuple(target.split(".", 1))
        if staging_run_id(conn, *target_rel) != run_id:
            raise ConfigError(f"{target} no longer holds run {run_id} (a later run replaced it); "
                              "the stored metrics remain in the audit schema")
        cfg = parse_synth_config({k: v for k, v in config.items() if k != "privacy"}, model)
        request = SynthesisRequest(model, source_rel, target_rel, cfg)
        # The subject (synth.privacy.subject) is counted, never shown: not read, not plotted.
        subject = (config.get("privacy") or {}).get("subject")
        columns = [c for c in pgio.relation_columns(conn, *source_rel) if c.name != subject]
        frame, _ = _read_training(conn, request, columns, seed)
        train, _holdout = _split(frame, cfg.holdout, seed)
        synthetic = pgio.read_frame(conn, sql.SQL("SELECT {} FROM {}.{} LIMIT 50000").format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
            sql.Identifier(target_rel[0]), sql.Identifier(target_rel[1])), columns)
        metrics = conn.execute(
            sql.SQL("SELECT check_name, metric, value, threshold, passed, details FROM {}.metrics "
                    "WHERE run_id = %s ORDER BY check_name, metric").format(audit),
            (run_id,)).fetchall()
    evidence_doc = {
        "run_id": run_id, "model": model, "source": source, "target": target,
        "generator": generator, "thresholds": config.get("privacy", {}),
        "metric_rows": [dict(zip(("check", "metric", "value", "threshold", "passed", "details"),
                                 m, strict=True)) for m in metrics],
        "synthetic": True,
    }
    out = Path(args.out) if args.out else Path(evidence or ".") / "qa_report.html"
    render_html(evidence_doc, train, synthetic, out)
    out.with_suffix(".json").write_text(json.dumps(evidence_doc, indent=2, default=str))
    print(f"QA report of run {run_id} ({model}): {out}")
    return 0
