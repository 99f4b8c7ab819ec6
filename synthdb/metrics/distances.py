"""Distance-based privacy metrics: DCR share, NNDR, membership inference, outlier re-creation.

Definitions follow MOSTLY AI QA (``mostlyai-qa``):

- train, holdout and synthetic are sub-sampled to one common size ``n`` (at most
  ``sample_size``), so "closer to train than to holdout" is a fair coin for a generator that
  never saw the training rows (a bigger train set would be closer by chance alone);
- DCR = Euclidean distance to the closest record, NNDR = DCR / distance to the 2nd closest
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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

from synthdb.errors import EmptyInputError
from synthdb.metrics.encoding import MixedEncoder

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9)
_EPS = 1e-8
_DECIMALS = 9  # distances are rounded before comparisons so float noise never breaks a tie


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


def _knn(data: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    nn = NearestNeighbors(n_neighbors=min(k, len(data)), algorithm="brute", n_jobs=-1)
    nn.fit(data)
    dist, _ = nn.kneighbors(query)
    dist = np.round(dist, _DECIMALS)
    if dist.shape[1] < k:  # a one-row reference set has no 2nd neighbour
        dist = np.hstack([dist, np.full((len(dist), k - dist.shape[1]), np.inf)])
    return dist


def compute_distances(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    sample_size: int = 50_000,
    seed: int | None = 0,
    max_categories: int = 20,
) -> Distances:
    """Encode equal-size samples of the three frames and run the nearest-neighbour queries."""
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

    # Index on train: synthetic and holdout queries in one pass.
    d = _knn(x_trn, np.vstack([x_syn, x_hol]), 2)
    d_syn_trn, d_hol_trn = d[:n], d[n:]
    # Index on holdout: synthetic (2-NN for NNDR) and train (isolation of training records).
    d = _knn(x_hol, np.vstack([x_syn, x_trn]), 2)
    d_syn_hol, d_trn_hol = d[:n], d[n:, 0]
    # Index on synthetic: the attacker's view of every real record.
    d = _knn(x_syn, np.vstack([x_trn, x_hol]), 1)[:, 0]
    d_trn_syn, d_hol_syn = d[:n], d[n:]

    def nndr(dd: np.ndarray) -> np.ndarray:
        return (dd[:, 0] + _EPS) / (dd[:, 1] + _EPS)

    return Distances(
        n=n,
        dcr_syn_trn=d_syn_trn[:, 0],
        dcr_syn_hol=d_syn_hol[:, 0],
        dcr_hol_trn=d_hol_trn[:, 0],
        nndr_syn_trn=nndr(d_syn_trn),
        nndr_syn_hol=nndr(d_syn_hol),
        nndr_hol_trn=nndr(d_hol_trn),
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
    scores = -np.concatenate([d.dcr_trn_syn, d.dcr_hol_syn])
    labels = np.concatenate([np.ones(d.n), np.zeros(d.n)])
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
        "members": d.n,
        "non_members": d.n,
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
