"""A parent's attributes as context for its children: which columns, and as numbers or cells.

A child table is generated in the context of its parent: how many children a parent has and what
they look like depend on the parent's attributes (a wide-body plane flies long routes, a premium
customer buys more). ``ParentContext`` decides once which parent columns are context (modelled
columns, never keys or free text, at most ``max_columns``) and turns a parent frame into

* numbers for the count model's trees (categories as codes learned from the training parents,
  timestamps as seconds, NULL as NaN), and
* coarse cells for matching generated children to synthetic parents (numbers in quantile bins
  of the frame at hand, categories as themselves). Cells are only computed on synthetic frames,
  so no bin edge is taken from real rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .specs import ColumnSpec

#: column kinds that can be context (ids and free text are never modelled)
CONTEXT_KINDS = ("float", "integer", "boolean", "categorical", "datetime", "date")
#: name prefix of context columns appended to child rows (cannot clash with a real column)
PREFIX = "__parent__"


def context_name(column: str) -> str:
    """Name of a parent column when appended to child rows."""
    return f"{PREFIX}{column}"


class ParentContext:
    """Chooses the parent's context columns and encodes parent frames (``fit`` / transforms)."""

    def __init__(self, max_columns: int = 12, exclude: tuple[str, ...] = ()) -> None:
        self.max_columns = max_columns
        self.exclude = exclude

    def fit(self, parents: pd.DataFrame, specs: list[ColumnSpec]) -> ParentContext:
        """Keep modelled columns with at least two distinct values, fewest distinct first."""
        by_name = {s.name: s for s in specs}
        chosen = []
        for name in parents.columns:
            spec = by_name.get(name)
            if name in self.exclude or spec is None or spec.kind not in CONTEXT_KINDS:
                continue
            distinct = int(parents[name].nunique(dropna=True))
            if distinct >= 2:
                chosen.append((distinct, name))
        chosen.sort()
        self.columns_ = [name for _, name in chosen[: int(self.max_columns)]]
        self.specs_ = {name: by_name[name] for name in self.columns_}
        self.codes_ = {
            name: {v: i for i, v in enumerate(parents[name].dropna().astype(str).unique())}
            for name in self.columns_
            if self.specs_[name].kind in ("categorical", "boolean")
        }
        return self

    def numbers(self, parents: pd.DataFrame) -> np.ndarray:
        """One float column per context column (NaN for NULL and for unseen categories)."""
        out = np.full((len(parents), len(self.columns_)), np.nan)
        for j, name in enumerate(self.columns_):
            s = parents[name]
            if name in self.codes_:
                out[:, j] = s.astype(str).map(self.codes_[name]).where(s.notna()).to_numpy(float)
            elif self.specs_[name].kind in ("datetime", "date"):
                out[:, j] = seconds(s)
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(float)
        return out

    def cells(self, parents: pd.DataFrame, n_bins: int) -> pd.DataFrame:
        """Coarse cell of every context column: numbers in ``n_bins`` quantile bins of this
        frame, categories as text; NULL is its own cell."""
        out = {}
        for name in self.columns_:
            s = parents[name]
            if name in self.codes_:
                out[name] = s.astype(str).where(s.notna(), "\x00null")
                continue
            x = seconds(s) if self.specs_[name].kind in ("datetime", "date") else None
            x = pd.to_numeric(s, errors="coerce").to_numpy(float) if x is None else x
            out[name] = _bins(x, n_bins)
        return pd.DataFrame(out, index=parents.index)

    def renamed(self, parents: pd.DataFrame) -> pd.DataFrame:
        """The context columns with their child-side names (see ``context_name``)."""
        frame = parents[self.columns_].copy()
        frame.columns = [context_name(c) for c in self.columns_]
        return frame.reset_index(drop=True)


def seconds(s: pd.Series) -> np.ndarray:
    """Seconds since the epoch of a timestamp/date series (NaN for NULL)."""
    # already timestamps: to_datetime would still walk the values in Python (1 s on 80k rows)
    t = s if pd.api.types.is_datetime64_any_dtype(s.dtype) else pd.to_datetime(s, errors="coerce")
    if getattr(t.dtype, "tz", None) is not None:
        t = t.dt.tz_convert(None)
    ns = t.astype("datetime64[ns]").to_numpy().astype("int64").astype(float)
    ns[t.isna().to_numpy()] = np.nan
    return ns / 1e9


def _bins(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile bin (0..n_bins-1) of each value; NULL gets -1."""
    out = np.full(len(x), -1, dtype=np.int64)
    ok = ~np.isnan(x)
    if ok.any():
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, n_bins + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, x[ok], side="right")
    return out
