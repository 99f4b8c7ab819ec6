"""The release gate: leaky releases fail, honest ones pass, details never carry source values."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError, SynthdbError
from synthdb.metrics.gate import GateThresholds, MetricRow, _leakage_rows, evaluate_release

COLS = ["age years", 'income;"net"', "region's", "segment", "signup", "active", "score"]


def population(n: int, seed: int) -> pd.DataFrame:
    """A mixed-type frame with correlations, NULLs everywhere and awkward column names."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0, 0], [[1, 0.6, 0.3], [0.6, 1, 0.4], [0.3, 0.4, 1]], n)
    age = np.clip(np.round(40 + 12 * z[:, 0]), 18, 90).astype(int)
    frame = pd.DataFrame(
        {
            COLS[0]: pd.array(age, dtype="Int64"),
            COLS[1]: np.round(np.exp(10 + 0.5 * z[:, 1]), 2),
            COLS[2]: pd.Series(
                np.array(["north", "south", "east", "west"])[np.digitize(z[:, 2], [-0.7, 0, 0.7])],
                dtype="str",
            ),
            COLS[3]: pd.Series(rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]), dtype="str"),
            COLS[4]: pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 730 * 24, n), unit="h"),
            COLS[5]: pd.array(z[:, 0] + rng.normal(0, 1, n) > 0, dtype="boolean"),
            COLS[6]: rng.gamma(2.0, 3.0, n),
        }
    )
    for i, col in enumerate(frame.columns):
        mask = rng.random(n) < 0.03 + 0.01 * i
        frame.loc[mask, col] = None
    return frame


def perturbed_copy(train: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Training rows with ``share`` of the cells replaced by the column's value in another row."""
    rng = np.random.default_rng(seed)
    out = train.copy()
    n = len(out)
    for col in out.columns:
        mask = rng.random(n) < share
        donors = rng.integers(0, n, int(mask.sum()))
        out.loc[mask, col] = train[col].iloc[donors].to_numpy()
    return out


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return population(3000, 1), population(3000, 2), population(3000, 3)


def by_metric(rows: list[MetricRow]) -> dict[str, MetricRow]:
    return {r.metric: r for r in rows}


def test_perturbed_copy_fails_every_leakage_check(frames):
    train, holdout, _ = frames
    leaky = perturbed_copy(train, 0.10, seed=7)
    rows = by_metric(evaluate_release(train, holdout, leaky, GateThresholds()))
    for metric in ("identical_match_share", "dcr_share", "mia_advantage"):
        assert rows[metric].check == "no_leakage"
        assert rows[metric].passed is False, (metric, rows[metric].value)
    assert rows["identical_match_share"].value > 0.3  # ~0.9^7 of the rows stay untouched
    assert rows["dcr_share"].value > 0.7
    assert rows["mia_advantage"].value > 0.5


def test_independent_sample_passes_leakage_checks(frames):
    train, holdout, synthetic = frames
    rows = by_metric(evaluate_release(train, holdout, synthetic, GateThresholds()))
    assert rows["identical_match_share"].passed is True
    assert abs(rows["dcr_share"].value - 0.5) < 0.05
    assert rows["dcr_share"].passed is True
    assert rows["mia_advantage"].passed is True
    assert abs(rows["mia_auc"].value - 0.5) < 0.05
    assert rows["column_shapes"].value > 0.9
    assert rows["column_shapes"].passed is None


def test_k_anonymity_and_rare_rows(frames):
    train, holdout, synthetic = frames
    t = GateThresholds(quasi_identifiers=[COLS[2], COLS[3]], k=5, rare_min_count=10)
    rows = by_metric(evaluate_release(train, holdout, synthetic, t))
    # 5 regions (incl. NULL) x 4 segments (incl. NULL): every class is well above 5 rows.
    assert rows["min_class_size"].passed is True
    assert rows["rare_values"].passed is True
    one_off = synthetic.copy()
    one_off.loc[0, COLS[3]] = "zz-unique"
    rows = by_metric(evaluate_release(train, holdout, one_off, t))
    assert rows["min_class_size"].passed is False
    assert rows["min_class_size"].value == 1.0
    assert rows["rare_values"].value == 1.0 and rows["rare_values"].passed is False


def test_details_are_json_and_carry_no_source_values(frames):
    train, holdout, synthetic = frames
    t = GateThresholds(quasi_identifiers=[COLS[2]], k=2)
    rows = evaluate_release(train, holdout, perturbed_copy(train, 0.1, 3), t)
    text = json.dumps([r.details for r in rows])
    for value in ("north", "south", "east", "west"):
        assert value not in text
    assert {r.check for r in rows} == {"k_anonymity", "rare_categories", "no_leakage", "utility"}


def test_no_quasi_identifiers_is_informational_and_bad_settings_raise(frames):
    train, holdout, synthetic = frames
    rows = by_metric(evaluate_release(train, holdout, synthetic, GateThresholds()))
    assert rows["min_class_size"].passed is None
    with pytest.raises(ConfigError, match="dcr_share_max"):
        evaluate_release(train, holdout, synthetic, GateThresholds(dcr_share_max=2.0))
    with pytest.raises(ConfigError, match="quasi_identifiers"):
        evaluate_release(train, holdout, synthetic, GateThresholds(quasi_identifiers=["nope"]))


def test_too_few_rows_fails_closed(frames):
    train, holdout, synthetic = frames
    rows = by_metric(evaluate_release(train, holdout.iloc[:1], synthetic, GateThresholds()))
    assert rows["dcr_share"].passed is False
    assert "error" in rows["dcr_share"].details


def small_table_draw(rows: int, seed: int) -> pd.DataFrame:
    """Rows of a two-column table where exact matches with training happen by chance."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.integers(0, 3000, rows), "b": rng.integers(0, 3000, rows)})


def test_identical_match_allows_chance_copies_but_fails_real_ones():
    """Few-column tables: the holdout-only comparison failed fair generators about half the time.

    Over 40 fair draws (synthetic rows from the same distribution as training), the gate without
    the sampling allowance fails many; with it, almost none. A generator that copies 2 % of its
    rows from training still fails every time.
    """
    train = small_table_draw(20_000, 1)
    t = GateThresholds()
    bare_failures = gated_failures = copier_passes = 0
    for seed in range(40):
        holdout = small_table_draw(20_000, 200 + seed)
        fair = small_table_draw(10_000, 100 + seed)
        row = by_metric(_leakage_rows(train, holdout, fair, t, d=SynthdbError("skip")))[
            "identical_match_share"
        ]
        bare_failures += row.value > row.details["holdout_share"]
        gated_failures += not row.passed
        copier = fair.copy()
        copier.iloc[:200] = train.iloc[1000:1200].to_numpy()
        row = by_metric(_leakage_rows(train, holdout, copier, t, d=SynthdbError("skip")))[
            "identical_match_share"
        ]
        copier_passes += bool(row.passed)
    assert bare_failures >= 10, bare_failures
    assert gated_failures <= 2, gated_failures
    assert copier_passes == 0


def test_report_reuses_the_gates_fidelity_scores(frames, monkeypatch) -> None:
    """report_metrics computes column shapes and pair trends once (issue 15: the gate's
    utility rows recomputed them) and its gate rows are the gate's own, value for value."""
    from synthdb.metrics import full, utility

    train, holdout, synthetic = frames
    t = GateThresholds(quasi_identifiers=[COLS[2], COLS[3]], seed=5)
    alone = [dataclasses.asdict(r) for r in evaluate_release(train, holdout, synthetic, t)]
    calls = {"shapes": 0, "trends": 0}
    shapes, trends = utility.column_shapes, utility.column_pair_trends

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(utility, "column_shapes", counted("shapes", shapes))
    monkeypatch.setattr(utility, "column_pair_trends", counted("trends", trends))
    report = full.report_metrics(train, holdout, synthetic, t)
    assert calls == {"shapes": 1, "trends": 1}
    assert report["gate"] == full.jsonable(alone)
    by_name = {r["metric"]: r["value"] for r in report["gate"]}
    assert by_name["column_shapes"] == report["column_shapes"]["score"]
    assert by_name["overall_quality"] == report["quality_score"]
