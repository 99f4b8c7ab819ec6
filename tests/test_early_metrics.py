"""ML utility's train-on-real half computed early in a release run (issue 15): same figures.

A run fits the train-on-real model in a thread while its rows are generated and checked
(synthdb.release.run_metrics.EarlyBaseline); the leakage stage then fits only the synthetic
half. Scores and metrics must be exactly those computed the plain way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthdb.metrics.ml import ml_baseline, ml_utility
from synthdb.release import run_metrics, stages
from synthdb.release.config import parse_synth_config
from synthdb.release.synthesize import SynthesisRequest


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    band = np.digitize(x[:, 0] + 0.5 * rng.standard_normal(n), [-1.2, -0.4, 0.4, 1.2])
    out = pd.DataFrame({
        "x": x[:, 0], "y": x[:, 0] * 0.6 + x[:, 1],
        "flag": pd.Series(np.where(x[:, 1] > 0.2, "hi", "lo"), dtype="str"),
        "band": pd.Series([f"b{b}" for b in band], dtype="str"),
        "region": pd.Series(rng.choice(["n", "s", "e", "w"], n), dtype="str"),
    })
    out.loc[rng.random(n) < 0.03, "y"] = np.nan
    return out


@pytest.fixture(scope="module")
def frames():
    real, holdout = frame(3000, 1), frame(1000, 2)
    return real, holdout, frame(3000, 3)


@pytest.mark.parametrize("target", ["band", "flag", "y"])  # 5 classes, binary, regression
def test_same_scores_with_the_baseline(frames, target):
    train, holdout, synthetic = frames
    plain = ml_utility(train, holdout, synthetic, target, 2000, 11)
    base = ml_baseline(train, holdout, target, 2000, 11)
    assert ml_utility(train, holdout, synthetic, target, 2000, 11, baseline=base) == plain
    assert plain["train_on_real"] == base.real_score and plain["train_on_synthetic"] is not None
    # a baseline of another seed or size is not used: the call computes its own
    other = ml_baseline(train, holdout, target, 1500, 12)
    assert ml_utility(train, holdout, synthetic, target, 2000, 11, baseline=other) == plain


def test_the_run_uses_it_only_for_its_own_frames(frames):
    train, holdout, synthetic = frames
    cfg = parse_synth_config({"source": "contract", "report": {"target": "band"},
                              "privacy": {"sample_size": 2000}}, "m")
    request = SynthesisRequest(model="m", source=("c", "contract"), target=("s", "m"),
                               config=cfg)
    early = run_metrics.EarlyBaseline.of(train, holdout, request, {"region"}, 9)
    early.job = stages.in_background(early.compute)
    rows, full = run_metrics.leakage_rows(train, holdout, synthetic, request, {"region"}, 9,
                                          early=early)
    assert early.job.done()
    used = early.result_for(train, holdout, ["x", "y", "flag", "band"])
    assert used is not None and used.real_score == full["ml_utility"]["train_on_real"]
    assert (rows, full) == run_metrics.leakage_rows(train, holdout, synthetic, request,
                                                    {"region"}, 9)
    # other frames (or other kept columns) never get this run's baseline
    assert early.result_for(train.copy(), holdout, ["x", "y", "flag", "band"]) is None
    assert early.result_for(train, holdout, ["x", "y", "band"]) is None
    # no target in the report: nothing to start
    bare = SynthesisRequest(model="m", source=("c", "contract"), target=("s", "m"),
                            config=parse_synth_config({"source": "contract"}, "m"))
    assert run_metrics.EarlyBaseline.of(train, holdout, bare, set(), 9) is None

