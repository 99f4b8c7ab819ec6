"""Sampling's faster lookups give exactly what the slower ones gave (same rows for a seed).

Each shortcut (the pruned tree walk, allowed-key tables, calendar arithmetic, the even-grid
interpolation, hex UUIDs) is compared with the computation it replaced, on inputs built to
hit its edges: NaN features, knots and values outside the grid, centuries of days.
"""

from __future__ import annotations

import pickle
import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from synthdb.generators import build_generator, infer_specs, sequential, tree_walk
from synthdb.generators.marginals import EdgeBins, even_interp, search_right
from synthdb.generators.mock import random_uuids
from synthdb.generators.timeparts import month_of_day, month_start_day


def _tree_and_rows(seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4000, 4)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan  # NaN features follow missing_go_to_left
    y = np.nan_to_num(x[:, 0]) * 2 + (np.nan_to_num(x[:, 1]) > 0) + rng.normal(size=4000) * 0.1
    tree = DecisionTreeRegressor(min_samples_leaf=20, random_state=0).fit(x, y)
    return tree, x, rng


@pytest.mark.parametrize("merge", [1, 3, 40, 10_000])
def test_pruned_walk_finds_the_leaves_that_apply_finds(merge, monkeypatch):
    tree, x, rng = _tree_and_rows()
    left = tree.tree_.children_left
    # a pruned map: grown leaves merged into groups of consecutive leaves (1 = no pruning)
    leaf_of = np.where(left == -1, np.cumsum(left == -1) // merge, -1).astype(np.int64)
    rows = np.sort(rng.choice(len(x), 2500, replace=False))
    want = leaf_of[tree.apply(x[rows, :4])]
    walk = tree_walk.PrunedWalk(tree, leaf_of)
    assert np.array_equal(walk.leaves(x, rows, 4), want)
    monkeypatch.setattr(tree_walk, "MAX_WALK_DEPTH", 0)  # the compiled apply's path
    assert np.array_equal(walk.leaves(x, rows, 4), want)
    everything = np.arange(len(x))
    assert np.array_equal(walk.leaves(x, everything, 4), leaf_of[tree.apply(x)])


def test_a_tree_pruned_to_one_leaf_is_not_walked():
    tree, x, _ = _tree_and_rows()
    walk = tree_walk.PrunedWalk(tree, np.where(tree.tree_.children_left == -1, 0, -1))
    assert walk.depth == 0
    assert np.array_equal(walk.leaves(x, np.arange(10), 4), np.zeros(10))


@pytest.fixture(scope="module")
def structured():
    """A table whose trees keep leaves (dependent columns, NULLs, rare pairs)."""
    rng = np.random.default_rng(11)
    n = 6000
    region = rng.choice(["n", "s", "e", "w", "x"], n, p=[0.4, 0.3, 0.2, 0.095, 0.005])
    tier = np.where(region == "n", rng.choice(["a", "b"], n), rng.choice(["b", "c", "d"], n))
    income = np.exp(10 + (region == "s") + rng.normal(0, 0.3, n))
    income[rng.random(n) < 0.1] = np.nan
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame = pd.DataFrame({"region": region, "tier": tier, "income": income, "when": when})
    types = {"region": "text", "tier": "text", "income": "double precision", "when": "date"}
    generator = build_generator(rare_min_count=10, random_state=1)
    return generator.fit(frame, infer_specs(frame, types))


def test_sampled_rows_are_those_of_the_slow_lookups(structured, monkeypatch):
    assert isinstance(structured, sequential.SequentialTrees)
    assert any(d.n_leaves > 1 for d in structured.dims_)  # the walk has splits to follow
    assert any(d.pairs for d in structured.dims_)  # and the allowed-key tables keys to find
    fast = structured.sample(5000, seed=5)

    def apply_leaves(self, feats, rows, j):
        return self.leaf_of[self.tree.apply(feats[rows, :j])]

    for d in structured.dims_:
        vars(d).pop("_lookups", None)
    monkeypatch.setattr(sequential._Dim, "leaves", apply_leaves)
    monkeypatch.setattr(sequential, "MAX_KEY_TABLE", 0)  # binary search in the allowed keys
    slow = structured.sample(5000, seed=5)
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("days", [
    np.r_[np.arange(-800_000, 800_000, 7),  # 1970 +- 2190 years, every weekday (arithmetic)
          -719_468, -719_469, 0, -1, 11_016, 11_017],  # 0000-03-01, 2000-02-29 / 03-01
    np.random.default_rng(2).integers(10_900, 11_700, 50_000),  # two years (a table)
])
def test_calendar_arithmetic_is_numpy_datetime64(days):
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    assert np.array_equal(month_of_day(days), months)
    for span in (np.arange(-30_000, 30_000), months):
        starts = span.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        assert np.array_equal(month_start_day(span), starts)


@pytest.mark.parametrize("knots", [2, 3, 65, 1025])
@pytest.mark.parametrize("tail", [0.0, 0.001, 0.025])
def test_even_grid_interpolation_is_np_interp(knots, tail):
    rng = np.random.default_rng(knots)
    grid = np.linspace(tail, 1 - tail, knots)
    table = np.sort(rng.lognormal(size=knots))
    if knots > 4:
        table[2] = table[3]  # a flat step
    x = np.r_[rng.random(50_000), grid, np.nextafter(grid, 2), np.nextafter(grid, -1),
              0.0, 1.0, -0.5, 1.5, np.nan]
    assert np.array_equal(even_interp(x, grid, table), np.interp(x, grid, table), equal_nan=True)


@pytest.mark.parametrize("units", [1, 4, 16])
@pytest.mark.parametrize("n_edges", [1, 3, 14, 40])
def test_binned_edges_search_as_searchsorted(units, n_edges):
    rng = np.random.default_rng(units * 100 + n_edges)
    edges = np.sort(rng.random(n_edges) * units)
    edges[-1] = units
    if n_edges > 3:
        edges[1] = edges[2]  # a repeated edge
        edges[0] = np.floor(edges[0] * 2**14) / 2**14  # an edge on a bin boundary
    x = np.r_[rng.random(100_000) * units, edges, np.nextafter(edges, -1),
              np.nextafter(edges, units + 1), np.nan, -0.0, 0.0, units, units + 1, -1, np.inf]
    want = np.searchsorted(edges, x, side="right")
    assert np.array_equal(EdgeBins(edges).search(x), want)
    assert np.array_equal(search_right(edges, x), want)


def test_sampling_lookups_are_not_pickled(structured):
    structured.sample(1000, seed=1)  # builds the walks, key tables and edge bins
    owners = [o for d in structured.dims_ for o in (d, d.dist, d.marginal) if o is not None]
    built = [o for o in owners if vars(o).get("_lookups")]
    assert {type(o).__name__ for o in built} >= {"_Dim", "LeafCodes"}
    again = pickle.loads(pickle.dumps(structured))
    assert all("_lookups" not in vars(o) for d in again.dims_
               for o in (d, d.dist, d.marginal) if o is not None)
    pd.testing.assert_frame_equal(again.sample(1000, seed=1), structured.sample(1000, seed=1))


def test_random_uuids_are_the_canonical_text_of_their_bytes():
    values = random_uuids(500, np.random.default_rng(4))
    raw = np.random.default_rng(4).integers(0, 256, size=(500, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    assert list(values) == [str(uuid.UUID(bytes=r.tobytes())) for r in raw]
    assert {uuid.UUID(v).version for v in values} == {4}
