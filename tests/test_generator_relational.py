"""Related tables without a database: children of synthetic parents, fresh keys, three levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from synthdb.errors import ConfigError
from synthdb.generators.child_counts import ChildCounts
from synthdb.generators.relational import ChildGenerator, Relation, RelationalSynthesizer
from synthdb.generators.strata import stratified_uniforms

SEGMENT_RATE = {"a": 2, "b": 6, "c": 12}


def _customers(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.permutation(n) + 7_000,
            "segment": rng.choice(list(SEGMENT_RATE), n, p=[0.5, 0.3, 0.2]),
            "age": rng.integers(18, 90, n),
        }
    )


def _orders(customers: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Segment decides how many orders and which kind; each customer's orders are days apart."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(customers["segment"].map(SEGMENT_RATE).to_numpy())
    owner = np.repeat(np.arange(len(customers)), counts)
    seg = customers["segment"].to_numpy()[owner]
    start = np.repeat(rng.uniform(0, 300, len(customers)), counts)
    steps = rng.exponential(3.0, len(owner))
    firsts = np.r_[0, np.cumsum(counts)[:-1]][counts > 0]
    csum = np.cumsum(steps)
    within = csum - np.repeat(csum[firsts] - steps[firsts], counts[counts > 0])
    m = len(owner)
    return pd.DataFrame(
        {
            "order_id": rng.permutation(m) + 9_000_000,
            "customer_id": customers["customer_id"].to_numpy()[owner],
            "kind": np.where(
                seg == "c", rng.choice(["x", "y"], m, p=[0.9, 0.1]), rng.choice(["x", "y"], m)
            ),
            "amount": np.round(rng.gamma(2.0, 10.0, m), 2),
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta((start + within) * 86_400, unit="s"),
        }
    )


def _synthetic_parents(customers: pd.DataFrame) -> pd.DataFrame:
    """Stand-in synthetic parents: real attributes shuffled, keys that the source never had."""
    out = customers.sample(frac=1.0, random_state=5).reset_index(drop=True)
    out["customer_id"] = np.arange(len(out)) + 10**12
    return out


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, pd.DataFrame, ChildGenerator]:
    customers = _customers()
    orders = _orders(customers)
    gen = ChildGenerator(random_state=3).fit(
        customers, orders, "customer_id", "customer_id", child_key="order_id"
    )
    return customers, orders, gen


def test_children_link_to_given_parents_only_with_fresh_keys(fitted) -> None:
    customers, orders, gen = fitted
    parents = _synthetic_parents(customers)
    out = gen.sample(parents, seed=11)
    assert list(out.columns) == list(orders.columns)
    assert out["customer_id"].isin(parents["customer_id"]).all()  # zero orphans
    assert out["order_id"].is_unique
    real_keys = set(orders["order_id"]) | set(orders["customer_id"])
    assert not real_keys & set(out["order_id"])
    assert not set(customers["customer_id"]) & set(out["customer_id"])
    again = gen.sample(parents, seed=11)
    # same seed: same attributes; keys are fresh every time
    pd.testing.assert_series_equal(out["amount"], again["amount"])
    assert not set(out["order_id"]) & set(again["order_id"])


def test_children_per_parent_follow_the_parents_attributes(fitted) -> None:
    customers, orders, gen = fitted
    parents = _synthetic_parents(customers)
    out = gen.sample(parents, seed=12)
    per = out.groupby("customer_id").size().reindex(parents["customer_id"], fill_value=0)
    mean_by_segment = per.groupby(parents.set_index("customer_id")["segment"]).mean()
    for seg, rate in SEGMENT_RATE.items():
        assert mean_by_segment[seg] == pytest.approx(rate, rel=0.15), mean_by_segment


def test_child_attributes_depend_on_the_parent(fitted) -> None:
    customers, _orders_, gen = fitted
    parents = _synthetic_parents(customers)
    joined = gen.sample(parents, seed=13).merge(parents, on="customer_id")
    share_x = joined.groupby("segment")["kind"].apply(lambda s: (s == "x").mean())
    assert share_x["c"] == pytest.approx(0.9, abs=0.05)
    assert share_x["a"] == pytest.approx(0.5, abs=0.07)


def test_events_of_a_parent_are_ordered_with_realistic_gaps(fitted) -> None:
    customers, orders, gen = fitted
    out = gen.sample(_synthetic_parents(customers), seed=14)
    t = out["ordered_at"]
    same = out["customer_id"].eq(out["customer_id"].shift())
    assert (t.diff()[same] >= pd.Timedelta(0)).all()

    def median_gap_days(frame: pd.DataFrame) -> float:
        f = frame.sort_values(["customer_id", "ordered_at"])
        gap = f["ordered_at"].diff().dt.total_seconds() / 86_400
        return float(gap[f["customer_id"].eq(f["customer_id"].shift())].median())

    real, synth = median_gap_days(orders), median_gap_days(out)
    assert 0.6 * real < synth < 1.6 * real, (real, synth)
    # the real data spread the events over ~300 days; independent draws per row would not
    # cluster: the synthetic per-customer span must stay near the real one
    span = lambda f: f.groupby("customer_id")["ordered_at"].agg(lambda s: (s.max() - s.min()).days)  # noqa: E731
    assert span(out).median() < 2.0 * span(orders).median() + 2


def test_count_and_rare_values_are_protected() -> None:
    customers = _customers(600)
    orders = _orders(customers)
    # one customer with 400 orders, and a kind that only 3 orders have
    whale = customers["customer_id"].iloc[0]
    extra = orders.iloc[:400].copy()
    extra["customer_id"] = whale
    extra["order_id"] = np.arange(400) + 1
    orders = pd.concat([orders, extra], ignore_index=True)
    orders.loc[orders.index[:3], "kind"] = "rare_kind"
    gen = ChildGenerator(random_state=1).fit(
        customers, orders, "customer_id", "customer_id", child_key="order_id"
    )
    parents = _synthetic_parents(customers)
    for seed in range(3):
        out = gen.sample(parents, seed=seed)
        assert out.groupby("customer_id").size().max() < 400
        assert "rare_kind" not in set(out["kind"])


def test_a_child_value_of_one_parent_is_withheld_when_subjects_are_counted() -> None:
    """200 orders of one customer carry a kind nobody else has: frequent by rows, one person
    by subjects. Counted in rows it is emitted; with ``subjects`` (each order's customer) never."""
    customers = _customers(600)
    orders = _orders(customers)
    whale = customers["customer_id"].iloc[0]
    extra = orders.iloc[:200].copy()
    extra["customer_id"], extra["kind"] = whale, "whale_kind"
    extra["order_id"] = np.arange(200) + 1
    orders = pd.concat([orders, extra], ignore_index=True)
    parents = _synthetic_parents(customers)

    def emitted(**options) -> int:
        gen = ChildGenerator(random_state=1).fit(
            customers, orders, "customer_id", "customer_id", child_key="order_id", **options)
        return sum(int((gen.sample(parents, seed=s)["kind"] == "whale_kind").sum())
                   for s in range(3))

    assert emitted() > 0
    assert emitted(subjects=orders["customer_id"].to_numpy()) == 0


def test_three_levels_chain_with_consistent_keys() -> None:
    customers = _customers(800)
    orders = _orders(customers)
    rng = np.random.default_rng(2)
    per = rng.integers(1, 4, len(orders))
    owner = np.repeat(np.arange(len(orders)), per)
    items = pd.DataFrame(
        {
            "item_id": np.arange(len(owner)) + 1,
            "order_id": orders["order_id"].to_numpy()[owner],
            "price": np.round(orders["amount"].to_numpy()[owner] / per[owner], 2),
        }
    )
    tables = {"customers": customers, "orders": orders, "items": items}
    rels = [
        Relation("customers", "orders", "customer_id", "customer_id"),
        Relation("orders", "items", "order_id", "order_id"),
    ]
    keys = {"customers": "customer_id", "orders": "order_id", "items": "item_id"}
    model = RelationalSynthesizer(
        random_state=0, child_params={"items": {"generator_params": {"min_leaf_rows": 40}}}
    ).fit(tables, rels, keys)
    # a child's own generator parameters are merged over the shared ones
    assert model.children_["items"].model_.min_leaf_rows == 40
    assert model.children_["orders"].model_.min_leaf_rows == 80  # 8 * rare_min_count
    out = model.sample(500, seed=4)
    assert len(out["customers"]) == 500 and out["customers"]["customer_id"].is_unique
    assert out["orders"]["customer_id"].isin(out["customers"]["customer_id"]).all()
    assert out["items"]["order_id"].isin(out["orders"]["order_id"]).all()
    assert out["items"]["item_id"].is_unique
    assert not set(out["items"]["item_id"]) & set(items["item_id"])
    # the orders' own foreign key (real customer ids at fit, fresh keys at sampling) is no context
    assert "customer_id" not in model.children_["items"].context_.columns_
    per_order = out["items"].groupby("order_id").size()
    assert 1.5 < per_order.mean() < 2.5  # real: uniform 1..3


def test_bad_input_is_refused_with_the_column_named() -> None:
    customers = _customers(100)
    orders = _orders(customers)
    dup = pd.concat([customers, customers.iloc[:1]], ignore_index=True)
    with pytest.raises(ConfigError, match="customer_id"):
        ChildGenerator().fit(dup, orders, "customer_id", "customer_id")
    with pytest.raises(ConfigError, match="'client'"):
        ChildGenerator().fit(customers, orders, "customer_id", "client")
    rels = [Relation("a", "b", "k", "k"), Relation("b", "a", "k", "k")]
    with pytest.raises(ConfigError, match="parent|cycle"):
        RelationalSynthesizer().fit({"a": customers, "b": orders}, rels, {"a": "k"})


def test_fresh_keys_fit_the_key_columns_type_and_never_repeat() -> None:
    from synthdb.generators.fresh_keys import fresh_keys, key_style
    from synthdb.generators.specs import ColumnSpec

    assert key_style(ColumnSpec("id", "id", pg_type="integer")) == "integer"
    assert key_style(ColumnSpec("id", "integer", pg_type="bigint")) == "bigint"
    assert key_style(ColumnSpec("id", "id", pg_type="uuid")) == "uuid"
    assert key_style(ColumnSpec("tailnum", "id", pg_type="text")) == "text"
    # integer keys only where the run looks for real keys in the reserved range (numeric)
    assert key_style(ColumnSpec("code", "integer", pg_type="text")) == "text"
    assert key_style(ColumnSpec("id", "integer", pg_type="numeric(12,0)")) == "bigint"
    # drawn from the upper half of the type's positive values (the reserved range)
    ints = fresh_keys(50_000, "integer")
    assert ints.is_unique and ints.min() >= 2**30 and ints.max() < 2**31
    big = fresh_keys(50_000, "bigint")
    assert big.is_unique and big.min() >= 2**62
    small = fresh_keys(4_000, "smallint")
    assert small.is_unique and small.min() >= 2**14 and small.max() < 2**15
    with pytest.raises(ConfigError, match="smallint"):
        fresh_keys(5_000, "smallint")  # too dense in [2^14, 2^15) to stay unguessable
    assert fresh_keys(3, "text").str.match(r"^[0-9a-f-]{36}$").all()


def test_children_are_drawn_given_their_parent_and_keep_rare_pairs_out() -> None:
    """Conditional sampling (``sample_given``): a segment's kinds follow it; a (segment, kind)
    pair that only 4 real orders hold is never emitted, though both values are frequent."""
    customers = _customers()
    orders = _orders(customers)
    seg = orders["customer_id"].map(customers.set_index("customer_id")["segment"])
    kind = orders["kind"].where(seg != "c", "x").where(~orders["kind"].eq("y") | (seg == "c"))
    kind = kind.fillna("z")  # segments a and b: kinds x and z
    kind.loc[kind.index[(seg == "c").to_numpy()][:4]] = "z"  # segment c with z: 4 orders
    orders = orders.assign(kind=kind)
    gen = ChildGenerator(random_state=2).fit(
        customers, orders, "customer_id", "customer_id", child_key="order_id"
    )
    assert gen.conditional_ and "conditional" in gen.describe()["children_drawn"]
    parents = _synthetic_parents(customers)
    joined = gen.sample(parents, seed=5).merge(parents, on="customer_id")
    by_segment = pd.crosstab(joined["segment"], joined["kind"])
    assert by_segment.loc["c", "x"] > 1000
    assert by_segment.get("z", pd.Series(0, index=by_segment.index))["c"] == 0
    assert by_segment.loc["a", "z"] > 500 and by_segment.loc["b", "z"] > 500


def test_sampling_in_blocks_of_parents_is_deterministic_and_local() -> None:
    """``sample_chunks``: one frame per block of parents, holding only that block's parents;
    the same seed and blocks give the same attributes."""
    customers = _customers(900)
    orders = _orders(customers)
    gen = ChildGenerator(chunk_rows=1_000, random_state=4).fit(
        customers, orders, "customer_id", "customer_id", child_key="order_id"
    )
    parents = _synthetic_parents(customers)
    step = gen.parents_per_block()
    assert 100 < step < 300  # about 1,000 children per block at ~5.3 per customer
    blocks = [parents.iloc[i : i + step] for i in range(0, len(parents), step)]
    frames = list(gen.sample_chunks(iter(blocks), seed=8))
    assert len(frames) == len(blocks)
    for block, frame in zip(blocks, frames, strict=True):
        assert frame["customer_id"].isin(block["customer_id"]).all()
    whole = gen.sample(parents, seed=8)
    again = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(
        whole.drop(columns="order_id"), again.drop(columns="order_id")
    )


def test_stratified_uniforms_fill_every_stratum_of_each_group() -> None:
    groups = np.array([0, 1, 0, 2, 1, 0, 0, 1, 0, 0] * 30)
    u = stratified_uniforms(groups, np.random.default_rng(4))
    assert np.array_equal(u, stratified_uniforms(groups, np.random.default_rng(4)))
    assert not np.array_equal(u, stratified_uniforms(groups, np.random.default_rng(5)))
    for g in np.unique(groups):
        m = int((groups == g).sum())
        # one value in each of the m strata [i/m, (i+1)/m)
        assert np.array_equal(np.sort(np.floor(u[groups == g] * m)), np.arange(m))


def test_children_per_parent_follow_the_count_table_in_every_seed() -> None:
    """160 parents: independent draws gave a KS complement of 0.894-0.962 against the real
    counts over seeds (mlmRev Hsb82); stratified draws keep every seed near the table, while
    the privacy bounds (least / most children emitted) stay the block means'."""
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(5, 0.1, 160) + 1
    context = rng.normal(size=(160, 1))
    model = ChildCounts(rare_min_count=10, min_leaf_parents=100, random_state=0).fit(
        context, counts
    )
    ordered = np.sort(counts)
    for seed in range(10):
        drawn = model.sample(context, np.random.default_rng(seed))
        assert 1.0 - ks_2samp(counts, drawn).statistic >= 0.95
        assert drawn.min() >= np.floor(ordered[:10].mean())
        assert drawn.max() <= np.floor(ordered[-10:].mean())


def test_a_small_parent_table_keeps_its_category_shares_in_every_seed() -> None:
    """160 parents, 70 of one kind: independent draws made that share 0.39-0.55 over seeds
    (mlmRev Hsb82's Catholic schools), which moved every child-side figure; the related
    trees draw stratified within each leaf."""
    rng = np.random.default_rng(2)
    n = 160
    kind = np.where(rng.permutation(n) < 70, "catholic", "public")
    schools = pd.DataFrame(
        {
            "school_id": np.arange(n) + 100,
            "sector": kind,
            "mean_ses": rng.normal(np.where(kind == "catholic", 0.3, -0.2), 0.35),
        }
    )
    students = pd.DataFrame({"school_id": np.repeat(schools["school_id"], 20)})
    students["score"] = rng.normal(12.0, 6.0, len(students))
    students["student_id"] = np.arange(len(students)) + 1
    model = RelationalSynthesizer(random_state=0).fit(
        {"schools": schools, "students": students},
        [Relation("schools", "students", "school_id", "school_id")],
        {"schools": "school_id", "students": "student_id"},
    )
    assert model.root_model_.describe()["correlation"]["stratified_draws"] is True
    for seed in range(10):
        out = model.sample(n, seed=seed)["schools"]
        assert abs((out["sector"] == "catholic").mean() - 70 / n) <= 0.02


def test_counts_keep_the_real_distribution_when_parents_fill_cells_differently() -> None:
    """Synthetic parents never carry rare categories, so they fill the count cells otherwise
    than the real ones (flights: KS complement 0.952 instead of 0.978). A block keeps each
    parent's rank but takes its count from the all-parents table: busier cells still get more
    children, and the distribution stays the real one."""
    rng = np.random.default_rng(1)
    kind = rng.integers(0, 2, 1000)
    counts = np.where(kind == 1, rng.poisson(30, 1000), rng.poisson(5, 1000)) + 1
    model = ChildCounts(rare_min_count=10, min_leaf_parents=100, random_state=0).fit(
        kind[:, None].astype(float), counts
    )
    shifted = (rng.random(1000) < 0.35).astype(float)[:, None]  # 35 % busy instead of 50 %
    for seed in range(5):
        drawn = model.sample(shifted, np.random.default_rng(seed))
        assert 1.0 - ks_2samp(counts, drawn).statistic >= 0.95
        assert drawn[shifted[:, 0] == 1].mean() > 2 * drawn[shifted[:, 0] == 0].mean()
        assert drawn.max() <= np.floor(np.sort(counts)[-10:].mean())
