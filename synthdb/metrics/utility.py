"""Fidelity scores with SDMetrics' definitions: column shapes, column pair trends, overall.

- Column shape: KSComplement (1 - two-sample Kolmogorov-Smirnov statistic, NULLs dropped) for
  numbers and datetimes; TVComplement (1 - total variation distance of category frequencies,
  NULL counted as a category) for categories and booleans.
- Column pair trend: CorrelationSimilarity (1 - |r_real - r_syn| / 2, Pearson, rows where both
  are non-NULL) for two numeric/datetime columns; ContingencySimilarity (1 - TVD of the joint
  frequency table, numbers cut into 10 equal-width bins of the real range, NULL its own cell)
  whenever a category or boolean is involved.
- Overall quality: mean of the two property scores (as SDMetrics' QualityReport).

Key-like text columns (mostly distinct values) are left out, as SDMetrics leaves out ``id``
columns: their frequencies are meaningless for fidelity.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from synthdb.metrics._columns import Kind, as_float, as_text, frame_kinds, is_identifier_like

_BINS = 10


def _sample(frame: pd.DataFrame, n: int | None, seed: int | None) -> pd.DataFrame:
    if n is None or len(frame) <= n:
        return frame
    rng = np.random.default_rng(seed)
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]


def fidelity_columns(real: pd.DataFrame) -> tuple[dict[str, Kind], list[str]]:
    """Kinds of the columns scored for fidelity, and the key-like columns left out."""
    kinds = frame_kinds(real)
    skipped = [
        c
        for c, k in kinds.items()
        if k == "categorical" and is_identifier_like(real[_col(real, c)])
    ]
    return {c: k for c, k in kinds.items() if c not in skipped}, skipped


def _col(frame: pd.DataFrame, name: str) -> Any:
    for c in frame.columns:
        if str(c) == name:
            return c
    raise KeyError(name)


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """1 - KS statistic on non-NULL values (1.0 when both are entirely NULL)."""
    r, s = real[~np.isnan(real)], synthetic[~np.isnan(synthetic)]
    if not len(r) or not len(s):
        return 1.0 if len(r) == len(s) else 0.0
    from scipy.stats import ks_2samp  # SciPy on first use: see synthdb.metrics

    return float(1.0 - ks_2samp(r, s).statistic)


def tv_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """1 - total variation distance of category frequencies (NULL is a category)."""
    if not len(real) or not len(synthetic):
        return 1.0 if len(real) == len(synthetic) else 0.0
    p = pd.Series(real).value_counts(normalize=True)
    q = pd.Series(synthetic).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p.to_numpy() - q.to_numpy()).sum())


def column_shapes(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sample_size: int | None = None,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Per-column shape score (KS or TV complement) and their mean."""
    kinds, skipped = fidelity_columns(real)
    real, synthetic = _sample(real, sample_size, seed), _sample(synthetic, sample_size, seed)
    scores: dict[str, dict[str, Any]] = {}
    for name, kind in kinds.items():
        r, s = real[_col(real, name)], synthetic[_col(synthetic, name)]
        if kind in ("numeric", "datetime"):
            score = ks_complement(as_float(r, kind), as_float(s, kind))
            scores[name] = {"metric": "KSComplement", "score": score}
        else:
            score = tv_complement(as_text(r), as_text(s))
            scores[name] = {"metric": "TVComplement", "score": score}
    values = [v["score"] for v in scores.values()]
    return {
        "score": float(np.mean(values)) if values else None,
        "columns": scores,
        "skipped_identifier_like": skipped,
    }


def _codes(real: pd.Series, synthetic: pd.Series, kind: Kind) -> tuple[np.ndarray, np.ndarray, int]:
    """Shared small-integer codes for a contingency table: bins for numbers, labels otherwise."""
    if kind in ("numeric", "datetime"):
        r, s = as_float(real, kind), as_float(synthetic, kind)
        finite = r[~np.isnan(r)]
        if len(finite):
            edges = np.histogram_bin_edges(finite, bins=_BINS)[1:-1]
        else:
            edges = np.array([])
        null = len(edges) + 1

        def code(x: np.ndarray) -> np.ndarray:
            out = np.digitize(x, edges)
            out[np.isnan(x)] = null
            return out

        return code(r), code(s), null + 1
    r_txt, s_txt = as_text(real), as_text(synthetic)
    cats = pd.Index(pd.unique(np.concatenate([r_txt, s_txt])))
    return cats.get_indexer(r_txt), cats.get_indexer(s_txt), len(cats)


def contingency_similarity(
    r_a: np.ndarray, r_b: np.ndarray, s_a: np.ndarray, s_b: np.ndarray, nb: int
) -> float:
    """1 - TVD of two joint frequency tables given integer codes."""
    p = np.bincount(r_a.astype(np.int64) * nb + r_b, minlength=0)
    q = np.bincount(s_a.astype(np.int64) * nb + s_b, minlength=0)
    size = max(len(p), len(q))
    p = np.pad(p, (0, size - len(p))) / max(len(r_a), 1)
    q = np.pad(q, (0, size - len(q))) / max(len(s_a), 1)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def correlation_similarity(
    r_a: np.ndarray, r_b: np.ndarray, s_a: np.ndarray, s_b: np.ndarray
) -> float | None:
    """1 - |Pearson(real) - Pearson(synthetic)| / 2 on rows where both values are present."""

    def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
        ok = ~(np.isnan(a) | np.isnan(b))
        if ok.sum() < 2 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            return None
        return float(np.corrcoef(a[ok], b[ok])[0, 1])

    r, s = pearson(r_a, r_b), pearson(s_a, s_b)
    if r is None:
        return None
    if s is None:
        s = 0.0
    return float(1.0 - abs(r - s) / 2.0)


def column_pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    sample_size: int | None = 50_000,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Per-pair trend score and their mean; also the real and synthetic correlation matrices."""
    kinds, skipped = fidelity_columns(real)
    real, synthetic = _sample(real, sample_size, seed), _sample(synthetic, sample_size, seed)
    names = list(kinds)
    floats = {
        n: (
            as_float(real[_col(real, n)], kinds[n]),
            as_float(synthetic[_col(synthetic, n)], kinds[n]),
        )
        for n in names
        if kinds[n] in ("numeric", "datetime")
    }
    codes = {n: _codes(real[_col(real, n)], synthetic[_col(synthetic, n)], kinds[n]) for n in names}
    pairs: list[dict[str, Any]] = []
    for a, b in itertools.combinations(names, 2):
        if a in floats and b in floats:
            score = correlation_similarity(floats[a][0], floats[b][0], floats[a][1], floats[b][1])
            metric = "CorrelationSimilarity"
        else:
            (ra, sa, _), (rb, sb, nb) = codes[a], codes[b]
            score = contingency_similarity(ra, rb, sa, sb, nb)
            metric = "ContingencySimilarity"
        if score is not None:
            pairs.append({"columns": [a, b], "metric": metric, "score": score})
    values = [p["score"] for p in pairs]
    return {
        "score": float(np.mean(values)) if values else None,
        "pairs": pairs,
        "skipped_identifier_like": skipped,
        "correlation": correlation_matrices(real, synthetic, names, kinds),
    }


def correlation_matrices(
    real: pd.DataFrame, synthetic: pd.DataFrame, names: list[str], kinds: dict[str, Kind]
) -> dict[str, Any]:
    """Pearson correlations of numeric/datetime/boolean columns, real and synthetic."""
    cols = [n for n in names if kinds[n] in ("numeric", "datetime", "boolean")]

    def matrix(frame: pd.DataFrame) -> list[list[float | None]]:
        data = pd.DataFrame({n: as_float(frame[_col(frame, n)], kinds[n]) for n in cols})
        m = data.corr(method="pearson", min_periods=2).to_numpy()
        return [[None if np.isnan(v) else float(v) for v in row] for row in m]

    return {"columns": cols, "real": matrix(real), "synthetic": matrix(synthetic)}


def quality_score(shapes: dict[str, Any], trends: dict[str, Any]) -> float | None:
    """SDMetrics-style overall score: mean of the available property scores."""
    parts = [x for x in (shapes.get("score"), trends.get("score")) if x is not None]
    return float(np.mean(parts)) if parts else None
