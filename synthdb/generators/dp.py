"""Differentially private fit of the Gaussian copula (DPCopula style, Li et al., EDBT 2014).

Why a separate fit: the ordinary fit reads exact quantiles, exact frequencies and an exact
correlation matrix, all of which a single row can move. Here every statistic that leaves the data
is a noisy release with a stated budget, and everything after the noise is post-processing:

* **Neighbouring datasets**: replace one row (bounded DP; the number of rows ``n`` is public, as
  in DPCopula). A histogram then has L1 sensitivity 2, Kendall's tau on ``m`` rows 4/m.
* **Marginals** (share ``epsilon_split`` of epsilon): one noisy histogram per column over a
  domain fixed *without looking at the data* — a NULL cell plus value bins between
  data-independent bounds (``dp_bounds`` given by the user, else the ColumnSpec's declared
  ``bounds``; a number or timestamp column with neither is refused, naming it), plus one noisy
  histogram per calendar part (day of week, month, hour) of timestamp columns. The budget is
  split equally over all histograms (sequential composition); within a histogram the cells are
  disjoint (parallel composition). Categories are counted over the declared domain
  (``ColumnSpec.categories``, booleans: True/False); if none is declared the *observed set* of
  values is used, which is **not** private (recorded under ``privacy.leaks``) — the counts
  still are, and categories whose noisy count is below ``rare_min_count`` are dropped, so a
  value seen once is almost never emitted.
* **Correlation** (the rest of epsilon): Kendall's tau of every pair of latent dimensions on a
  subsample of ``dp_tau_rows`` rows, Laplace noise of scale ``4 * pairs / (m * eps_corr)``,
  soft-thresholded at the noise scale (post-processing), mapped to a Pearson correlation by
  ``sin(pi/2 * tau)``, corrected for discretisation by the attenuation factors computed from
  the *noisy* marginals, and repaired to positive definite. Null scores are replaced by
  independent uniforms, so every pair uses all ``m`` rows and each row affects a pair only
  through its own values.
* **Protection from noisy statistics**: protected quantiles (``tail_quantile``) are read from
  the noisy CDF, rare categories and small null shares from noisy counts.
* **Noise** comes from OpenDP (discrete Laplace for counts, Laplace for taus). OpenDP draws
  from the operating system's randomness, so a DP fit is *not* reproducible from
  ``random_state`` (the seed still fixes the subsample and tie-breaking). That is inherent:
  noise an attacker could regenerate from a stored seed would protect nothing.

``epsilon=inf`` is not handled here: the copula takes its ordinary, exact path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, UnsupportedColumnError

from . import timeparts
from ._output import constant_series, datetime_series, numeric_series, take_series
from .copula import _Mock, null_flag_scores
from .correlation import repair_pd
from .marginals import IntervalMarginal, QuantileMarginal, attenuation
from .specs import ColumnSpec

#: most value bins a numeric histogram may have (more bins = more cells to drown in noise)
MAX_BINS = 128
#: fewest value bins of a continuous column
MIN_BINS = 4
#: a bin should expect at least this many noise scales of signal; fixes the bin count from
#: the public n and the budget, never from the data
SIGNAL_PER_BIN = 4.0
#: points of the quantile table built from a noisy histogram
TABLE_POINTS = 257


# ----------------------------------------------------------------------------- mechanisms
def _opendp():
    try:
        import opendp.prelude as dp
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ConfigError(
            "GaussianCopula(epsilon=...): differential privacy needs the 'opendp' package "
            "(pip install opendp)"
        ) from exc
    dp.enable_features("contrib")
    return dp


def laplace_counts(counts: np.ndarray, sensitivity: float, epsilon: float) -> np.ndarray:
    """Integer counts plus discrete Laplace noise of scale ``sensitivity / epsilon`` (OpenDP).

    The OpenDP measurement's own privacy map is checked against ``epsilon`` so a mistake in
    the scale cannot silently spend more than promised.
    """
    dp = _opendp()
    scale = float(sensitivity) / float(epsilon)
    meas = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )
    spent = meas.map(int(math.ceil(sensitivity)))
    if spent > epsilon * (1 + 1e-9):  # pragma: no cover - guards the arithmetic above
        raise AssertionError(f"Laplace scale {scale} spends {spent} > {epsilon}")
    values = [int(v) for v in np.asarray(counts, dtype=np.int64)]
    return np.asarray(meas(values), dtype=float)


def laplace_values(values: np.ndarray, sensitivity: float, epsilon: float) -> np.ndarray:
    """Real values plus Laplace noise, L1 ``sensitivity`` over the whole vector (OpenDP)."""
    dp = _opendp()
    scale = float(sensitivity) / float(epsilon)
    meas = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.l1_distance(T=float),
        scale=scale,
    )
    spent = meas.map(float(sensitivity))
    if spent > epsilon * (1 + 1e-6):  # pragma: no cover
        raise AssertionError(f"Laplace scale {scale} spends {spent} > {epsilon}")
    return np.asarray(meas([float(v) for v in np.asarray(values, dtype=float)]), dtype=float)


# ------------------------------------------------------------------------------- checks
def check_params(epsilon: Any, delta: Any, epsilon_split: Any) -> None:
    """Validate the DP settings (called for every fit; epsilon None means non-DP)."""
    if epsilon is not None:
        try:
            eps = float(epsilon)
        except (TypeError, ValueError):
            eps = float("nan")
        if not eps > 0:  # also catches NaN
            raise ConfigError(
                f"GaussianCopula: epsilon must be a number > 0 (or inf / None for no DP), "
                f"got {epsilon!r}"
            )
    if not (isinstance(delta, (int, float)) and 0.0 <= float(delta) < 1.0):
        raise ConfigError(f"GaussianCopula: delta must be in [0, 1), got {delta!r}")
    if not (isinstance(epsilon_split, (int, float)) and 0.0 < float(epsilon_split) <= 1.0):
        raise ConfigError(
            "GaussianCopula: epsilon_split (share of epsilon spent on marginals, the rest on "
            f"correlations) must be in (0, 1], got {epsilon_split!r}"
        )


def _bounds_for(spec: ColumnSpec, dp_bounds: dict, convert) -> tuple[float, float]:
    """Data-independent (lo, hi) of a number/timestamp column, or a ConfigError naming it."""
    b = dp_bounds.get(spec.name)
    source = "dp_bounds"
    if b is None and spec.bounds is not None and None not in tuple(spec.bounds):
        b, source = spec.bounds, "declared bounds"
    if b is None:
        raise ConfigError(
            f"GaussianCopula(epsilon=...): column {spec.name!r} has no data-independent bounds; "
            "a DP histogram needs them. Give dp_bounds={" + repr(spec.name) + ": (lo, hi)} in "
            "synth.generator, declare bounds on the column, or drop the column"
        )
    lo, hi = convert(b[0]), convert(b[1])
    if not lo < hi:
        raise ConfigError(
            f"GaussianCopula: {source} of column {spec.name!r} must have lo < hi, got {b!r}"
        )
    return lo, hi


def _noisy_hist(counts: np.ndarray, eps: float, spent: list) -> np.ndarray:
    spent.append(eps)
    return np.maximum(laplace_counts(counts, 2.0, eps), 0.0)


def _null_threshold(rare_min_count: int, eps: float) -> float:
    """Noisy NULL counts below this are read as "never NULL" (post-processing).

    Three noise scales: a column that is never NULL gets a spurious NULL share with
    probability ~2.5 %; below ``rare_min_count`` NULLs are not reproduced anyway.
    """
    return max(float(rare_min_count), 3.0 * 2.0 / eps)


def _n_bins(n: int, eps: float) -> int:
    scale = 2.0 / eps
    return int(np.clip(n / (SIGNAL_PER_BIN * scale), MIN_BINS, MAX_BINS))


def _quantile_marginal(
    hist: np.ndarray,
    edges: np.ndarray,
    tail_q: float,
    integer: bool,
    decimals: int | None,
    lo: float,
    hi: float,
) -> QuantileMarginal:
    """A QuantileMarginal whose table inverts the piecewise-linear CDF of a noisy histogram."""
    total = hist.sum()
    p = hist / total if total > 0 else np.full(len(hist), 1.0 / len(hist))
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    cdf[-1] = 1.0
    probs = np.linspace(tail_q, 1.0 - tail_q, TABLE_POINTS)
    # np.interp needs increasing xp: flat stretches (empty bins) are nudged by a hair
    xp = cdf + np.arange(len(cdf)) * 1e-12
    table = np.interp(probs, xp, edges)
    m = object.__new__(QuantileMarginal)
    m.grid = np.linspace(0.0, 1.0, TABLE_POINTS)
    m.table = table
    tlo, thi = float(table[0]), float(table[-1])
    if integer:
        tlo, thi = float(np.ceil(tlo - 1e-9)), float(np.floor(thi + 1e-9))
        if tlo > thi:
            tlo = thi = float(np.round(np.interp(0.5, xp, edges)))
    m.lo, m.hi = max(tlo, lo), min(thi, hi)
    if m.lo > m.hi:
        m.lo = m.hi = float(np.clip(np.interp(0.5, xp, edges), lo, hi))
    m.integer = integer
    m.decimals = decimals
    return m


def _value_hist(
    x: np.ndarray,
    null: np.ndarray,
    lo: float,
    hi: float,
    integer: bool,
    n: int,
    eps: float,
    rare_min_count: int,
    spent: list,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Noisy (value bin counts, bin edges, NULL count); one histogram, NULL is one more cell."""
    if integer and hi - lo + 1 <= MAX_BINS:
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
    else:
        edges = np.linspace(lo, hi, _n_bins(n, eps) + 1)
    v = np.clip(x[~null], lo, hi)
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    noisy = _noisy_hist(np.append(counts, int(null.sum())), eps, spent)
    n_null = noisy[-1] if noisy[-1] >= _null_threshold(rare_min_count, eps) else 0.0
    return noisy[:-1], edges, n_null


def _no_na(dtype: Any) -> bool:
    """True for numpy int/bool dtypes, which cannot represent NULL."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iub"


def _flag(nonnull: float, n_null: float) -> IntervalMarginal | None:
    if n_null <= 0:
        return None
    return IntervalMarginal(np.array([max(nonnull, 0.0), n_null]))


def _fill(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scores of missing values replaced by independent uniforms (every pair uses all rows)."""
    miss = np.isnan(u)
    if miss.any():
        u = u.copy()
        u[miss] = rng.random(int(miss.sum()))
    return u


# ------------------------------------------------------------------------------ columns
class _DPColumn:
    """Same contract as the copula's columns: ``dims``, ``atten``, ``scores``, ``decode``."""

    dims = 0
    suppressed = 0
    histograms = 0

    def __init__(self) -> None:
        self.atten: list[float] = []
        self.spent: list[float] = []

    def info(self) -> dict[str, Any]:
        return {"dp_epsilon": round(float(sum(self.spent)), 9)}


class DPNumeric(_DPColumn):
    histograms = 1

    def __init__(self, spec, s, eps, tail_q, rare_min_count, dp_bounds) -> None:
        super().__init__()
        self.dtype = s.dtype
        integer = spec.kind == "integer"
        lo, hi = _bounds_for(spec, dp_bounds, float)
        if integer:
            lo, hi = float(math.ceil(lo)), float(math.floor(hi))
        null = s.isna().to_numpy()
        x = s.to_numpy(dtype=float, na_value=np.nan)
        hist, edges, n_null = _value_hist(
            x, null, lo, hi, integer, len(s), eps, rare_min_count, self.spent
        )
        # a numpy int column cannot hold NULL: a noisy NULL share there is dropped
        self.flag = None if _no_na(self.dtype) else _flag(hist.sum(), n_null)
        self.unit_bins = integer and np.allclose(np.diff(edges), 1.0)
        self.marginal = _quantile_marginal(
            hist, edges, tail_q, integer, 0 if integer else spec.scale, lo, hi
        )
        self._value_atten = attenuation(hist) if self.unit_bins and hist.sum() > 0 else 1.0
        self.lo, self.hi = self.marginal.lo, self.marginal.hi
        self.dims = (self.flag is not None) + 1

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        null = s.isna().to_numpy()
        x = s.to_numpy(dtype=float, na_value=np.nan)
        out = null_flag_scores(self.flag, null, rng, self.atten)
        u = np.full(len(s), np.nan)
        u[~null] = self.marginal.to_uniform(x[~null], rng)  # ranks only: tau is rank-based
        out.append(u)
        self.atten.append(self._value_atten)
        return out

    def decode(self, u: np.ndarray, rng: np.random.Generator) -> pd.Series:
        null = self.flag.from_uniform(u[:, 0]) == 1 if self.flag is not None else None
        v = self.marginal.from_uniform(u[:, -1])
        return numeric_series(np.clip(v, self.lo, self.hi), null, self.dtype)

    def info(self) -> dict[str, Any]:
        return {"marginal": "dp_histogram", **super().info()}


class DPCategorical(_DPColumn):
    histograms = 1

    def __init__(self, spec, s, eps, rare_min_count, protect, leaks) -> None:
        super().__init__()
        self.dtype = s.dtype
        null = s.isna().to_numpy()
        if spec.categories:
            domain = pd.unique(pd.Series(list(spec.categories), dtype=object))
            self.domain_source = "declared"
        elif spec.kind == "boolean" and pd.api.types.is_bool_dtype(s.dtype):
            domain = np.array([False, True], dtype=object)
            self.domain_source = "type"
        else:
            domain = pd.unique(s[~null])
            self.domain_source = "observed"
            leaks.append(spec.name)
        codes = pd.Index(domain).get_indexer(s.where(~null, None).astype(object))
        counts = np.bincount(codes[codes >= 0], minlength=len(domain))
        noisy = _noisy_hist(np.append(counts, int(null.sum())), eps, self.spent)
        self.all_null = len(domain) == 0
        if self.all_null:
            # no value at all (an all-NULL column, whose domain observed is empty): it stays
            # all NULL, as the exact fit's constant column does, instead of being refused
            self.uniques = pd.array([], dtype=object)
            return
        thr = rare_min_count if protect else 1e-12
        keep = noisy[:-1] >= thr
        if not keep.any():
            raise UnsupportedColumnError(
                f"column {spec.name!r}: no category has a noisy count >= rare_min_count="
                f"{rare_min_count} at this epsilon, so none may be emitted; raise epsilon, "
                "lower rare_min_count, or mock the column",
                [spec.name],
            )
        self.suppressed = int((~keep).sum())
        kept = np.flatnonzero(keep)
        self.uniques = pd.array(list(pd.Index(domain)[kept]), dtype=object)
        out_codes = list(range(len(kept)))
        out_counts = list(noisy[kept])
        n_null = noisy[-1] if noisy[-1] >= _null_threshold(rare_min_count, eps) else 0.0
        if n_null > 0 and not _no_na(self.dtype):
            out_codes.append(-1)
            out_counts.append(n_null)
        order = np.argsort(-np.asarray(out_counts), kind="stable")
        self.outcome_code = np.asarray(out_codes, dtype=np.int64)[order]
        self.marginal = IntervalMarginal(np.asarray(out_counts)[order])
        pos_of = {int(c): i for i, c in enumerate(self.outcome_code)}
        self._src_pos = np.full(len(domain), -1, dtype=np.int64)
        self._src_pos[kept] = [pos_of[i] for i in range(len(kept))]
        self._null_pos = pos_of.get(-1, -1)
        self._codes = codes
        self._null = null
        self.dims = 1

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        if self.all_null:
            return []
        pos = np.where(self._codes >= 0, self._src_pos[np.maximum(self._codes, 0)], -1)
        pos = np.where(self._null, self._null_pos, pos)
        u = np.full(len(s), np.nan)
        ok = pos >= 0  # dropped categories / unreproduced NULLs: no score (filled later)
        u[ok] = self.marginal.to_uniform(pos[ok], rng)
        self.atten = [attenuation(self.marginal.width)]
        del self._codes, self._null, self._src_pos
        return [u]

    def decode(self, u: np.ndarray, rng: np.random.Generator) -> pd.Series:
        if self.all_null:
            return constant_series(None, len(u), self.dtype)
        codes = self.outcome_code[self.marginal.from_uniform(u[:, 0])]
        return take_series(self.uniques, codes, self.dtype)

    def info(self) -> dict[str, Any]:
        return {
            "categories_emitted": len(self.uniques),
            "categories_suppressed": self.suppressed,
            "category_domain": self.domain_source,
            **super().info(),
        }


def _datetime_plan(spec: ColumnSpec, dp_bounds: dict, tz: Any) -> tuple[int, int, list[str]]:
    """Bounds and calendar parts of a DP timestamp column, from the bounds and type only.

    Bounds are read as local wall-clock microseconds in the column's zone ``tz`` (a naive
    bound is already wall-clock time there), the convention of the exact copula's timestamps.
    The budget split and the column both call this, so they count the same histograms.
    """
    lo, hi = _bounds_for(spec, dp_bounds, lambda v: timeparts.bound_micros(v, tz))
    span = hi - lo
    parts = []
    if span >= 14 * timeparts.US_DAY:
        parts.append("dow")
    if span >= 90 * timeparts.US_DAY:
        parts.append("month")
    if spec.kind != "date":
        parts.append("hour")
    return lo, hi, parts


class DPDatetime(_DPColumn):
    """Null flag + trend + calendar parts in local wall-clock time (like the exact copula).

    A tz-aware column is modelled in the clock time of its zone: the hour, weekday and month
    parts are what people there see, so an evening peak stays at the same local hours on both
    sides of a DST change (in UTC it would sit one hour apart in summer and winter, and be
    blurred across both). Output is rebuilt with ``datetime_series(..., wall_time=True)``.
    """

    def __init__(self, spec, s, eps, tail_q, rare_min_count, dp_bounds) -> None:
        super().__init__()
        self.dtype = s.dtype
        self.is_date = spec.kind == "date"
        # parts and resolution from the bounds and the type, never from the data
        lo, hi, self.parts = _datetime_plan(spec, dp_bounds, getattr(s.dtype, "tz", None))
        self.histograms = 1 + len(self.parts)
        eps_h = eps / self.histograms
        self.res = timeparts.US_DAY if self.is_date else 1_000_000
        null = s.isna().to_numpy()
        us = self._micros(s)
        hist, edges, n_null = _value_hist(
            us.astype(float), null, lo, hi, False, len(s), eps_h, rare_min_count, self.spent
        )
        self.flag = _flag(hist.sum(), n_null)
        self.trend = _quantile_marginal(hist, edges, tail_q, False, None, lo, hi)
        tlo = int(np.ceil(self.trend.lo / self.res) * self.res)
        thi = int(np.floor(self.trend.hi / self.res) * self.res)
        self.lo, self.hi = (tlo, thi) if tlo <= thi else (tlo, tlo)
        cal = timeparts.calendar_parts(np.clip(us[~null], lo, hi).astype(np.int64))
        self.part_marginals = {}
        for p in self.parts:
            size = timeparts.PART_SIZES[p]
            counts = np.bincount(cal[p], minlength=size)
            noisy = _noisy_hist(counts, eps_h, self.spent)
            if noisy.sum() <= 0:
                noisy = np.ones(size)
            self.part_marginals[p] = IntervalMarginal(noisy)
        self.dims = (self.flag is not None) + 1 + len(self.parts)

    #: local wall-clock microseconds (NULL -> 0), shared with the exact copula
    _micros = staticmethod(timeparts.wall_micros)

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        null = s.isna().to_numpy()
        us = self._micros(s)
        out = null_flag_scores(self.flag, null, rng, self.atten)
        t = np.full(len(s), np.nan)
        t[~null] = self.trend.to_uniform(us[~null], rng)
        out.append(t)
        self.atten.append(1.0)
        cal = timeparts.calendar_parts(us[~null])
        for p in self.parts:
            u = np.full(len(s), np.nan)
            u[~null] = self.part_marginals[p].to_uniform(cal[p], rng)
            out.append(u)
            self.atten.append(attenuation(self.part_marginals[p].width))
        return out

    def decode(self, u: np.ndarray, rng: np.random.Generator) -> pd.Series:
        j = 0
        null = None
        if self.flag is not None:
            null = self.flag.from_uniform(u[:, 0]) == 1
            j = 1
        trend = np.round(self.trend.from_uniform(u[:, j])).astype(np.int64)
        parts = {
            p: self.part_marginals[p].from_uniform(u[:, j + 1 + i])
            for i, p in enumerate(self.parts)
        }
        us = timeparts.reassemble(trend, parts, self.lo, self.hi, self.res)
        return datetime_series(us, null, self.dtype, wall_time=True)

    def info(self) -> dict[str, Any]:
        return {"calendar_parts": list(self.parts), "marginal": "dp_histogram", **super().info()}


# --------------------------------------------------------------------------- the fit
def _n_histograms(spec: ColumnSpec, dp_bounds: dict, tz: Any) -> int:
    if spec.kind in ("date", "datetime"):
        return 1 + len(_datetime_plan(spec, dp_bounds, tz)[2])
    return 1


def dp_correlation(
    u: np.ndarray, atten: np.ndarray, eps: float, rng: np.random.Generator, max_rows: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Noisy Kendall's tau per pair -> sin(pi/2 tau) -> attenuation -> PD repair."""
    n, d = u.shape
    if d < 2:
        return np.eye(d), {"pairs": 0}
    m = min(n, int(max_rows))
    take = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    v = _fill(u[take], rng)
    from scipy.stats import kendalltau  # on first fit: synthdb.release.warmup

    iu = np.triu_indices(d, 1)
    taus = np.array([kendalltau(v[:, i], v[:, j])[0] for i, j in zip(*iu, strict=True)])
    taus = np.nan_to_num(taus)
    pairs = len(taus)
    sensitivity = 4.0 * pairs / m  # replace one of m rows: each tau moves at most 4/m
    scale = sensitivity / eps
    noisy = np.clip(laplace_values(taus, sensitivity, eps), -1.0, 1.0)
    # post-processing: soft threshold at the noise scale (kills most pure-noise pairs)
    noisy = np.sign(noisy) * np.maximum(np.abs(noisy) - scale, 0.0)
    rho = np.sin(np.pi / 2.0 * noisy)
    corr = np.eye(d)
    corr[iu] = rho
    corr = corr + corr.T - np.eye(d)
    corr = corr / np.outer(atten, atten)
    corr = np.clip(corr, -0.999, 0.999)
    np.fill_diagonal(corr, 1.0)
    return repair_pd(corr), {
        "pairs": int(pairs),
        "rows": int(m),
        "tau_sensitivity": sensitivity / pairs,
        "laplace_scale": scale,
    }


def fit_dp(
    model: Any, frame: pd.DataFrame, specs: list[ColumnSpec], mock: set, rng: np.random.Generator
) -> None:
    """Fill ``model``'s fitted attributes (``columns_``, ``corr_``, ``chol_``, ``dp_``)."""
    eps_total = float(model.epsilon)
    split = float(model.epsilon_split)
    dp_bounds = dict(model.dp_bounds or {})
    unknown = sorted(set(dp_bounds) - {s.name for s in specs})
    if unknown:
        raise ConfigError(f"GaussianCopula: dp_bounds names columns not in the input: {unknown}")
    n = len(frame)
    q = float(model.tail_quantile)
    rare = int(model.rare_min_count)
    # refuse unbounded columns before any noise is drawn (and before any budget is spent)
    tzs = [getattr(frame.iloc[:, i].dtype, "tz", None) for i in range(len(specs))]
    modelled = [i for i, s in enumerate(specs) if s.name not in mock]
    missing = []
    for i in modelled:
        s = specs[i]
        if s.kind in ("float", "integer", "date", "datetime"):
            try:
                if s.kind in ("date", "datetime"):
                    _datetime_plan(s, dp_bounds, tzs[i])
                else:
                    _bounds_for(s, dp_bounds, float)
            except ConfigError:
                missing.append(s.name)
    if missing:
        raise ConfigError(
            "GaussianCopula(epsilon=...): columns "
            + ", ".join(repr(c) for c in missing)
            + " have no data-independent bounds; a DP histogram needs them. Give "
            "dp_bounds={column: (lo, hi)} in synth.generator or declare bounds on the columns"
        )
    n_hist = sum(_n_histograms(specs[i], dp_bounds, tzs[i]) for i in modelled)
    eps_marg = eps_total * split if split < 1.0 else eps_total
    eps_corr = eps_total - eps_marg
    eps_h = eps_marg / max(n_hist, 1)
    leaks: list[str] = []
    columns, blocks, atten = [], [], []
    for i, spec in enumerate(specs):
        s = frame.iloc[:, i]
        if spec.name in mock:
            col: Any = _Mock(spec, s)
        elif spec.kind in ("float", "integer"):
            col = DPNumeric(spec, s, eps_h, q, rare, dp_bounds)
        elif spec.kind in ("date", "datetime"):
            col = DPDatetime(
                spec, s, eps_h * _n_histograms(spec, dp_bounds, tzs[i]), q, rare, dp_bounds
            )
        elif spec.kind in ("categorical", "boolean", "constant"):
            col = DPCategorical(spec, s, eps_h, rare, spec.kind != "boolean", leaks)
        else:  # pragma: no cover - id/text are refused or mocked before
            raise UnsupportedColumnError(f"column {spec.name!r}: unsupported kind", [spec.name])
        col.kind = spec.kind
        blocks.extend(col.scores(s, rng))
        atten.extend(col.atten)
        columns.append(col)
    corr_info: dict[str, Any] = {"pairs": 0}
    if blocks and eps_corr > 0:
        corr, corr_info = dp_correlation(
            np.column_stack(blocks), np.asarray(atten), eps_corr, rng, model.dp_tau_rows
        )
    else:
        corr = np.eye(len(blocks))
    spent_marg = sum(sum(getattr(c, "spent", [])) for c in columns)
    spent_corr = eps_corr if corr_info.get("pairs") else 0.0
    model.columns_ = columns
    model.corr_ = corr
    model.shrinkage_ = 0.0
    model.dp_ = {
        "epsilon": eps_total,
        "epsilon_spent": round(spent_marg + spent_corr, 12),
        "delta": 0.0,
        "delta_allowed": float(model.delta),
        "epsilon_split": {"marginals": eps_marg, "correlation": eps_corr},
        "neighbouring": "replace one row (bounded DP, row count public)",
        "mechanisms": {
            "marginals": f"discrete Laplace (OpenDP) on {n_hist} histograms, "
            f"epsilon {eps_h:.6g} each, L1 sensitivity 2",
            "correlation": "Laplace (OpenDP) on Kendall's tau, sin(pi/2 tau), PD repair",
            **({"correlation_detail": corr_info} if corr_info.get("pairs") else {}),
        },
        "leaks": {"observed_category_domains": leaks},
        "reproducible": False,
        "rows": n,
    }
