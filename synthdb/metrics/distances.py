"""Distance-based privacy metrics: DCR share, NNDR, membership inference, outlier re-creation.

Definitions follow MOSTLY AI QA (``mostlyai-qa``):

- train, holdout and synthetic are sub-sampled to one common size ``n`` (at most
  ``sample_size``), so "closer to train than to holdout" is a fair coin for a generator that
  never saw the training rows (a bigger train set would be closer by chance alone);
- DCR = Euclidean distance to the closest record (exact, brute force), NNDR = DCR / distance to the 2nd closest
  record (both with +1e-8 like mostlyai-qa); DCR share = share of synthetic rows whose DCR to
  train is smaller than to holdout, ties counting one half; ideal 0.5;
- holdout-to-train distances are the baseline: what a genuinely new record looks like.

The membership-inference attacker (Yeom et al. style, distance-based) scores each real record
by minus its distance to the closest synthetic record and guesses "member" (= in train) above a
threshold. We report its ROC AUC and its *advantage* TPR - FPR, with the threshold chosen on one
half of the records and evaluated on the other (two-fold, averaged): picking the best threshold
and scoring it on the same records would show an advantage even for a perfect generator.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthdb.errors import EmptyInputError
from synthdb.metrics.encoding import MixedEncoder

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9)
_EPS = 1e-8
_DECIMALS = 9  # distances are rounded before comparisons so float noise never breaks a tie
_ZERO_D2 = 1e-12  # squared distances below this are an exact match plus float noise
_TILE_ROWS, _TILE_COLS = 256, 2048  # 4 MB float64 tiles: fit in L2/L3 next to the BLAS buffers


@dataclass
class Distances:
    """Raw distance arrays of one evaluation (kept in memory, never stored)."""

    n: int
    dcr_syn_trn: np.ndarray
    dcr_syn_hol: np.ndarray
    dcr_hol_trn: np.ndarray
    nndr_syn_trn: np.ndarray
    nndr_syn_hol: np.ndarray
    nndr_hol_trn: np.ndarray
    dcr_trn_syn: np.ndarray  # each training record to its closest synthetic record
    dcr_hol_syn: np.ndarray  # each holdout record to its closest synthetic record
    dcr_trn_hol: np.ndarray  # each training record to its closest holdout record (isolation)


def _sample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    idx = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[idx].reset_index(drop=True)


def _tile_pairs(
    a: np.ndarray, b_t: np.ndarray, start: int, rows: int, cols: int
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Squared distances of ``a[start:start+rows]`` to every ``b`` row, reduced both ways.

    ``a`` and ``b_t`` are the augmented matrices of :func:`_nearest_pairs`, so one GEMM yields
    squared distances. Returns the two smallest per ``a`` row and the smallest per ``b`` row.
    """
    ai = a[start : start + rows]
    idx = np.arange(len(ai))
    first = np.full(len(ai), np.inf)
    second = np.full(len(ai), np.inf)
    col_min = []
    for j in range(0, b_t.shape[1], cols):
        d2 = ai @ b_t[:, j : j + cols]
        col_min.append(d2.min(axis=0))
        arg = d2.argmin(axis=1)
        m1 = d2[idx, arg]
        d2[idx, arg] = np.inf  # mask one occurrence: a duplicate still counts as 2nd neighbour
        m2 = d2.min(axis=1)
        second = np.minimum(np.maximum(first, m1), np.minimum(second, m2))
        first = np.minimum(first, m1)
    return start, first, second, np.concatenate(col_min)


def _nearest_pairs(
    a: np.ndarray, b: np.ndarray, n_jobs: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact brute-force neighbours in both directions from one pass over the distance matrix.

    Returns (distance of each ``a`` row to its closest ``b`` row, to its 2nd closest, distance
    of each ``b`` row to its closest ``a`` row). Every metric here needs a pair of sets in both
    directions (synthetic→train for DCR and train→synthetic for the attacker), and
    ``sklearn.neighbors.NearestNeighbors`` would compute the same ``|a|·|b|`` matrix once per
    direction; reducing each tile by rows and by columns halves the work.

    Squared distances come straight out of one matrix product of augmented rows
    ``[x, |x|², 1]·[-2y, 1, |y|²]`` (the expansion scikit-learn uses too), after centring so
    the norms (and the cancellation error) stay small. Squared distances below 1e-12 (distance
    1e-6, the ``zero_dcr_share`` resolution) are float noise of an exact match and become 0, so
    exact matches tie exactly. Tiles of a few MB keep the reductions in cache; row blocks run in
    ``n_jobs`` threads (numpy releases the GIL) with single-threaded BLAS in each.
    """
    centre = np.vstack([a, b]).mean(axis=0)
    a, b = a - centre, b - centre
    na, nb = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    a_aug = np.hstack([a, na[:, None], np.ones((len(a), 1))])
    b_aug_t = np.ascontiguousarray(np.hstack([-2.0 * b, np.ones((len(b), 1)), nb[:, None]]).T)
    first = np.empty(len(a))
    second = np.empty(len(a))
    col_min = np.full(len(b), np.inf)
    jobs = max(1, n_jobs or os.cpu_count() or 1)
    starts = range(0, len(a), _TILE_ROWS)
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(jobs) as pool:
        tiles = pool.map(lambda s: _tile_pairs(a_aug, b_aug_t, s, _TILE_ROWS, _TILE_COLS), starts)
        for start, f, s, c in tiles:
            first[start : start + len(f)] = f
            second[start : start + len(s)] = s
            np.minimum(col_min, c, out=col_min)

    def to_distance(d2: np.ndarray) -> np.ndarray:
        d2 = np.where(d2 < _ZERO_D2, 0.0, d2)
        return np.round(np.sqrt(d2), _DECIMALS)

    return to_distance(first), to_distance(second), to_distance(col_min)


def compute_distances(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    sample_size: int = 50_000,
    seed: int | None = 0,
    max_categories: int = 20,
    n_jobs: int | None = None,
) -> Distances:
    """Encode equal-size samples of the three frames and find the nearest neighbours.

    ``n_jobs`` threads share the neighbour search (default: one per core).
    """
    n = min(sample_size, len(train), len(holdout), len(synthetic))
    if n < 2:
        raise EmptyInputError(
            f"metrics: distance metrics need at least 2 rows in train, holdout and synthetic "
            f"(got {len(train)}, {len(holdout)}, {len(synthetic)})"
        )
    rng = np.random.default_rng(seed)
    trn = _sample(train, n, rng)
    hol = _sample(holdout, n, rng)
    syn = _sample(synthetic[list(train.columns)], n, rng)
    enc = MixedEncoder(max_categories=max_categories).fit(pd.concat([trn, hol], ignore_index=True))
    x_trn, x_hol, x_syn = enc.transform(trn), enc.transform(hol), enc.transform(syn)

    # Three pairs of sets, each reduced in both directions from one distance matrix:
    # synthetic↔train (DCR, NNDR; the attacker's view of members), holdout↔train (baseline;
    # isolation of training records), synthetic↔holdout (DCR share; attacker on non-members).
    syn_trn1, syn_trn2, d_trn_syn = _nearest_pairs(x_syn, x_trn, n_jobs)
    hol_trn1, hol_trn2, d_trn_hol = _nearest_pairs(x_hol, x_trn, n_jobs)
    syn_hol1, syn_hol2, d_hol_syn = _nearest_pairs(x_syn, x_hol, n_jobs)

    def nndr(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
        return (d1 + _EPS) / (d2 + _EPS)

    return Distances(
        n=n,
        dcr_syn_trn=syn_trn1,
        dcr_syn_hol=syn_hol1,
        dcr_hol_trn=hol_trn1,
        nndr_syn_trn=nndr(syn_trn1, syn_trn2),
        nndr_syn_hol=nndr(syn_hol1, syn_hol2),
        nndr_hol_trn=nndr(hol_trn1, hol_trn2),
        dcr_trn_syn=d_trn_syn,
        dcr_hol_syn=d_hol_syn,
        dcr_trn_hol=d_trn_hol,
    )


def dcr_share(d: Distances) -> float:
    """Share of synthetic rows closer to train than to holdout (ties count 1/2); ideal 0.5."""
    closer = np.mean(d.dcr_syn_trn < d.dcr_syn_hol)
    ties = np.mean(d.dcr_syn_trn == d.dcr_syn_hol)
    return float(closer + ties / 2.0)


def _quantiles(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {}
    return {f"q{int(q * 100):02d}": float(np.quantile(x, q)) for q in QUANTILES}


def distance_summary(d: Distances) -> dict[str, Any]:
    """DCR share plus DCR / NNDR quantiles (synthetic→train, synthetic→holdout, holdout→train)."""
    return {
        "sample_rows": d.n,
        "dcr_share": dcr_share(d),
        "dcr_syn_trn_mean": float(np.mean(d.dcr_syn_trn)),
        "dcr_syn_hol_mean": float(np.mean(d.dcr_syn_hol)),
        "dcr_quantiles": {
            "synthetic_to_train": _quantiles(d.dcr_syn_trn),
            "synthetic_to_holdout": _quantiles(d.dcr_syn_hol),
            "holdout_to_train": _quantiles(d.dcr_hol_trn),
        },
        "nndr_quantiles": {
            "synthetic_to_train": _quantiles(d.nndr_syn_trn),
            "synthetic_to_holdout": _quantiles(d.nndr_syn_hol),
            "holdout_to_train": _quantiles(d.nndr_hol_trn),
        },
        # mostlyai-qa's NNDR statistic: the 10th smallest value.
        "nndr_10th_smallest": {
            "synthetic_to_train": float(np.sort(d.nndr_syn_trn)[min(9, d.n - 1)]),
            "synthetic_to_holdout": float(np.sort(d.nndr_syn_hol)[min(9, d.n - 1)]),
        },
        "zero_dcr_share": {
            "synthetic_to_train": float(np.mean(d.dcr_syn_trn <= 1e-6)),
            "holdout_to_train": float(np.mean(d.dcr_hol_trn <= 1e-6)),
        },
    }


def membership_inference(d: Distances, seed: int | None = 0) -> dict[str, Any]:
    """AUC and two-fold advantage (TPR - FPR) of the closest-synthetic-record attacker."""
    return distance_attack(d.dcr_trn_syn, d.dcr_hol_syn, seed)


def distance_attack(member_dcr: np.ndarray, non_member_dcr: np.ndarray,
                    seed: int | None = 0) -> dict[str, Any]:
    """The attacker of ``membership_inference`` on any records' distances to the synthetic
    rows (rows, or subjects by their nearest row): closer means "member"."""
    from sklearn.metrics import roc_auc_score, roc_curve  # on first use: see synthdb.metrics

    scores = -np.concatenate([member_dcr, non_member_dcr])
    labels = np.concatenate([np.ones(len(member_dcr)), np.zeros(len(non_member_dcr))])
    auc = float(roc_auc_score(labels, scores))
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(labels)) % 2
    advantages = []
    for fit_fold in (0, 1):
        fit, ev = fold == fit_fold, fold != fit_fold
        if len(np.unique(labels[fit])) < 2 or len(np.unique(labels[ev])) < 2:
            continue
        fpr, tpr, thr = roc_curve(labels[fit], scores[fit])
        best = thr[int(np.argmax(tpr - fpr))]
        guess = scores[ev] >= best
        pos, neg = labels[ev] == 1, labels[ev] == 0
        advantages.append(float(guess[pos].mean() - guess[neg].mean()))
    return {
        "auc": auc,
        "advantage": float(np.mean(advantages)) if advantages else 0.0,
        "advantage_from_auc": 2.0 * auc - 1.0,
        "members": len(member_dcr),
        "non_members": len(non_member_dcr),
    }


def outlier_recreation(d: Distances, top: int = 100, top_share: float = 0.01) -> dict[str, Any]:
    """How many of the most isolated training records got a synthetic record very close by.

    A training record's isolation is its distance to the closest holdout record (how far it is
    from the rest of the population). The ``min(top, top_share·n)`` most isolated ones are the
    extremes; one counts as re-created when a synthetic record lies closer to it than the median
    holdout→train DCR (the distance at which a genuinely new record typically sits).
    """
    m = max(1, min(top, int(np.ceil(top_share * d.n))))
    extremes = np.argsort(-d.dcr_trn_hol, kind="stable")[:m]
    radius = float(np.median(d.dcr_hol_trn))
    recreated = d.dcr_trn_syn[extremes] < radius
    # The same test for ordinary holdout records gives the rate expected by chance.
    baseline = float(np.mean(d.dcr_hol_syn < radius))
    return {
        "extreme_records": int(m),
        "radius": radius,
        "recreated": int(recreated.sum()),
        "recreated_share": float(recreated.mean()),
        "holdout_within_radius_share": baseline,
    }


def distance_histograms(d: Distances, bins: int = 30) -> dict[str, Any]:
    """Histogram counts of DCR (synthetic→train, synthetic→holdout, holdout→train) for plots."""
    arrays = {
        "synthetic_to_train": d.dcr_syn_trn,
        "synthetic_to_holdout": d.dcr_syn_hol,
        "holdout_to_train": d.dcr_hol_trn,
    }
    hi = max(float(np.quantile(a, 0.99)) for a in arrays.values())
    edges = np.linspace(0.0, hi if hi > 0 else 1.0, bins + 1)
    return {
        "edges": [float(e) for e in edges],
        "counts": {
            k: np.histogram(np.clip(a, 0, edges[-1]), edges)[0].tolist() for k, a in arrays.items()
        },
    }
