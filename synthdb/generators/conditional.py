"""Columns conditional on a category they depend on: one table per frequent category.

A Gaussian copula links columns through one correlation of normal scores. That cannot express a
relation in which each category owns its own range of a number: a neighbourhood and its
coordinates, a product and its price band, a region and its postcode area. Sampled
independently given a single correlation, coordinates land in the wrong neighbourhood, the rows
resemble no real row, and their distances to real rows are ruled by a few stray points, which
makes the privacy measurements noisy. When a categorical column explains most of a number's
variance, the number's latent score becomes its rank *within* the category and sampling inverts
the table of the category drawn for the row (as timestamp cells do for month and weekday).
The same holds for a coarser category nested in a finer one (the police precinct of a
neighbourhood): its outcome frequencies are kept per parent category.

Privacy: a number's tables exist only for categories with at least ``min_rows`` training rows
(never fewer than ``rare_min_count``), each table knot summarises at least ``rows_per_knot``
rows, and values stay inside the category's protected quantiles and the column's global bounds.
A discrete outcome's table exists for every category with an outcome seen at least
``rare_min_count`` times, and a (parent, outcome) combination seen fewer times is never emitted
(only a category none of whose outcomes is that frequent draws from the overall frequencies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .marginals import IntervalMarginal, QuantileMarginal, ecdf_scores

#: a category explaining at least this share of a number's rank variance becomes its parent
MIN_ETA_SQUARED = 0.5
#: categories with fewer training rows keep the column's overall table
MIN_GROUP_ROWS = 50


def eta_squared(x: np.ndarray, codes: np.ndarray) -> float:
    """Correlation ratio of ranks of ``x`` given group ``codes`` (>= 0), in [0, 1].

    Ranks make it robust to heavy tails (an income outlier would otherwise decide the parent).
    """
    if len(x) < 2:
        return 0.0
    r = pd.Series(x).rank(method="average").to_numpy()
    r = r - r.mean()
    total = float(np.sum(r * r))
    if total <= 0:
        return 0.0
    sums = np.bincount(codes, weights=r)
    counts = np.bincount(codes)
    between = float(np.sum(sums[counts > 0] ** 2 / counts[counts > 0]))
    return between / total


def theil_u(child: np.ndarray, parent: np.ndarray) -> float:
    """Uncertainty coefficient U(child | parent): share of the child's entropy the parent explains.

    Both are non-negative integer codes of the same rows. 1 = the parent determines the child.
    """
    if len(child) < 2:
        return 0.0
    pc = np.bincount(child) / len(child)
    pc = pc[pc > 0]
    h_child = -float(np.sum(pc * np.log(pc)))
    if h_child <= 0:
        return 0.0
    k = int(child.max()) + 1
    joint = np.bincount(parent.astype(np.int64) * k + child).astype(float)
    pj = joint[joint > 0] / len(child)
    pp = np.bincount(parent) / len(child)
    pp = pp[pp > 0]
    h_joint = -float(np.sum(pj * np.log(pj)))
    h_parent = -float(np.sum(pp * np.log(pp)))
    return float(np.clip((h_child + h_parent - h_joint) / h_child, 0.0, 1.0))


def choose_parents(
    frame: pd.DataFrame,
    numeric: list[int],
    categorical: list[int],
    discrete: list[int] | None = None,
    min_eta: float = MIN_ETA_SQUARED,
    min_rows: int = MIN_GROUP_ROWS,
) -> dict[int, int]:
    """``{child position: categorical parent position}`` where the parent explains the child.

    ``numeric`` children are judged by the correlation ratio of ranks, ``discrete`` ones
    (categories, small integer domains) by the uncertainty coefficient, and only a parent with
    more categories than the child has values qualifies (the finer category explains the
    coarser). A parent needs at least two categories with ``min_rows`` rows each (otherwise a
    per-category table would be the overall one) and is never a child itself, so there are no
    chains. The strongest parent at or above ``min_eta`` wins.
    """
    coded: dict[int, np.ndarray] = {}
    sizes: dict[int, int] = {}
    for j in categorical:
        codes, _ = pd.factorize(frame.iloc[:, j], use_na_sentinel=True)
        counts = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0)
        sizes[j] = len(counts)
        if int((counts >= min_rows).sum()) >= 2:
            coded[j] = codes
    out: dict[int, int] = {}
    for i in discrete or []:
        child, _ = pd.factorize(frame.iloc[:, i], use_na_sentinel=True)
        n_child = int(child.max()) + 1 if (child >= 0).any() else 0
        finer = {j: c for j, c in coded.items() if j != i and sizes[j] > n_child}
        best = _strongest(child, child >= 0, finer, theil_u, min_eta, min_rows)
        if best is not None:
            out[i] = best
    parents = set(out.values())
    out = {i: j for i, j in out.items() if i not in parents}
    coded = {j: c for j, c in coded.items() if j not in out}
    for i in numeric:
        x = frame.iloc[:, i].to_numpy(dtype=float, na_value=np.nan)
        best = _strongest(x, ~np.isnan(x), coded, eta_squared, min_eta, min_rows)
        if best is not None:
            out[i] = best
    return out


def _strongest(
    child: np.ndarray,
    present: np.ndarray,
    candidates: dict[int, np.ndarray],
    score: Callable[[np.ndarray, np.ndarray], float],
    min_score: float,
    min_rows: int,
) -> int | None:
    """The candidate parent whose codes best explain ``child`` (scored on rows where both
    exist, at least ``2 * min_rows`` of them), if its score reaches ``min_score``."""
    best, best_score = None, min_score
    for j, codes in candidates.items():
        ok = present & (codes >= 0)
        if ok.sum() < 2 * min_rows:
            continue
        value = score(child[ok], codes[ok])
        if value >= best_score:
            best, best_score = j, value
    return best


def _split(group: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(table number, row positions) for each table number >= 0 in ``group``; one sort, so the
    cost does not grow with tables times rows (1,470 tail-number tables on flights)."""
    order = np.argsort(group, kind="stable")
    gs = group[order]
    if not len(gs):
        return []
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    ends = np.r_[starts[1:], len(gs)]
    return [(int(gs[a]), order[a:b]) for a, b in zip(starts, ends, strict=True) if gs[a] >= 0]


class _PerCategory:
    """Tables keyed by parent value, and the overall marginal for every other value."""

    overall: Any
    keys: pd.Index
    tables: list[Any]

    def _table_of(self, parent: pd.Series) -> np.ndarray:
        return self.keys.get_indexer(pd.Series(parent, dtype=object).array)

    def from_uniform(self, u: np.ndarray, parent: pd.Series) -> np.ndarray:
        """Values (or outcome positions) for scores ``u`` given the rows' synthetic parents."""
        out = self.overall.from_uniform(u)
        for g, rows in _split(self._table_of(parent)):
            out[rows] = self.tables[g].from_uniform(u[rows])
        return out

    def info(self) -> dict[str, Any]:
        return {"per_category_tables": len(self.tables)}


class ConditionalQuantiles(_PerCategory):
    """Per-category quantile tables of one number; the overall table covers other categories."""

    def __init__(
        self,
        x: np.ndarray,
        parent: pd.Series,
        overall: QuantileMarginal,
        tail_quantile: float,
        min_rows: int,
        rows_per_knot: int,
        integer: bool = False,
        decimals: int | None = None,
    ) -> None:
        """``x`` and ``parent`` are the non-null rows of the number and the parent's values."""
        codes, uniques = pd.factorize(parent, use_na_sentinel=True)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        self.overall = overall
        with_table = np.flatnonzero(counts >= min_rows)
        self.keys = pd.Index(pd.Series(uniques, dtype=object).iloc[with_table].array)
        self.tables: list[QuantileMarginal] = []
        bounds = (overall.lo, overall.hi)
        for key_code in with_table:
            self.tables.append(
                QuantileMarginal(
                    x[codes == key_code],
                    tail_quantile,
                    rows_per_knot=rows_per_knot,
                    integer=integer,
                    decimals=decimals,
                    bounds=bounds,
                )
            )
        self._fit_group = self._table_of(parent)

    def to_uniform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rank within the row's category (overall rank where the category has no table)."""
        u = self.overall.to_uniform(x, rng)
        for _, rows in _split(self._fit_group):
            u[rows] = ecdf_scores(x[rows], rng)
        del self._fit_group  # fit-time only
        return u


class ConditionalIntervals(_PerCategory):
    """Per-category outcome frequencies of a discrete column; overall ones for other categories.

    ``pos`` are the child's outcome positions (0..k-1) in its own interval marginal, for its
    non-null rows. Fit scores use the full per-category counts; sampling uses counts in which
    combinations seen fewer than ``min_cell`` times are zeroed (never emitted).

    Every category with an outcome seen at least ``min_cell`` times has its own table, however
    few its rows (unlike a number's quantile tables, which need ``min_rows``). A small category
    that fell back to the overall frequencies drew its rare combinations at the overall rate
    (hypothesis found 47 rows of outcome 0 and one of outcome 1, emitted as 1, 2 and 3), and
    zeroing only its rare cells there would tell them apart from the outcomes it never had.
    Only a category with no outcome that frequent keeps the overall frequencies.
    """

    def __init__(
        self,
        pos: np.ndarray,
        parent: pd.Series,
        overall: IntervalMarginal,
        min_cell: int,
    ) -> None:
        k = len(overall.width)
        codes, uniques = pd.factorize(parent, use_na_sentinel=True)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        self.overall = overall
        keys, self.fit_tables, self.tables = [], [], []
        for key_code in np.flatnonzero(counts >= min_cell):
            cell = np.bincount(pos[codes == key_code], minlength=k).astype(float)
            emitted = np.where(cell >= min_cell, cell, 0.0)
            if emitted.sum() <= 0:
                continue
            keys.append(uniques[key_code])
            self.fit_tables.append(IntervalMarginal(cell))
            self.tables.append(IntervalMarginal(emitted))
        self.keys = pd.Index(pd.Series(keys, dtype=object).array)
        self._fit_group = self._table_of(parent)

    def to_uniform(self, pos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Score within the row's category's frequencies (overall ones without a table)."""
        u = self.overall.to_uniform(pos, rng)
        for g, rows in _split(self._fit_group):
            u[rows] = self.fit_tables[g].to_uniform(pos[rows], rng)
        del self._fit_group, self.fit_tables  # fit-time only
        return u
