"""Mixed-type encoding that makes rows comparable by Euclidean distance.

Distance-based privacy metrics (DCR, NNDR, membership inference, outlier re-creation) need one
distance for rows mixing numbers, dates and categories. We follow the spirit of MOSTLY AI QA
(which bins numbers by the real data's percentiles before embedding): every column contributes
at most 1 to the squared distance, so no column dominates because of its unit.

- numbers / datetimes / booleans: the real data's empirical CDF (rank scaled to [0, 1]), so a
  value's position among real values counts, not its magnitude; NULL adds an indicator column.
- categories: one-hot of the ``max_categories`` most frequent real values plus one "other" and
  one NULL slot, each scaled by 1/sqrt(2) so two different categories are exactly 1 apart.
  The cap keeps the dimension (and the O(n²·d) neighbour search) bounded for text columns.

The encoder is fitted on *real* rows only (train plus holdout), scikit-learn style.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthdb.metrics._columns import NULL_TOKEN, Kind, as_float, as_text, frame_kinds

_INV_SQRT2 = 1.0 / np.sqrt(2.0)


class MixedEncoder:
    """Fit on real rows, transform any frame with the same columns into a float64 matrix."""

    def __init__(self, max_categories: int = 20) -> None:
        self.max_categories = max_categories

    def fit(self, real: pd.DataFrame) -> MixedEncoder:
        self.columns_ = [str(c) for c in real.columns]
        self.kinds_: dict[str, Kind] = frame_kinds(real)
        self.sorted_: dict[str, np.ndarray] = {}
        self.has_null_: dict[str, bool] = {}
        self.categories_: dict[str, list[str]] = {}
        for col, name in zip(real.columns, self.columns_, strict=True):
            kind = self.kinds_[name]
            if kind == "categorical":
                counts = pd.Series(as_text(real[col])).value_counts()
                top = [v for v in counts.index[: self.max_categories] if v != NULL_TOKEN]
                self.categories_[name] = top
            else:
                values = as_float(real[col], kind)
                finite = np.sort(values[~np.isnan(values)])
                self.sorted_[name] = finite
                self.has_null_[name] = bool(np.isnan(values).any())
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encoded rows; every block is bounded so each column adds at most 1 to d²."""
        blocks: list[np.ndarray] = []
        for col, name in zip(frame.columns, self.columns_, strict=True):
            kind = self.kinds_[name]
            if kind == "categorical":
                blocks.append(self._one_hot(as_text(frame[col]), self.categories_[name]))
            else:
                blocks.append(self._ranks(as_float(frame[col], kind), name))
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)

    def _ranks(self, values: np.ndarray, name: str) -> np.ndarray:
        ref = self.sorted_[name]
        null = np.isnan(values)
        out = np.zeros((len(values), 2), dtype=np.float64)
        if len(ref):
            # mid-rank of each value among the real values: ties share one position.
            left = np.searchsorted(ref, values[~null], side="left")
            right = np.searchsorted(ref, values[~null], side="right")
            out[~null, 0] = (left + right) / (2.0 * len(ref))
        out[null, 1] = 1.0
        return out

    @staticmethod
    def _one_hot(values: np.ndarray, categories: list[str]) -> np.ndarray:
        index = {c: i for i, c in enumerate(categories)}
        other, null = len(categories), len(categories) + 1
        codes = np.fromiter(
            (null if v == NULL_TOKEN else index.get(v, other) for v in values),
            dtype=np.int64,
            count=len(values),
        )
        out = np.zeros((len(values), len(categories) + 2), dtype=np.float64)
        out[np.arange(len(values)), codes] = _INV_SQRT2
        return out
