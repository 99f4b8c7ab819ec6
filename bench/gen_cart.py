"""A synthpop-style CART baseline, written out here (python-synthpop 0.1.2 no longer runs with
current scikit-learn).

synthpop's ``syn.cart``: columns in their order; the first is drawn from its observed values;
each next column gets a CART tree on the columns before it (minimum leaf size 5), and a synthetic
row takes an *observed* value of a training row in the leaf its earlier synthetic values reach
(numbers without smoothing). Nothing is protected: rare categories, extreme values and whole
training rows can come out as they went in. That is the point of the baseline: the accuracy a
tree sequence reaches when it may copy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

MIN_LEAF = 5


def _encode(s: pd.Series) -> tuple[np.ndarray, bool]:
    """Column as floats for tree features (NaN = missing) and whether it is categorical."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        x = s.astype("int64").to_numpy(dtype=float)
        x[s.isna().to_numpy()] = np.nan
        return x, False
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        codes, _ = pd.factorize(s, use_na_sentinel=True)
        return np.where(codes < 0, np.nan, codes).astype(float), True
    return s.to_numpy(dtype=float, na_value=np.nan), False


class CartBaseline:
    """fit(frame) / sample(n, seed): synthpop's default CART synthesis, leaves of >= 5 rows."""

    def __init__(self, min_leaf: int = MIN_LEAF, random_state: int = 0, max_rows: int = 200_000):
        self.min_leaf = min_leaf
        self.random_state = random_state
        self.max_rows = max_rows

    def fit(self, frame: pd.DataFrame) -> CartBaseline:
        rng = np.random.default_rng(self.random_state)
        if len(frame) > self.max_rows:
            frame = frame.iloc[np.sort(rng.choice(len(frame), self.max_rows, replace=False))]
        self.frame_ = frame.reset_index(drop=True)
        enc = [_encode(self.frame_[c]) for c in self.frame_.columns]
        self.X_ = np.column_stack([e[0] for e in enc]).astype(np.float32)
        self.trees_: list = [None]
        self.leaf_rows_: list = [None]
        for j in range(1, self.X_.shape[1]):
            y, cat = enc[j]
            target = np.where(
                np.isnan(y), -1.0 if cat else np.nanmin(y) - 1.0 if np.isfinite(y).any() else 0.0, y
            )
            cls = DecisionTreeClassifier if cat else DecisionTreeRegressor
            tree = cls(min_samples_leaf=self.min_leaf, random_state=self.random_state)
            tree.fit(self.X_[:, :j], target.astype(int) if cat else target)
            leaves = tree.apply(self.X_[:, :j])
            order = np.argsort(leaves, kind="stable")
            keys, starts = np.unique(leaves[order], return_index=True)
            self.trees_.append(tree)
            self.leaf_rows_.append((keys, starts, np.r_[starts[1:], len(order)], order))
        return self

    def sample(self, n: int, seed: int | None = None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        donors = np.empty((n, self.X_.shape[1]), dtype=np.int64)
        X = np.empty((n, self.X_.shape[1]), dtype=np.float32)
        donors[:, 0] = rng.integers(0, len(self.frame_), n)
        X[:, 0] = self.X_[donors[:, 0], 0]
        for j in range(1, self.X_.shape[1]):
            keys, a, b, order = self.leaf_rows_[j]
            slot = np.searchsorted(keys, self.trees_[j].apply(X[:, :j]))
            pick = a[slot] + (rng.random(n) * (b[slot] - a[slot])).astype(np.int64)
            donors[:, j] = order[pick]
            X[:, j] = self.X_[donors[:, j], j]
        cols = {
            c: self.frame_[c].take(donors[:, j]).reset_index(drop=True)
            for j, c in enumerate(self.frame_.columns)
        }
        return pd.DataFrame(cols)
