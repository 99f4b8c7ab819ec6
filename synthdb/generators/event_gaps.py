"""When a parent's events happen: first event and the gaps between consecutive events.

Children drawn one by one get timestamps from the column's overall distribution, so a plane's
flights would be spread over the whole year at random and a customer's purchases would not
cluster. Here the events of one parent are a sequence: a first-event time and inter-event gaps,
both learned per *count band* (parents with 1, 2-3, 4-7, ... children; bands merged until each
holds at least ``rare_min_count`` parents), since busy parents have short gaps.

Privacy: each band keeps smoothed quantile tables (knots summarising at least ``rare_min_count``
parents' first times or gaps, see ``leaves.LeafQuantiles``), gaps on a log scale; sequences are
kept inside the protected window from the ``rare_min_count``-th earliest to the
``rare_min_count``-th latest training event, so no real extreme timestamp is emitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .leaves import LeafQuantiles
from .strata import stratified_uniforms


def _band_of(counts: np.ndarray) -> np.ndarray:
    """Count band: 0 for 1 child, 1 for 2-3, 2 for 4-7, ... (log2 bands)."""
    return np.floor(np.log2(np.maximum(counts, 1))).astype(np.int64)


class EventGaps:
    """First-event time and gap tables per count band (``fit``, ``sample``); times in seconds."""

    def __init__(self, rare_min_count: int = 10) -> None:
        self.rare_min_count = rare_min_count

    def fit(self, parent: np.ndarray, seconds: np.ndarray) -> EventGaps:
        """``parent``: integer parent index of each event; ``seconds``: its time (no NaN)."""
        k = int(self.rare_min_count)
        order = np.lexsort((seconds, parent))
        p, t = parent[order], seconds[order]
        starts = np.r_[0, np.flatnonzero(np.diff(p)) + 1]
        counts = np.diff(np.r_[starts, len(p)])
        raw_band = _band_of(counts)
        self.band_map_ = _merge_small_bands(raw_band, k)
        band = self.band_map_[raw_band]
        n_bands = int(band.max()) + 1
        self.first_ = LeafQuantiles(band, t[starts], n_bands, rows_per_knot=k)
        first_of = np.repeat(np.arange(len(starts)), counts)
        is_gap = np.r_[False, p[1:] == p[:-1]]
        gaps = np.log1p(np.maximum(t[is_gap] - t[np.flatnonzero(is_gap) - 1], 0.0))
        gap_band = band[first_of[is_gap]]
        self.has_gaps_ = len(gaps) > 0
        if self.has_gaps_:
            self.gaps_ = LeafQuantiles(gap_band, gaps, n_bands, rows_per_knot=k)
        ts = np.sort(t)
        self.lo_, self.hi_ = float(ts[min(k, len(ts)) - 1]), float(ts[max(len(ts) - k, 0)])
        if self.lo_ > self.hi_:
            self.lo_ = self.hi_ = float(np.median(ts))
        return self

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Times of ``sum(counts)`` events, ascending within each parent, parents in order."""
        counts = np.asarray(counts, dtype=np.int64)
        keep = counts > 0
        band = self.band_map_[np.minimum(_band_of(counts[keep]), len(self.band_map_) - 1)]
        # stratified within each band: the first events of a band's parents spread over its
        # table rather than bunching by chance (same marginal per parent)
        first = self.first_.sample(band, stratified_uniforms(band, rng))
        c = counts[keep]
        total = int(c.sum())
        owner = np.repeat(np.arange(len(c)), c)
        step = np.zeros(total)
        if self.has_gaps_ and total:
            step = np.expm1(self.gaps_.sample(band[owner], rng.random(total)))
        starts = np.r_[0, np.cumsum(c)[:-1]]
        step[starts] = 0.0
        offset = np.cumsum(np.maximum(step, 0.0))
        offset -= np.repeat(offset[starts], c)
        span = np.repeat(offset[np.r_[starts[1:] - 1, total - 1]], c) if total else offset
        # fit each sequence into the protected window: shift it left, and squeeze one longer
        # than the window
        window = self.hi_ - self.lo_
        scale = np.where(span > window, window / np.maximum(span, 1e-9), 1.0)
        start = np.clip(np.repeat(first, c), self.lo_, None)
        start = np.minimum(start, self.hi_ - span * scale)
        return np.clip(start + offset * scale, self.lo_, self.hi_)

    def describe(self) -> dict[str, Any]:
        return {
            "model": "first event and log gaps per count band, protected quantile tables",
            "bands": int(self.band_map_.max()) + 1,
            "window": "rare_min_count-th earliest to rare_min_count-th latest event",
        }


def _merge_small_bands(band: np.ndarray, k: int) -> np.ndarray:
    """Map raw band -> merged band so every merged band holds >= k parents (upward merges)."""
    n_raw = int(band.max()) + 1 if len(band) else 1
    sizes = np.bincount(band, minlength=n_raw)
    mapping = np.zeros(n_raw + 64, dtype=np.int64)
    current, held = 0, 0
    for b in range(n_raw):
        mapping[b] = current
        held += int(sizes[b])
        if held >= k and b < n_raw - 1 and sizes[b + 1 :].sum() >= k:
            current, held = current + 1, 0
    mapping[n_raw:] = mapping[n_raw - 1]
    return mapping
