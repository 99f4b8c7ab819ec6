"""Per-leaf distributions of one latent dimension, flattened so sampling is one vectorised pass.

A decision tree splits the training rows into leaves (the conditioning cells of the sequential
generator). Each leaf keeps a *protected* distribution of the dimension it predicts, never its
rows:

* ``LeafCodes`` — a discrete dimension (category, null flag, calendar part, small integer
  domain): outcome frequencies of the leaf without the outcomes that may never be emitted (the
  pool of rare categories). Draws are one ``searchsorted`` over all leaves' cumulative
  frequencies, each leaf's shifted by its own index.
* ``LeafQuantiles`` — a continuous dimension, as uniform scores (ranks) that the column's own
  protected quantile table turns into values: a smoothed quantile table of the leaf's scores,
  each knot summarising at least ``rows_per_knot`` rows and interpolated between knots, so a
  draw is never a training row's value and the column's tail protection still applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conditional import _split
from .lookups import SamplingLookups
from .marginals import binned_search


class LeafCodes(SamplingLookups):
    """Outcome frequencies per leaf; ``banned`` outcomes are dropped (never drawn)."""

    def __init__(
        self, leaf: np.ndarray, codes: np.ndarray, n_leaves: int, n_codes: int, banned: np.ndarray
    ) -> None:
        ok = ~np.isin(codes, banned)
        overall = np.bincount(codes[ok], minlength=n_codes).astype(float)
        if overall.sum() <= 0:  # pragma: no cover - callers ensure an emitted outcome exists
            raise ValueError("no outcome may be emitted")
        key = leaf[ok].astype(np.int64) * n_codes + codes[ok]
        keys, counts = np.unique(key, return_counts=True)
        leaf_of = keys // n_codes
        present = np.zeros(n_leaves, dtype=bool)
        present[leaf_of] = True
        # a leaf whose rows all held banned outcomes draws from the overall frequencies
        empty = np.flatnonzero(~present)
        nz = np.flatnonzero(overall)
        if len(empty):
            keys = np.concatenate([keys, (empty[:, None] * n_codes + nz[None, :]).ravel()])
            counts = np.concatenate([counts, np.tile(overall[nz], len(empty))])
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
            leaf_of = keys // n_codes
        totals = np.bincount(leaf_of, weights=counts, minlength=n_leaves)
        p = counts / totals[leaf_of]
        cum = np.cumsum(p)
        # cumulative share inside each leaf, shifted by the leaf index: leaf l owns (l, l + 1]
        starts = np.r_[0, np.flatnonzero(np.diff(leaf_of)) + 1]
        lengths = np.diff(np.r_[starts, len(keys)])
        within = cum - np.repeat(cum[starts] - p[starts], lengths)
        within[np.r_[starts[1:] - 1, len(keys) - 1]] = 1.0
        self.upper = leaf_of + within
        self.codes = (keys % n_codes).astype(np.int64)
        self.n_codes = n_codes

    def sample(self, leaf: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Outcome per row for its ``leaf`` and uniform draw ``u``."""
        x = leaf + np.clip(u, 0.0, 1.0 - 1e-9)
        pos = binned_search(self, self.upper, x)
        return self.codes[np.minimum(pos, len(self.codes) - 1)]

    def info(self) -> dict[str, Any]:
        return {"leaf_outcomes": int(len(self.codes))}


class LeafQuantiles:
    """A smoothed quantile table of scores per leaf; tables of all leaves in one flat array."""

    def __init__(
        self,
        leaf: np.ndarray,
        u: np.ndarray,
        n_leaves: int,
        rows_per_knot: int,
        max_knots: int = 65,
    ) -> None:
        overall = np.sort(u)
        k_all = _knots(len(overall), rows_per_knot, max_knots)
        fallback = _table(overall, k_all)
        # a leaf without training rows of this dimension uses the overall scores
        tables: list[np.ndarray] = [fallback] * n_leaves
        for g, rows in _split(leaf.astype(np.int64)):
            xs = np.sort(u[rows])
            k = _knots(len(xs), rows_per_knot, max_knots)
            tables[g] = _table(xs, k)
        sizes = np.array([len(t) for t in tables], dtype=np.int64)
        self.offset = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
        self.size = sizes
        self.table = np.concatenate(tables) if tables else np.zeros(0)

    def sample(self, leaf: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Score per row, interpolated in its leaf's table at the uniform draw ``u``."""
        size = self.size[leaf]
        pos = np.clip(u, 0.0, 1.0) * (size - 1)
        lo = np.minimum(np.floor(pos).astype(np.int64), size - 2)
        frac = pos - lo
        a = self.table[self.offset[leaf] + lo]
        b = self.table[self.offset[leaf] + lo + 1]
        return a + frac * (b - a)

    def info(self) -> dict[str, Any]:
        return {"leaf_knots": int(len(self.table))}


def _knots(n: int, rows_per_knot: int, max_knots: int) -> int:
    """Knots of a table of ``n`` sorted scores: one every ``rows_per_knot`` rows, both ends
    included, so the table is uniform inside blocks of ``rows_per_knot`` consecutive rows."""
    return int(min(max_knots, max(2, n // max(1, rows_per_knot) + 1)))


def _table(xs: np.ndarray, k: int) -> np.ndarray:
    """``k`` knots, at evenly spaced probabilities, of the quantile function of sorted ``xs``.

    Each of the n rows owns probability 1/n centred on its rank (Hazen positions
    ``(i + 0.5) / n``) and the two ends reach half a gap beyond the extreme rows. Interpolating
    between the order statistics themselves (min at 0, max at 1) would shrink every small leaf
    towards its middle, and with many small leaves the column's tails (0.90 quantile drawn at
    0.88 in a test).
    """
    n = len(xs)
    if n == 1:
        return np.repeat(xs, 2)
    lo = xs[0] - 0.5 * (xs[1] - xs[0])
    hi = xs[-1] + 0.5 * (xs[-1] - xs[-2])
    p = np.r_[0.0, (np.arange(n) + 0.5) / n, 1.0]
    return np.interp(np.linspace(0.0, 1.0, k), p, np.r_[lo, xs, hi])
