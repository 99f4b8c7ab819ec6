"""Utility checks that can block: declared thresholds become gated rows with verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError
from synthdb.metrics.utility_checks import parse_utility, utility_rows
from synthdb.release.config import parse_synth_config


def _frame(n: int, seed: int, corr: bool = True, routes_ok: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dep = rng.exponential(20, n)
    arr = dep + rng.normal(0, 5, n) if corr else rng.permutation(dep)
    carrier = rng.choice(["A", "B"], n)
    dest = np.where(carrier == "A", "X", "Y")
    if not routes_ok:
        dest = rng.choice(["X", "Y"], n)
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), "h")
    return pd.DataFrame({"dep": dep, "arr": arr, "carrier": carrier, "dest": dest, "ts": ts})


RAW = {
    "min_accuracy": 0.8,
    "max_column_distance": 0.1,
    "critical_pairs": [{"columns": ["dep", "arr"], "tolerance": 0.05}],
    "max_seasonality_tvd": 0.1,
    "unseen_combinations": [{"columns": ["carrier", "dest"], "max_share": "holdout"}],
}


def test_good_release_passes_every_declared_threshold() -> None:
    train, hold, syn = _frame(4000, 1), _frame(1000, 2), _frame(4000, 3)
    rows = utility_rows(train, hold, syn, parse_utility(RAW, "w"), "m")
    metrics = {r.metric: r for r in rows}
    assert {
        "min_accuracy",
        "pair_correlation:dep|arr",
        "unseen_combinations:carrier|dest",
        "column_distance:dep",
        "seasonality_tvd:ts.month",
    } <= set(metrics)
    assert all(r.check == "utility" and r.passed for r in rows), [
        (r.metric, r.value, r.threshold) for r in rows if not r.passed
    ]


def test_distorted_release_fails_the_thresholds_it_breaks() -> None:
    train, hold = _frame(4000, 1), _frame(1000, 2)
    syn = _frame(4000, 3, corr=False, routes_ok=False)
    rows = {r.metric: r for r in utility_rows(train, hold, syn, parse_utility(RAW, "w"), "m")}
    pair = rows["pair_correlation:dep|arr"]
    assert pair.passed is False and pair.value > 0.5 and pair.threshold == 0.05
    unseen = rows["unseen_combinations:carrier|dest"]
    assert unseen.passed is False and 0.4 < unseen.value < 0.6
    assert unseen.details["holdout_share"] == 0.0
    assert rows["column_distance:dep"].passed  # the marginal itself is intact


def test_nothing_declared_means_no_gated_rows() -> None:
    train = _frame(500, 1)
    assert utility_rows(train, train, train, parse_utility(None, "w"), "m") == []


def test_bad_thresholds_name_model_and_key() -> None:
    def parse(utility):
        return parse_synth_config({"source": "c", "utility": utility}, "my_model")

    with pytest.raises(ConfigError, match="model my_model: config synth.utility: unknown.*min_acc"):
        parse({"min_acc": 0.9})
    with pytest.raises(ConfigError, match=r"synth.utility.min_accuracy must be a number"):
        parse({"min_accuracy": 2})
    with pytest.raises(ConfigError, match=r"critical_pairs\[0\].columns must name exactly 2"):
        parse({"critical_pairs": [{"columns": ["a"], "tolerance": 0.1}]})
    with pytest.raises(ConfigError, match=r"unseen_combinations\[0\] needs 'max_share'"):
        parse({"unseen_combinations": [{"columns": ["a", "b"]}]})
    train = _frame(300, 1)
    with pytest.raises(ConfigError, match="model m: synth.utility names column.*'nope'"):
        t = parse_utility({"critical_pairs": [{"columns": ["dep", "nope"], "tolerance": 0.1}]}, "w")
        utility_rows(train, train, train, t, "m")
    with pytest.raises(ConfigError, match="column 'carrier' is not a number"):
        t = parse_utility(
            {"critical_pairs": [{"columns": ["dep", "carrier"], "tolerance": 0.1}]}, "w"
        )
        utility_rows(train, train, train, t, "m")


def test_failure_messages_name_the_gate_that_failed() -> None:
    """A utility miss is not reported as a privacy failure, nor the other way round."""
    from synthdb.release.verdicts import failed_gates

    assert failed_gates(["utility.min_accuracy"]) == "utility gate"
    assert failed_gates(["k_anonymity.min_class_size"]) == "privacy gate"
    assert failed_gates([]) == "privacy gate"  # required checks missing: a privacy matter
    assert failed_gates(["no_leakage.dcr_share", "utility.ks:amount"]) == (
        "privacy and utility gates")
