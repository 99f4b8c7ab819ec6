"""Prune a fitted CART tree where its splits do not predict held-out rows better than the parent.

The sequential generator draws each column from the training rows of a leaf. A leaf of 20 rows
in a narrow range of an earlier number (wages) holds the joint values of those 20 rows: the
synthetic row is then one of them with a slightly moved number — closer to the training rows
than to fresh ones (DCR share above 0.5, identical rows above the holdout's). A split pays only
if it describes the population, not the rows that happened to be sampled. So a tree is grown on
part of its rows and every split is judged on the rest (reduced-error pruning): a node keeps its
children only when they give the held-out rows a higher log-likelihood than the node alone.
The leaf size is then chosen per tree and per region of it: small where the structure is real
(routes, neighbourhoods), large where small leaves would only memorise.

Likelihood of an outcome in a node: its count among the node's growing rows, smoothed towards
the outcome's overall share with ``PSEUDO_ROWS`` rows, so an outcome a node never saw costs a
finite amount. Continuous targets (scores in [0, 1]) are judged on ``SCORE_BINS`` equal bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: continuous scores are judged on this many equal-width bins of [0, 1]
SCORE_BINS = 20
#: pseudo-rows of the overall outcome shares added to every node's counts
PSEUDO_ROWS = 1.0
#: a split is kept only if its children beat the node by this many nats on the held-out rows:
#: with a few held-out rows per small node, children that only fit noise win about half the
#: time by a fraction of a nat (a noise column kept 7-51 of 233 leaves without a margin, up
#: to 16 with a margin of 1 nat, none with 2)
SPLIT_NATS = 2.0


def score_bins(u: np.ndarray, bins: int | None = None) -> np.ndarray:
    """Bin number of each score in [0, 1] (``bins`` equal-width bins, ``SCORE_BINS``
    unless given)."""
    bins = SCORE_BINS if bins is None else int(bins)
    return np.clip((np.asarray(u, dtype=float) * bins).astype(np.int64), 0, bins - 1)


def pruned_leaves(
    tree: Any, x_check: np.ndarray, y_grow: np.ndarray, y_check: np.ndarray, x_grow: np.ndarray
) -> tuple[np.ndarray, int]:
    """(map from node id to pruned-leaf number, -1 for nodes inside no pruned leaf; number of
    pruned leaves) of a tree fitted on ``x_grow``, judged on ``x_check``. ``y_*`` are outcome
    codes >= 0 (bins for continuous targets). A node whose held-out log-likelihood is at least
    that of its best pruned subtree becomes a leaf (ties prune: fewer, larger leaves)."""
    from scipy import sparse  # on first fit: synthdb.release.warmup

    t = tree.tree_
    n_nodes = t.node_count
    k = int(max(y_grow.max(initial=0), y_check.max(initial=0))) + 1
    path_g = tree.decision_path(x_grow).tocsc()
    onehot = sparse.csr_matrix(
        (np.ones(len(y_grow)), (np.arange(len(y_grow)), y_grow)), shape=(len(y_grow), k)
    )
    counts = (path_g.T @ onehot).tocsr()  # node x outcome counts of the growing rows
    totals = np.asarray(path_g.sum(axis=0)).ravel()
    prior = (np.bincount(y_grow, minlength=k) + 1.0) / (len(y_grow) + k)
    path_c = tree.decision_path(x_check).tocoo()
    node, row = path_c.col, path_c.row
    y = y_check[row]
    seen = np.asarray(counts[node, y]).ravel()
    ll = np.log((seen + PSEUDO_ROWS * prior[y]) / (totals[node] + PSEUDO_ROWS))
    as_leaf = np.bincount(node, weights=ll, minlength=n_nodes)
    left, right = t.children_left, t.children_right
    best = as_leaf.copy()
    collapse = np.zeros(n_nodes, dtype=bool)
    for i in range(n_nodes - 1, -1, -1):  # children have larger ids than their parent
        if left[i] == -1:
            continue
        below = best[left[i]] + best[right[i]]
        if as_leaf[i] + SPLIT_NATS >= below:
            collapse[i] = True
        else:
            best[i] = below
    owner = np.arange(n_nodes)
    for i in range(n_nodes):  # preorder: a parent's owner is settled before its children's
        if left[i] != -1:
            top = owner[i] if collapse[owner[i]] else -1
            owner[left[i]] = top if top >= 0 else left[i]
            owner[right[i]] = top if top >= 0 else right[i]
    is_final = (left == -1) | collapse
    final = is_final & (owner == np.arange(n_nodes))
    number = np.full(n_nodes, -1, dtype=np.int64)
    number[final] = np.arange(int(final.sum()))
    out = np.where(left == -1, number[owner], -1)
    return out.astype(np.int64), int(final.sum())
