"""Correlation of normal scores: pairwise-complete, shrunk, repaired to positive definite.

Scores of a value that is NULL do not exist, so each pair of latent dimensions is estimated on
the rows where both exist (the null flag itself is a dimension, so missingness still correlates
with everything). Pairwise estimates need not form a valid correlation matrix, hence the
Ledoit-Wolf shrinkage towards the identity (it also tames noise on small inputs) followed by an
eigenvalue floor and rescaling to a unit diagonal.
"""

from __future__ import annotations

import numpy as np

MIN_PAIR_ROWS = 5


def shrunk_correlation(
    z: np.ndarray,
    rng: np.random.Generator,
    eig_floor: float = 1e-4,
    attenuation: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Return (correlation matrix, shrinkage used) for normal scores ``z`` (NaN = missing).

    ``attenuation`` (one factor per dimension, see ``marginals.attenuation``) undoes the
    weakening of correlations that tie-jittering discrete dimensions causes.
    """
    n, d = z.shape
    if d == 0:
        return np.zeros((0, 0)), 0.0
    present = ~np.isnan(z)
    z0 = np.where(present, z, 0.0)
    m = present.astype(float)
    counts = m.T @ m
    mean = (z0.T @ m) / np.maximum(counts, 1)  # mean of i over rows where i and j both exist
    cross = (z0.T @ z0) / np.maximum(counts, 1)
    sq = ((z0**2).T @ m) / np.maximum(counts, 1)
    var_i = np.maximum(sq - mean**2, 1e-12)
    cov = cross - mean * mean.T
    corr = cov / np.sqrt(var_i * var_i.T)
    corr[counts < MIN_PAIR_ROWS] = 0.0
    if attenuation is not None:
        corr = corr / np.outer(attenuation, attenuation)
    corr = np.clip(np.nan_to_num(corr), -0.999, 0.999)
    np.fill_diagonal(corr, 1.0)

    from sklearn.covariance import ledoit_wolf_shrinkage  # on first fit: synthdb.release.warmup

    # Shrinkage intensity from a filled subsample (missing scores replaced by noise).
    take = rng.choice(n, size=min(n, 50_000), replace=False) if n > 50_000 else np.arange(n)
    filled = np.where(present[take], z0[take], rng.standard_normal((len(take), d)))
    shrink = float(ledoit_wolf_shrinkage(filled, assume_centered=False)) if len(take) > 1 else 1.0
    corr = (1.0 - shrink) * corr + shrink * np.eye(d)
    return repair_pd(corr, eig_floor), shrink


def repair_pd(corr: np.ndarray, eig_floor: float = 1e-4) -> np.ndarray:
    """Nearest-ish positive definite correlation: floor eigenvalues, restore unit diagonal."""
    corr = (corr + corr.T) / 2.0
    w, v = np.linalg.eigh(corr)
    if w.min() >= eig_floor:
        return corr
    w = np.maximum(w, eig_floor)
    fixed = (v * w) @ v.T
    s = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(s, s)
    np.fill_diagonal(fixed, 1.0)
    return fixed
