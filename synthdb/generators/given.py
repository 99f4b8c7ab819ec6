"""Latent scores of *given* column values, for sampling the other columns conditionally.

The copula and the sequential trees work on latent uniform scores (null flags, values as ranks
or outcomes, timestamp trend and calendar parts, see ``copula``). Fitting computes those scores
for the training rows; conditional sampling (``SequentialTrees.sample_given``) needs the same
scores for values it is *given* — a child table's context columns, holding its synthetic
parent's attributes — so that the trees draw the remaining columns within the cells those
values fall in.

``given_scores`` reads each given column through the fitted column object, the way fit read it:

* numbers: the null flag and the rank in the column's protected quantile table (or the outcome
  of a small discrete domain, the nearest one for a value the domain does not hold);
* categories: the null flag and the outcome of the category; a category the model does not
  emit (rare in training, or never seen) becomes the pool of rare categories when the model has
  one, else an unknown value (NaN), which the trees send down their larger branch;
* timestamps: the column's own fit-time scores (trend and calendar parts).

Only given (synthetic) values are read; nothing here touches training rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .copula import _Categorical, _Column, _Datetime, _Numeric, null_flag_scores


def given_scores(
    columns: list[_Column],
    offsets: np.ndarray,
    given: dict[int, pd.Series],
    rng: np.random.Generator,
) -> np.ndarray:
    """Latent scores (rows x all latent dims) with the dims of ``given`` columns filled.

    ``given``: model column position -> the values of that column, one per row. The dims of the
    other columns are NaN. ``offsets[i]`` is column ``i``'s first latent dim.
    """
    m = len(next(iter(given.values()))) if given else 0
    u = np.full((m, int(offsets[-1])), np.nan)
    for i, s in given.items():
        s = s.reset_index(drop=True)
        blocks = _column_scores(columns[i], s, rng)
        for k, block in enumerate(blocks):
            u[:, offsets[i] + k] = block
    return u


def _column_scores(col: _Column, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
    if isinstance(col, _Categorical):
        return _categorical(col, s, rng)
    if isinstance(col, _Numeric):
        return _numeric(col, s, rng)
    if isinstance(col, _Datetime):
        # fit-time scores work on any values; they also record correlation attenuation
        # factors, which only a copula fit reads: keep the fitted ones
        kept = list(col.atten)
        try:
            return col.scores(s, rng)
        finally:
            col.atten = kept
    return [np.full(len(s), np.nan) for _ in range(col.dims)]


def _numeric(col: _Numeric, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    null = s.isna().to_numpy() | np.isnan(x)
    out = null_flag_scores(col.flag, null, rng, [])
    u = np.full(len(s), np.nan)
    if col.values is not None:
        codes = np.clip(np.searchsorted(col.values, x[~null]), 0, len(col.values) - 1)
        u[~null] = col.marginal.to_uniform(codes, rng)
    else:
        u[~null] = col.marginal.to_uniform(x[~null], rng)
    out.append(u)
    return out


def _categorical(col: _Categorical, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
    null = s.isna().to_numpy()
    out = null_flag_scores(col.flag, null, rng, [])
    kept = pd.Index(pd.Series(col.uniques).astype(str)).get_indexer(s.astype(str))
    codes = np.asarray(col.outcome_code)
    outcome_of = np.empty(len(col.uniques), dtype=np.int64)
    outcome_of[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
    pool = np.flatnonzero(codes == -2)  # the rare pool's outcome, if the model has one
    outcome = np.where(kept >= 0, outcome_of[np.maximum(kept, 0)], pool[0] if len(pool) else -1)
    u = np.full(len(s), np.nan)
    ok = ~null & (outcome >= 0)
    u[ok] = col.marginal.to_uniform(outcome[ok], rng)
    out.append(u)
    return out
