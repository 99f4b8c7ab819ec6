"""Sequential tree generator: the copula's property tests, plus what trees add (conditional
structure) and what they must not (rare pairs, copied rows, leaves smaller than the floor)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_generator_properties import RARE, TAIL, _check_protections, frames, structured_frames

from synthdb.errors import ConfigError, UnsupportedColumnError
from synthdb.generators import SequentialTrees, default_generator, infer_specs

EXAMPLES = int(os.environ.get("SYNTHDB_HYPOTHESIS_EXAMPLES", "40"))


def _rare_pairs(frame: pd.DataFrame, a: str, b: str) -> set:
    pairs = frame[[a, b]].dropna().value_counts()
    return set(pairs.index) - set(pairs[pairs >= RARE].index)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), seed=st.integers(min_value=0, max_value=1000))
def test_sequential_output_matches_schema_and_protections(frame: pd.DataFrame, seed: int) -> None:
    specs = infer_specs(frame)
    gen = SequentialTrees(
        rare_min_count=RARE, tail_quantile=TAIL, random_state=seed, min_leaf_rows=RARE
    )
    try:
        gen.fit(frame, specs)
    except UnsupportedColumnError:  # the documented refusal (every value of a column rare)
        return
    out = gen.sample(150, seed=seed)
    _check_protections(frame, specs, out)
    cats = [s.name for s in specs if s.kind == "categorical"]
    for i, a in enumerate(cats):
        for b in cats[i + 1 :]:
            emitted = set(map(tuple, out[[a, b]].dropna().to_numpy().tolist()))
            assert not (emitted & _rare_pairs(frame, a, b)), (a, b)
            seen = set(map(tuple, frame[[a, b]].dropna().to_numpy().tolist()))
            assert emitted <= seen, (a, b)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=structured_frames(), seed=st.integers(min_value=0, max_value=1000))
def test_sequential_structured_frames(frame: pd.DataFrame, seed: int) -> None:
    specs = infer_specs(frame)
    gen = SequentialTrees(rare_min_count=RARE, tail_quantile=TAIL, random_state=seed)
    out = gen.fit(frame, specs).sample(300, seed=seed)
    _check_protections(frame, specs, out)
    assert (out["sub a"].isna() == out["sub b"].isna()).all()
    # every leaf holds at least the floor of training rows
    floor = max(gen.min_leaf_rows, RARE)
    for d in gen.dims_:
        if d.tree is not None:
            leaves = d.tree.tree_.children_left == -1
            assert d.tree.tree_.n_node_samples[leaves].min() >= floor


def _routes(n: int, seed: int = 0) -> pd.DataFrame:
    """Carriers fly their own routes; arrival delay follows departure delay (0.9 rank corr.)."""
    rng = np.random.default_rng(seed)
    carrier = rng.choice(["AA", "BB", "CC", "DD"], n, p=[0.4, 0.3, 0.2, 0.1])
    own = {"AA": ["X", "Y", "Z"], "BB": ["Y", "W"], "CC": ["V", "X"], "DD": ["U"]}
    dest = np.array([rng.choice(own[c]) for c in carrier], dtype=object)
    dep = np.where(rng.random(n) < 0.4, 0.0, rng.exponential(30.0, n)).round()
    arr = (dep + rng.normal(0, 8, n)).round()
    stamp = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), "h")
    return pd.DataFrame(
        {
            "carrier": pd.Series(carrier, dtype=object),
            "dest": pd.Series(dest, dtype=object),
            "dep_delay": dep,
            "arr_delay": np.where(rng.random(n) < 0.05, np.nan, arr),
            "ts": stamp,
            "month": stamp.month,
        }
    )


@pytest.fixture(scope="module")
def routes() -> pd.DataFrame:
    return _routes(6000)


@pytest.fixture(scope="module")
def fitted(routes: pd.DataFrame) -> SequentialTrees:
    return SequentialTrees(random_state=1).fit(routes)


def test_conditional_structure_kept(routes: pd.DataFrame, fitted: SequentialTrees) -> None:
    out = fitted.sample(6000, seed=3)
    real = routes[["dep_delay", "arr_delay"]].corr("spearman").iloc[0, 1]
    syn = out[["dep_delay", "arr_delay"]].corr("spearman").iloc[0, 1]
    assert abs(real - syn) < 0.03, (real, syn)
    # no route a carrier does not fly, every real route present
    real_routes = set(zip(routes["carrier"], routes["dest"], strict=True))
    syn_routes = set(zip(out["carrier"], out["dest"], strict=True))
    assert syn_routes == real_routes
    # zero spike and null share survive
    assert abs((out["dep_delay"] == 0).mean() - (routes["dep_delay"] == 0).mean()) < 0.03
    assert abs(out["arr_delay"].isna().mean() - routes["arr_delay"].isna().mean()) < 0.02
    # derived calendar column recomputed from the synthetic timestamp in every row
    assert (out["month"] == out["ts"].dt.month).all()


def test_no_training_row_copied_and_tails_protected(
    routes: pd.DataFrame, fitted: SequentialTrees
) -> None:
    out = fitted.sample(6000, seed=4)
    cont = ["dep_delay", "arr_delay", "ts"]
    merged = out[cont].merge(routes[cont].drop_duplicates(), how="inner")
    # rows of the spike at 0 may match by coincidence; a copied row would match everywhere
    assert len(merged) < 0.02 * len(out)
    hi = routes["dep_delay"].quantile(0.99)
    assert out["dep_delay"].max() <= hi


def test_deterministic_by_seed_and_chunked(fitted: SequentialTrees) -> None:
    a = fitted.sample(2500, seed=7)
    b = fitted.sample(2500, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = fitted.sample(2500, seed=8)
    assert not a.equals(c)
    chunks = list(fitted.sample_chunks(2500, seed=7, chunk_size=1000))
    assert [len(x) for x in chunks] == [1000, 1000, 500]
    assert list(chunks[0].dtypes) == list(a.dtypes)


def test_describe_and_refusals(fitted: SequentialTrees, routes: pd.DataFrame) -> None:
    info = json.loads(json.dumps(fitted.describe()))
    assert info["method"] == "sequential_trees"
    assert info["privacy"]["min_leaf_rows"] >= info["privacy"]["rare_min_count"]
    assert info["privacy"]["rare_pairs"] == "never emitted"
    assert info["columns"]["month"]["derived_from"] == "ts"
    with pytest.raises(ConfigError, match="differential privacy"):
        SequentialTrees(epsilon=1.0).fit(routes)
    with pytest.raises(ConfigError, match="fit"):
        SequentialTrees().sample(3)


def test_default_generator_is_a_fitted_sampler(routes: pd.DataFrame) -> None:
    gen = default_generator(random_state=0)
    out = gen.fit(routes.head(500)).sample(50, seed=1)
    assert list(out.columns) == list(routes.columns)


def test_method_selected_per_model() -> None:
    from synthdb.generators import GaussianCopula
    from synthdb.release.config import parse_synth_config
    from synthdb.release.synthesize import _build_generator

    def build(generator: dict):
        cfg = parse_synth_config({"source": "contract_x", "generator": generator}, "m")
        return _build_generator(cfg, 1, set())

    assert isinstance(build({"method": "sequential_trees"}), SequentialTrees)
    assert isinstance(build({"method": "gaussian_copula"}), GaussianCopula)
    assert isinstance(build({"epsilon": 1.0}), GaussianCopula)  # DP exists for the copula only
    assert type(build({})) is type(default_generator())
    # the trees are the default of mode synthesize; a finite epsilon still picks the copula
    assert isinstance(default_generator(), SequentialTrees)
    assert isinstance(build({"epsilon": float("inf")}), SequentialTrees)
    assert isinstance(default_generator(epsilon=1.0), GaussianCopula)
    with pytest.raises(ConfigError, match="synth.generator.*'forest'.*unknown"):
        build({"method": "forest"})
    with pytest.raises(ConfigError, match="synth.generator.*SequentialTrees.*conditional_numbers"):
        build({"method": "sequential_trees", "conditional_numbers": True})
    # a copula-only option without a method was written for the copula (the old default)
    assert isinstance(build({"conditional_numbers": False}), GaussianCopula)
    assert not build({"conditional_numbers": False}).conditional_numbers


def test_declared_group_combinations_never_emitted_unless_frequent() -> None:
    """Every pair of (a, b, c) is frequent but the triple (y, y, y) never occurs: pair checks
    cannot stop it, a declared group does."""
    rng = np.random.default_rng(5)
    n = 4000
    triples = np.array([t for t in np.ndindex(2, 2, 2) if t != (1, 1, 1)])
    pick = triples[rng.integers(0, len(triples), n)]
    labels = np.array(["x", "y"], dtype=object)
    frame = pd.DataFrame(
        {c: pd.Series(labels[pick[:, i]], dtype=object) for i, c in enumerate("abc")}
    )
    frame["v"] = rng.normal(size=n)
    seen = set(map(tuple, frame[list("abc")].to_numpy().tolist()))
    guarded = SequentialTrees(random_state=0, protect_groups=[["a", "b", "c"]]).fit(frame)
    out = guarded.sample(4000, seed=1)
    assert set(map(tuple, out[list("abc")].to_numpy().tolist())) <= seen
    assert guarded.describe()["privacy"]["protected_groups"] == [["a", "b", "c"]]
    with pytest.raises(ConfigError, match="protect_groups names column 'nope'"):
        SequentialTrees(protect_groups=[["a", "nope"]]).fit(frame)


def _sparse_routes(n: int, seed: int) -> pd.DataFrame:
    """Carriers fly from each origin to two of eight destinations: every route's pairs are
    frequent, but most (carrier, origin, dest) triples those pairs allow never occur."""
    rng = np.random.default_rng(seed)
    routes = [
        (c, o, d)
        for c in ["AA", "BB", "CC", "DD"]
        for o in ["N", "S", "W"]
        for d in rng.choice(list("PQRSTUVX"), 2, replace=False)
    ]
    pick = rng.integers(0, len(routes), n)
    names = ["carrier", "origin", "dest"]
    frame = pd.DataFrame(
        {
            name: pd.Series([routes[p][i] for p in pick], dtype=object)
            for i, name in enumerate(names)
        }
    )
    frame["delay"] = rng.gamma(2.0, 10.0, n).round(1)
    return frame


def test_sparse_triples_detected_and_never_emitted_unseen() -> None:
    """protect_triples finds (carrier, origin, dest) on its own: no unseen route is emitted,
    the declared form is not needed, and no row is lost on the way (n rows asked, n given)."""
    frame = _sparse_routes(6000, seed=2)
    seen = set(map(tuple, frame[["carrier", "origin", "dest"]].to_numpy().tolist()))
    loose = SequentialTrees(random_state=0, protect_triples=False).fit(frame)
    guarded = SequentialTrees(random_state=0, protect_triples=True).fit(frame)
    assert (
        guarded.describe()["privacy"]["rare_pair_checks"]
        > loose.describe()["privacy"]["rare_pair_checks"]
    )
    out = guarded.sample(6000, seed=1)
    assert len(out) == 6000
    emitted = set(map(tuple, out[["carrier", "origin", "dest"]].to_numpy().tolist()))
    assert emitted <= seen
    # every real route still appears, in about its real share
    assert emitted == seen
    real = frame.groupby(["carrier", "origin", "dest"]).size() / len(frame)
    syn = out.groupby(["carrier", "origin", "dest"]).size() / len(out)
    assert (real - syn).abs().max() < 0.03


def test_rare_pairs_repaired_without_distorting_marginals() -> None:
    """A value that would form a rare pair is redrawn from its frequent combinations with the
    row's earlier values, so the earlier column keeps its real frequencies. Without a tree (one
    leaf) "x" is drawn for about 79 % of g2/g3 rows, where it is unseen or rare: eight redraws
    from the leaf fail for about 15 % of them, and dropping those rows would shrink g2 and g3."""
    rng = np.random.default_rng(3)
    n = 20_000
    group = rng.choice(["g1", "g2", "g3"], n, p=[0.8, 0.1, 0.1])
    label = np.where((group == "g1") & (rng.random(n) < 0.99), "x", "y")
    label[np.flatnonzero(group == "g3")[:5]] = "x"  # a rare pair: never to be emitted
    frame = pd.DataFrame(
        {"group": pd.Series(group, dtype=object), "label": pd.Series(label, dtype=object)}
    )
    # group first (the earlier column whose frequencies the repair must keep), no trees
    gen = SequentialTrees(random_state=0, min_leaf_rows=n, order="input").fit(frame)
    assert all(d.tree is None for d in gen.dims_)
    out = gen.sample(n, seed=5)
    assert len(out) == n
    assert not ((out["group"] != "g1") & (out["label"] == "x")).any()
    real = frame["group"].value_counts(normalize=True)
    syn = out["group"].value_counts(normalize=True)
    assert (real - syn).abs().max() < 0.006, (real, syn)


@st.composite
def route_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Three or four categorical columns drawn from a random set of allowed combinations (some
    of them rare), plus a number: the shape where pair and triple checks matter."""
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(min_value=300, max_value=1500))
    n_cols = draw(st.integers(min_value=3, max_value=4))
    sizes = [draw(st.integers(min_value=2, max_value=6)) for _ in range(n_cols)]
    n_combos = draw(st.integers(min_value=4, max_value=30))
    combos = np.array([rng.integers(0, k, n_combos) for k in sizes]).T
    weights = rng.dirichlet(np.full(len(combos), 0.5))
    pick = combos[rng.choice(len(combos), n, p=weights)]
    frame = pd.DataFrame(
        {
            f"c{i}": pd.Series(np.array([f"v{v}" for v in pick[:, i]], dtype=object))
            for i in range(n_cols)
        }
    )
    frame["x"] = rng.normal(size=n).round(2)
    return frame


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=route_frames(), seed=st.integers(min_value=0, max_value=1000))
def test_checked_combinations_never_emitted_rare(frame: pd.DataFrame, seed: int) -> None:
    """Every pair and every triple the model checks (found or declared) is emitted only in
    combinations seen at least rare_min_count times; the row count is what was asked."""
    gen = SequentialTrees(rare_min_count=RARE, random_state=seed, min_leaf_rows=RARE)
    try:
        gen.fit(frame)
    except UnsupportedColumnError:
        return
    out = gen.sample(400, seed=seed)
    assert len(out) == 400
    name = {j: gen.names_[gen.model_pos_[d.col]] for j, d in enumerate(gen.dims_)}
    checked = [
        [name[j] for j in earlier] + [name[this]]
        for this, d in enumerate(gen.dims_)
        for earlier, _, _ in d.pairs
    ]
    for cols in checked:
        counts = frame[cols].dropna().value_counts()
        frequent = set(counts[counts >= RARE].index)
        emitted = set(map(tuple, out[cols].dropna().to_numpy().tolist()))
        assert emitted <= frequent, cols


def test_pruning_drops_splits_that_only_memorise_and_keeps_real_ones() -> None:
    """``label`` is noise given ``x``, ``kind`` is decided by ``x``. Grown without pruning, the
    tree of ``label`` cuts ``x`` into dozens of 20-row leaves whose label shares are the sampled
    rows' noise (each synthetic row then inherits a few training rows' combination); judged on
    held-out rows those splits lose, so the pruned tree keeps next to none, while the split that
    decides ``kind`` predicts held-out rows and stays."""
    rng = np.random.default_rng(11)
    n = 6000
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "kind": pd.Series(np.where(x > 0, "hi", "lo"), dtype=object),
            "label": pd.Series(rng.choice(["a", "b", "c"], n), dtype=object),
        }
    )

    def leaves(gen: SequentialTrees, name: str) -> int:
        return next(d.n_leaves for d in gen.dims_ if gen.names_[gen.model_pos_[d.col]] == name)

    grown = SequentialTrees(random_state=0, prune=False).fit(frame)
    pruned = SequentialTrees(random_state=0).fit(frame)
    assert leaves(grown, "label") > 20
    assert leaves(pruned, "label") <= 3
    assert 2 <= leaves(pruned, "kind") <= leaves(grown, "kind")
    out = pruned.sample(6000, seed=1)
    agree = (out["kind"] == np.where(out["x"] > 0, "hi", "lo")).mean()
    assert agree > 0.97
    assert (out["label"].value_counts(normalize=True) - 1 / 3).abs().max() < 0.03
    with pytest.raises(ConfigError, match="prune_share"):
        SequentialTrees(prune_share=1.0).fit(frame)


def test_pooled_rare_categories_do_not_open_a_rare_pair() -> None:
    """Twelve rare values of ``a`` (one row each) are pooled into one code, and that code meets
    ``b = 'q'`` in all twelve rows: a frequent *code* combination made of rare values. Counted
    as allowed, the repair step drew the pool for rows with ``q`` and decoding turned it into
    ``x`` or ``y``, emitting (x, q) and (y, q), which no training row holds (382 of 3,000 rows
    before the fix). Only emittable codes make a combination allowed now."""
    a = ["x"] * 40 + ["y"] * 40 + [f"r{i}" for i in range(12)]
    b = ["p"] * 80 + ["q"] * 12
    frame = pd.DataFrame({"b": b, "a": a}).astype("string")
    gen = SequentialTrees(rare_min_count=10, random_state=0).fit(frame, infer_specs(frame))
    out = gen.sample(3000, seed=1)
    emitted = set(map(tuple, out[["a", "b"]].dropna().to_numpy().tolist()))
    seen = set(map(tuple, frame[["a", "b"]].to_numpy().tolist()))
    assert emitted and emitted <= seen, emitted - seen


def test_columns_without_any_frequent_combination_are_refused_at_fit() -> None:
    """When no combination of two protected columns is held by rare_min_count rows, no row
    can show both: the fit says so, naming the columns, instead of sampling forever."""
    frame = pd.DataFrame(
        {"a": ["x"] * 12 + ["y"] * 12, "b": ["p", "q"] * 12}  # every pair 6 rows, values 12
    ).astype("string")
    with pytest.raises(UnsupportedColumnError, match="no combination of the columns 'a', 'b'"):
        SequentialTrees(rare_min_count=10, random_state=0).fit(frame, infer_specs(frame))


def test_pair_checks_that_together_exclude_every_row_are_refused_at_fit() -> None:
    # a = b, b != c and a = c are each the frequent pairs (8 rows), the other pairs rare (4):
    # every pair has frequent combinations, but no row can hold all three; sampling used to
    # give up only after 50 empty draws (hypothesis found such a frame at random)
    kinds = ["xxy", "xxx", "yyx", "yyy", "xyx", "yxy"]
    frame = pd.DataFrame([list(k) for k in kinds for _ in range(4)], columns=["a", "b", "c"])
    gen = SequentialTrees(rare_min_count=5, min_leaf_rows=5, random_state=0)
    with pytest.raises(UnsupportedColumnError, match="trial draw.*'a', 'b', 'c'"):
        gen.fit(frame)


def test_default_draws_follow_the_leaf_tables_closely() -> None:
    """Stratified draws are the default: 200 sampled rows hold each category within a row or
    two of its training share, on every seed (independent draws: off by about 0.03)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"kind": pd.Series(rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2]), dtype=object)}
    )
    share = frame["kind"].value_counts(normalize=True)
    gen = SequentialTrees(random_state=0).fit(frame)
    assert gen.describe()["correlation"]["stratified_draws"] is True
    for seed in range(6):
        got = gen.sample(200, seed=seed)["kind"].value_counts(normalize=True)
        assert (got.reindex(share.index).fillna(0) - share).abs().max() <= 0.011, seed
