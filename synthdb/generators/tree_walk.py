"""The pruned leaf of each row, walking only the splits that pruning kept.

Why: sampling a chunk asks every dimension's tree for the leaf of each row. scikit-learn's
``apply`` walks the whole grown tree down to a grown leaf, and ``pruned_leaves`` then maps
that leaf to its pruned one. On the demo's 5M-row release most trees were pruned to a single
leaf (the walk of a 49-deep tree gave "leaf 0" for every row) and the others to 5-6 leaves
of 38-55-deep trees: the walks were 17 % of a chunk's CPU, all below the pruned leaves.

:class:`PrunedWalk` marks every node whose whole subtree lies in one pruned leaf and walks
the rows, all at once with numpy, from the root to the first such node. A row goes left
exactly when scikit-learn's walk does (``x <= threshold``, the float32 feature compared as a
double; a NaN follows ``missing_go_to_left``), so the leaves, and every sampled row, are the
same. A tree whose kept splits are deep (many small leaves) is walked by scikit-learn's
compiled ``apply`` instead, where one pass per level over the rows would cost more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: kept splits at most this deep are walked here; deeper trees use scikit-learn's ``apply``
MAX_WALK_DEPTH = 12


class PrunedWalk:
    """Pruned leaf numbers of rows for a fitted tree and its node -> pruned-leaf map."""

    def __init__(self, tree: Any, leaf_of: np.ndarray) -> None:
        t = tree.tree_
        self.tree = t
        self.leaf_of = np.asarray(leaf_of, dtype=np.int64)
        self.left = np.asarray(t.children_left, dtype=np.intp)
        self.right = np.asarray(t.children_right, dtype=np.intp)
        self.feature = np.asarray(t.feature, dtype=np.intp)
        self.threshold = np.asarray(t.threshold, dtype=np.float64)
        self.missing_left = np.asarray(t.missing_go_to_left, dtype=bool)
        self.uniform = _uniform_leaf(self.left, self.right, self.leaf_of)
        self.depth = _walk_depth(self.left, self.right, self.uniform)

    def leaves(self, feats: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
        """Pruned leaf of each of ``rows`` of ``feats`` (float32), whose first ``width``
        columns are the tree's features."""
        if self.uniform[0] >= 0:
            return np.full(len(rows), self.uniform[0], dtype=np.int64)
        if self.depth > MAX_WALK_DEPTH:
            x = feats[rows, :width] if len(rows) != len(feats) else feats[:, :width]
            return self.leaf_of[self.tree.apply(np.ascontiguousarray(x))]
        node = np.zeros(len(rows), dtype=np.intp)
        live = np.arange(len(rows))
        while len(live):
            at = node[live]
            x = feats[rows[live], self.feature[at]]
            go_left = np.where(np.isnan(x), self.missing_left[at], x <= self.threshold[at])
            at = np.where(go_left, self.left[at], self.right[at])
            node[live] = at
            live = live[self.uniform[at] < 0]
        return self.uniform[node]


def _uniform_leaf(left: np.ndarray, right: np.ndarray, leaf_of: np.ndarray) -> np.ndarray:
    """Per node: the pruned leaf that every grown leaf below it maps to, -1 if they differ."""
    out = np.where(left == -1, leaf_of, -1).astype(np.int64)
    for i in range(len(left) - 1, -1, -1):  # children have larger ids than their parent
        if left[i] != -1:
            a, b = out[left[i]], out[right[i]]
            out[i] = a if a == b else -1
    return out


def _walk_depth(left: np.ndarray, right: np.ndarray, uniform: np.ndarray) -> int:
    """Splits on the longest path from the root to a node of uniform leaf."""
    depth = np.zeros(len(left), dtype=np.int64)
    deepest = 0
    for i in range(len(left)):  # parents before children
        if uniform[i] >= 0:
            deepest = max(deepest, int(depth[i]))
        elif left[i] != -1:
            depth[left[i]] = depth[right[i]] = depth[i] + 1
    return deepest
