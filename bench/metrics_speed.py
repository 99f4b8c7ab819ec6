"""Time every metric on a 1,000,000-row release (target: full set < 60 s on 2 cores).

Usage: .venv/bin/python bench/metrics_speed.py [--rows 1000000] [--holdout 250000] [--sample 50000]
       .venv/bin/python bench/metrics_speed.py --pipeline --rows 10000000 [--work DIR]

``--pipeline`` times the QA set a release of ``--rows`` rows computes in ``dbt build`` (issue 15):
the exact counts (k-anonymity, rare categories) in PostgreSQL on the whole released table
(ANALYZE + one GROUPING SETS scan, on an embedded server under ``--work``; the rows are loaded
in 1M-row chunks first, not timed), the seeded 10,000-row evaluation sample of it, and
``report_metrics`` on that sample with the training sample a release reads (at most 200,000
train rows, a quarter of that holdout). Target: under 60 s for 10M rows on 2 cores.

The frames are generated (10 mixed columns with NULLs, a timestamp with weekly rhythm); train has
``--rows`` rows as well. Counting metrics (k-anonymity, rare categories, identical matches,
column shapes, seasonality) run on the full frames; distance metrics, pair trends and ML utility
on ``--sample`` rows, as their definitions allow. Prints one line per metric, the end-to-end
time of ``report_metrics`` (the full set the QA report needs), the load average, and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from synthdb.metrics import distances as dist
from synthdb.metrics import ml, privacy, report_metrics, seasonality, utility
from synthdb.metrics.gate import GateThresholds, evaluate_release


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    z[:, 1] = 0.7 * z[:, 0] + 0.71 * z[:, 1]
    days = rng.integers(0, 730, n)
    frame = pd.DataFrame(
        {
            "age": pd.array(np.clip(40 + 12 * z[:, 0], 18, 95).astype(int), dtype="Int64"),
            "income": np.exp(10 + 0.5 * z[:, 1]),
            "balance": rng.gamma(2.0, 500.0, n),
            "region": pd.Series(rng.choice([f"r{i:02d}" for i in range(20)], n), dtype="str"),
            "segment": pd.Series(
                np.where(z[:, 2] > 0.5, "gold", np.where(z[:, 2] > -0.5, "silver", "bronze")),
                dtype="str",
            ),
            "product": pd.Series(rng.choice([f"p{i}" for i in range(60)], n), dtype="str"),
            "sex": pd.Series(rng.choice(["f", "m"], n), dtype="str"),
            "active": pd.array(z[:, 0] + rng.standard_normal(n) > 0, dtype="boolean"),
            "opened_at": pd.Timestamp("2023-01-02")
            + pd.to_timedelta(days, unit="D")
            + pd.to_timedelta(rng.integers(8, 20, n), unit="h"),
            "visits": pd.array(rng.poisson(4, n), dtype="Int64"),
        }
    )
    for i, col in enumerate(frame.columns):
        frame.loc[rng.random(n) < 0.02 + 0.005 * i, col] = None
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--holdout", type=int, default=250_000)
    ap.add_argument("--sample", type=int, default=50_000)
    ap.add_argument("--pipeline", action="store_true",
                    help="time the QA set of a release (SQL counts + sample metrics)")
    ap.add_argument("--work", default="/tmp/synthdb-metrics-speed",
                    help="--pipeline: folder of the embedded server")
    args = ap.parse_args()
    if args.pipeline:
        pipeline(args.rows, args.work)
        return
    load_start = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the start: {load_start}")
    t0 = time.perf_counter()
    train, holdout, syn = (
        make_frame(args.rows, 1),
        make_frame(args.holdout, 2),
        make_frame(args.rows, 3),
    )
    print(
        f"data: train {len(train)}, holdout {len(holdout)}, synthetic {len(syn)} rows, "
        f"{len(train.columns)} columns, made in {time.perf_counter() - t0:.1f}s; cores={os.cpu_count()}"
    )
    t = GateThresholds(quasi_identifiers=["age", "region", "sex"], k=5, sample_size=args.sample)
    timings: dict[str, float] = {}

    def timed(name: str, fn):
        start = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"{name:<28s} {timings[name]:7.2f} s")
        return out

    timed("k_anonymity (full)", lambda: privacy.k_anonymity(syn, t.quasi_identifiers, t.k))
    timed("rare_categories (full)", lambda: privacy.rare_categories(syn, None, t.rare_min_count))
    timed("identical_match (full)", lambda: privacy.identical_match_share(train, holdout, syn))
    d = timed(
        f"distances (n={args.sample})",
        lambda: dist.compute_distances(train, holdout, syn, args.sample, 0),
    )
    timed("dcr/nndr summary", lambda: dist.distance_summary(d))
    timed("membership inference", lambda: dist.membership_inference(d))
    timed("outlier re-creation", lambda: dist.outlier_recreation(d))
    timed("column_shapes (full)", lambda: utility.column_shapes(train, syn))
    timed(
        f"pair_trends (n={args.sample})",
        lambda: utility.column_pair_trends(train, syn, args.sample),
    )
    timed("seasonality (full)", lambda: seasonality.seasonality(train, syn))
    timed(
        f"ml_utility (n={args.sample})",
        lambda: ml.ml_utility(train, holdout, syn, "active", args.sample),
    )
    timed("group_parity (full)", lambda: ml.group_parity(train, syn, ["sex", "segment"], "active"))
    total = sum(timings.values())
    print(f"{'sum of the above':<28s} {total:7.2f} s")
    rows = timed("evaluate_release (gate)", lambda: evaluate_release(train, holdout, syn, t))
    verdicts = {r.metric: r.passed for r in rows if r.passed is not None}
    # The number that counts: the full metric set exactly as the QA report computes it.
    config = {
        "quasi_identifiers": t.quasi_identifiers,
        "k": t.k,
        "sample_size": args.sample,
        "target": "active",
        "protected_attributes": ["sex", "segment"],
    }
    timed("report_metrics (full set)", lambda: report_metrics(train, holdout, syn, config))
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {load}")
    print(
        json.dumps(
            {
                "timings_s": timings,
                "sum_s": round(total, 2),
                "load_avg_start": load_start,
                "load_avg_end": load,
                "gate_verdicts": verdicts,
            }
        )
    )


def pipeline(rows: int, work: str) -> None:
    """The release's QA set on ``rows`` synthetic rows (see the module docstring)."""
    import psycopg
    from psycopg import sql

    from synthdb import db
    from synthdb.release import pgio, sqlchecks

    print(f"load average at the start: {[round(x, 2) for x in os.getloadavg()]}")
    settings = db.start_embedded(Path(work).resolve())
    sample = make_frame(1000, 0)
    types = {"age": "integer", "income": "double precision", "balance": "double precision",
             "region": "text", "segment": "text", "product": "text", "sex": "text",
             "active": "boolean", "opened_at": "timestamp", "visits": "integer"}
    columns = [pgio.PgColumn(c, types[c], "X", False) for c in sample.columns]
    table = sql.Identifier("released")
    timings: dict[str, float] = {}
    with psycopg.connect(settings.conninfo()) as conn:
        conn.execute("DROP TABLE IF EXISTS released")
        conn.execute(sql.SQL("CREATE TABLE released ({})").format(sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
            for c in columns)))
        start = time.perf_counter()
        chunks = (make_frame(min(1_000_000, rows - i), 100 + i // 1_000_000)
                  for i in range(0, rows, 1_000_000))
        pgio.write_frames(conn, table, columns, chunks)
        conn.commit()
        print(f"loaded {rows:,} rows in {time.perf_counter() - start:.1f}s (not timed)")

        def timed(name: str, fn):
            start = time.perf_counter()
            out = fn()
            timings[name] = round(time.perf_counter() - start, 2)
            print(f"{name:<34s} {timings[name]:7.2f} s", flush=True)
            return out

        timed("ANALYZE", lambda: sqlchecks.analyze(conn, table))
        counts = timed("k-anonymity + rare (one scan)", lambda: sqlchecks.class_counts(
            conn, table, ["age", "region", "sex"], ["region", "segment", "product", "sex",
                                                    "active"], 5, 10))
        syn = timed("evaluation sample (10k, seeded)", lambda: pgio.read_frame(
            conn, sql.SQL("SELECT * FROM released ORDER BY random() LIMIT 10000"), columns))
    train_rows = min(rows, 200_000)
    train, holdout = make_frame(train_rows, 1), make_frame(train_rows // 4, 2)
    config = {"quasi_identifiers": [], "k": 1, "rare_columns": [], "rare_min_count": 1,
              "sample_size": 10_000, "seed": 1, "target": "segment",
              "protected_attributes": ["sex"]}
    timed("report_metrics (samples)", lambda: report_metrics(train, holdout, syn, config))
    total = sum(timings.values())
    print(f"{'QA set total':<34s} {total:7.2f} s (target < 60 s); min class "
          f"{counts['k_anonymity']['min_class_size']}")
    print(f"load average at the end: {[round(x, 2) for x in os.getloadavg()]}")
    print(json.dumps({"rows": rows, "timings_s": timings, "total_s": round(total, 2)}))


if __name__ == "__main__":
    main()
