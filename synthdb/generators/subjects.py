"""Rare-category protection counted in subjects (the people the rows are about), not rows.

A value held by 233 rows of one aircraft owner passes a row count of 10 and still names one
owner (issue 14). When the caller passes the subject of each training row to ``fit``
(``fit(frame, specs, subjects=...)``), every protected categorical value held by fewer than
``rare_min_count`` *distinct subjects* is taken out of the training frame before any model sees
it: its cells are redrawn among the column's kept values in proportion to their rows (what the
copula's rare pool does at sampling time), so the value cannot be emitted and the other columns
of those rows still train the model. The generators' own row counts then apply on top (a value
must also have ``rare_min_count`` rows). A NULL subject is no subject: it adds nothing to a
value's count (the safer side).

Scope: categorical values per column, and the sequential model's protected value pairs, sparse
triples (found and checked by subjects) and declared groups (``subjects_per_key``). Numeric quantile knots, datetime tails and tree
leaves still count rows (docs/subjects.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, UnsupportedColumnError


def subjects_per_value(values: pd.Series, subjects: np.ndarray) -> pd.Series:
    """Distinct non-NULL subjects holding each non-NULL value of ``values``."""
    pairs = pd.DataFrame({"value": values.to_numpy(), "subject": subjects})
    pairs = pairs[pairs["value"].notna()]
    return pairs.groupby("value", sort=False, observed=True)["subject"].nunique()


def subjects_per_key(keys: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Distinct non-NULL subjects holding each key, in the order of ``np.unique(keys)``: what a
    value combination must reach to be emitted (rows still weigh the emitted ones)."""
    counts = pd.DataFrame({"key": keys, "subject": subjects}).groupby(
        "key", sort=True)["subject"].nunique()
    return counts.to_numpy()


def check_subjects(subjects: Any, n_rows: int) -> np.ndarray:
    """``subjects`` as an array with one entry per training row, or ConfigError."""
    out = np.asarray(subjects, dtype=object)
    if out.ndim != 1 or len(out) != n_rows:
        raise ConfigError(f"fit: subjects must give one subject per training row ({n_rows}), "
                          f"got shape {out.shape}")
    return out


def withhold_rare_by_subject(frame: pd.DataFrame, columns: list[str], subjects: np.ndarray,
                             min_subjects: int, seed: Any = None
                             ) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with values of ``columns`` held by fewer than ``min_subjects`` subjects redrawn.

    Returns the new frame (the input is not changed) and the number of values withheld per
    column. A column none of whose values has enough subjects is refused (as the copula refuses
    a column whose every value is rare by rows).
    """
    rng = np.random.default_rng(seed)
    withheld: dict[str, int] = {}
    out = frame
    for column in columns:
        counts = subjects_per_value(frame[column], subjects)
        rare = counts.index[counts < min_subjects]
        if not len(rare):
            continue
        kept = counts.index[counts >= min_subjects]
        if not len(kept):
            raise UnsupportedColumnError(
                f"column {column!r}: every value is held by fewer than rare_min_count="
                f"{min_subjects} distinct subjects, so none may be emitted; use the mock "
                "generator for it, drop it, or lower rare_min_count", [column])
        if out is frame:
            out = frame.copy()
        values = out[column]
        hit = values.isin(rare).to_numpy()
        rows_per_kept = values[values.isin(kept)].value_counts()
        draws = rng.choice(len(rows_per_kept), size=int(hit.sum()),
                           p=(rows_per_kept / rows_per_kept.sum()).to_numpy())
        out.loc[hit, column] = rows_per_kept.index.to_numpy()[draws]
        withheld[str(column)] = int(len(rare))
    return out, withheld
