"""The hand-rolled two-way neighbour search must give scikit-learn's exact neighbours."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from synthdb.metrics.distances import _nearest_pairs


def _sklearn(index: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(index)
    return nn.kneighbors(query)[0]


def test_nearest_pairs_match_sklearn_both_directions():
    rng = np.random.default_rng(7)
    # Sizes that do not divide the tile sizes, duplicates inside b and exact a/b matches.
    a = rng.random((700, 9))
    b = rng.random((2300, 9))
    b[5] = b[4]  # duplicate: a row equal to b[4] has 1st and 2nd distance 0
    a[:20] = b[:20]  # exact matches
    first, second, col = _nearest_pairs(a, b, n_jobs=2)
    ref_ab = _sklearn(b, a, 2)
    ref_ba = _sklearn(a, b, 1)[:, 0]
    np.testing.assert_allclose(
        first, ref_ab[:, 0], atol=1e-7
    )  # sklearn leaves ~3e-8 of float noise on exact matches
    np.testing.assert_allclose(
        second, ref_ab[:, 1], atol=1e-7
    )  # sklearn leaves ~3e-8 of float noise on exact matches
    np.testing.assert_allclose(
        col, ref_ba, atol=1e-7
    )  # sklearn leaves ~3e-8 of float noise on exact matches
    # Exact matches are exactly zero (ties must tie), the duplicate gives a zero 2nd distance.
    assert (first[:20] == 0.0).all()
    assert second[4] == 0.0 and second[5] == 0.0
    assert (col[:20] == 0.0).all()
    assert (first[20:] > 0).all()
