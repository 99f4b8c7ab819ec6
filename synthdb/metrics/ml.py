"""Downstream utility: train-on-synthetic vs train-on-real, and group parity for bias audits.

ML utility ("TSTR"): the same scikit-learn model is trained once on the synthetic data and once
on the real training data, both are tested on the real holdout; the ratio of the two scores is
how much of the real data's predictive value the release keeps. Histogram gradient boosting is
used because it handles NULLs and mixed scales without preprocessing and is fast on 2 cores.

Group parity: per protected attribute, each group's share and its target distribution (rate of
the most frequent class or mean of a numeric target), real vs synthetic. A generator that
smooths away a minority group's outcome would pass the marginal checks and fail here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthdb.errors import ConfigError
from synthdb.metrics._columns import NULL_TOKEN, as_float, as_text, frame_kinds
from synthdb.metrics.utility import _col

_MAX_LEVELS = 50
# Boosting budget of the TSTR models. A K-class target grows K trees per iteration, so 100
# iterations cost ~14 CPU-s on a 14-class target at every release size (issue 15). The first 50
# iterations (same rate) give the same scores within the tolerance bench/ml_utility_check.py
# measures (train-on-synthetic / train-on-real ratio within 0.05 on the demo's targets).
ML_MAX_ITER = 50
ML_LEARNING_RATE = 0.1


def _is_classification(series: pd.Series, kind: str) -> bool:
    if kind in ("categorical", "boolean"):
        return True
    return kind == "numeric" and series.nunique(dropna=True) <= 10


class _Features:
    """Numbers, datetimes and booleans as floats; categories as codes of frequent real levels."""

    def fit(self, frame: pd.DataFrame, columns: list[str]) -> _Features:
        self.columns = columns
        self.kinds = frame_kinds(frame[[_col(frame, c) for c in columns]])
        self.levels: dict[str, dict[str, int]] = {}
        for c in columns:
            if self.kinds[c] == "categorical":
                top = pd.Series(as_text(frame[_col(frame, c)])).value_counts().index[:_MAX_LEVELS]
                self.levels[c] = {v: i for i, v in enumerate(top) if v != NULL_TOKEN}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns:
            s = frame[_col(frame, c)]
            if self.kinds[c] == "categorical":
                lv = self.levels[c]
                cols.append(np.array([lv.get(v, np.nan) for v in as_text(s)], dtype=float))
            else:
                cols.append(as_float(s, self.kinds[c]))
        return np.column_stack(cols) if cols else np.zeros((len(frame), 0))

    def categorical_mask(self) -> np.ndarray:
        return np.array([self.kinds[c] == "categorical" for c in self.columns], dtype=bool)


def _sample(frame: pd.DataFrame, n: int, seed: int | None) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    rng = np.random.default_rng(seed)
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]


@dataclass
class MlBaseline:
    """The train-on-real half of :func:`ml_utility`, which never looks at the synthetic rows.

    A release run computes it in a thread while its synthetic rows are generated and checked
    (issue 15: one of the two boosting fits, ~1.8 s of the leakage stage at every size), and
    ``ml_utility(..., baseline=)`` then fits only the synthetic half. Same inputs, same
    arrays, same model and seed: the scores are identical to one call without it.
    """

    target: str
    sample_size: int
    seed: int | None
    kind: str
    classify: bool
    enc: _Features
    x_trn: np.ndarray
    y_trn: np.ndarray
    x_hol: np.ndarray
    y_hol: np.ndarray
    real_score: float | None

    def _xy(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return _xy(frame, self.target, self.kind, self.classify, self.enc)

    def fit_score(self, x: np.ndarray, y: np.ndarray) -> float | None:
        """Train the model on (x, y); its score on the real holdout."""
        # scikit-learn on first use: the report and the config check import this module
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

        if self.classify:
            if len(np.unique(y)) < 2:
                return None
            model = HistGradientBoostingClassifier(
                max_iter=ML_MAX_ITER, learning_rate=ML_LEARNING_RATE, random_state=self.seed,
                categorical_features=self.enc.categorical_mask(),
            )
            model.fit(x, y)
            labels = np.unique(np.concatenate([self.y_trn, self.y_hol]))
            if len(labels) == 2 and set(labels) <= set(model.classes_):
                pos = list(model.classes_).index(labels[1])
                return float(roc_auc_score(self.y_hol == labels[1],
                                           model.predict_proba(self.x_hol)[:, pos]))
            return float(balanced_accuracy_score(self.y_hol, model.predict(self.x_hol)))
        model = HistGradientBoostingRegressor(
            max_iter=ML_MAX_ITER, learning_rate=ML_LEARNING_RATE, random_state=self.seed,
            categorical_features=self.enc.categorical_mask(),
        )
        model.fit(x, y)
        return float(r2_score(self.y_hol, model.predict(self.x_hol)))


def _xy(frame: pd.DataFrame, target: str, kind: str, classify: bool, enc: _Features
        ) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the rows whose target is known."""
    y_raw = frame[_col(frame, target)]
    if classify:
        y = as_text(y_raw)
        keep = y != NULL_TOKEN
    else:
        y = as_float(y_raw, kind)
        keep = ~np.isnan(y)
    return enc.transform(frame)[keep], y[keep]


def ml_baseline(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    sample_size: int = 50_000,
    seed: int | None = 0,
) -> MlBaseline:
    """Encode train and holdout and score the model trained on real rows (no synthetic)."""
    names = [str(c) for c in train.columns]
    if target not in names:
        raise ConfigError(f"metrics: ml_utility target {target!r} is not a column")
    kind = frame_kinds(train)[target]
    features = [c for c in names if c != target]
    trn, hol = _sample(train, sample_size, seed), _sample(holdout, sample_size, seed)
    enc = _Features().fit(trn, features)
    classify = _is_classification(train[_col(train, target)], kind)
    (x_trn, y_trn), (x_hol, y_hol) = (_xy(f, target, kind, classify, enc) for f in (trn, hol))
    base = MlBaseline(target, sample_size, seed, kind, classify, enc, x_trn, y_trn, x_hol,
                      y_hol, None)
    if len(y_hol) >= 10 and len(y_trn) >= 10:
        # One OpenMP thread: on small, busy machines thread hand-offs cost more than they save.
        with threadpool_limits(limits=1, user_api="openmp"):
            base.real_score = base.fit_score(x_trn, y_trn)
    return base


def ml_utility(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    sample_size: int = 50_000,
    seed: int | None = 0,
    baseline: MlBaseline | None = None,
) -> dict[str, Any]:
    """Score of a model trained on synthetic vs on real train, both tested on the real holdout.

    ``baseline``: the train-on-real half computed earlier from the same train and holdout
    (:func:`ml_baseline`); one made for another target, sample size or seed is not used.
    """
    if baseline is None or (baseline.target, baseline.sample_size, baseline.seed) != (
            target, sample_size, seed):
        baseline = ml_baseline(train, holdout, target, sample_size, seed)
    x_syn, y_syn = baseline._xy(_sample(synthetic, sample_size, seed))
    if len(baseline.y_hol) < 10 or len(baseline.y_trn) < 10 or len(y_syn) < 10:
        return {"target": target, "error": "fewer than 10 labelled rows in a frame"}
    with threadpool_limits(limits=1, user_api="openmp"):
        syn_score = baseline.fit_score(x_syn, y_syn)
    real_score, classify = baseline.real_score, baseline.classify
    binary = classify and len(np.unique(np.concatenate([baseline.y_trn, baseline.y_hol]))) == 2
    ratio = None
    if real_score is not None and syn_score is not None and real_score > 0:
        ratio = float(syn_score / real_score)
    return {
        "target": target,
        "task": "classification" if classify else "regression",
        "score_name": ("roc_auc" if binary else "balanced_accuracy") if classify else "r2",
        "model": "HistGradientBoosting",
        "train_on_real": real_score,
        "train_on_synthetic": syn_score,
        "ratio": ratio,
        "test_rows": int(len(baseline.y_hol)),
    }


def _group_codes(
    real: pd.Series, synthetic: pd.Series, min_group_size: int, small: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted group labels (canonical text) and each row's index into them, real and synthetic.

    Factorising both columns together and converting only the distinct values to text keeps a
    million-row column out of Python strings. Groups with fewer than ``min_group_size`` real
    rows, and synthetic values absent from the real data, fall into ``small``.
    """
    both = pd.concat([real.reset_index(drop=True), synthetic.reset_index(drop=True)])
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    text = np.append(as_text(pd.Series(uniques, dtype=object)), NULL_TOKEN)
    row_text_code = np.where(codes < 0, len(text) - 1, codes)
    canon, canon_of_unique = np.unique(text, return_inverse=True)  # 1 vs "1" are one group
    row_canon = canon_of_unique[row_text_code]
    r_rows, s_rows = row_canon[: len(real)], row_canon[len(real) :]
    counts = np.bincount(r_rows, minlength=len(canon))
    keep = counts >= max(min_group_size, 1)
    names = [str(c) for c in canon[keep]]
    if ((counts > 0) & ~keep).any():  # real rows in small groups: pooled under one label
        names.append(small)
    labels = sorted(names)
    pos = {g: i for i, g in enumerate(labels)}
    small_pos = pos.get(small, -1)
    mapping = np.array([pos[str(c)] if k else small_pos for c, k in zip(canon, keep, strict=True)])
    r_code, s_code = mapping[r_rows], mapping[s_rows]
    if small_pos < 0:  # synthetic values the real data lacks belong to no real group
        s_code = np.where(np.isin(s_rows, np.flatnonzero(~keep)), -1, s_code)
    return labels, r_code, s_code


def group_parity(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    protected: list[str],
    target: str,
    min_group_size: int = 10,
) -> dict[str, Any]:
    """Per protected attribute and group: share and target statistic, real vs synthetic.

    Groups with fewer than ``min_group_size`` real rows are pooled as "(small groups)" so their
    labels never appear in the evidence.
    """
    kinds = frame_kinds(real)
    for c in [*protected, target]:
        if c not in kinds:
            raise ConfigError(f"metrics: group_parity column {c!r} is not a column")
    t_kind = kinds[target]
    classify = _is_classification(real[_col(real, target)], t_kind)

    # The target as one float per row, computed once per frame (a million-row column is
    # converted once, not once per group): 1/0 for "is the most frequent class", else the value.
    def target_values(frame: pd.DataFrame) -> np.ndarray:
        if classify:
            return (as_text(frame[_col(frame, target)]) == positive).astype(float)
        return as_float(frame[_col(frame, target)], t_kind)

    if classify:
        positive = pd.Series(as_text(real[_col(real, target)])).value_counts().index[0]
    r_t, s_t = target_values(real), target_values(synthetic)

    def stat(values: np.ndarray, mask: np.ndarray) -> float | None:
        v = values[mask]
        if not classify:
            v = v[~np.isnan(v)]
        return float(v.mean()) if len(v) else None

    out: dict[str, Any] = {
        "target": target,
        "statistic": "rate of the most frequent class" if classify else "mean",
        "attributes": {},
    }
    small = "(small groups)"
    for attr in protected:
        labels, r_code, s_code = _group_codes(
            real[_col(real, attr)], synthetic[_col(synthetic, attr)], min_group_size, small
        )
        groups = []
        gaps = []
        for i, g in enumerate(labels):
            rm, sm = r_code == i, s_code == i
            r_stat, s_stat = stat(r_t, rm), stat(s_t, sm)
            label = "(NULL)" if g == NULL_TOKEN else str(g)
            groups.append(
                {
                    "group": label,
                    "real_share": float(rm.mean()),
                    "synthetic_share": float(sm.mean()) if len(sm) else 0.0,
                    "real_target": r_stat,
                    "synthetic_target": s_stat,
                }
            )
            if r_stat is not None and s_stat is not None:
                gaps.append(abs(r_stat - s_stat))
        out["attributes"][attr] = {
            "groups": groups,
            "max_abs_gap": float(max(gaps)) if gaps else None,
        }
    return out
