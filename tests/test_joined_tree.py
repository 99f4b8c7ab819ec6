"""The joined release's checks over a whole tree, in PostgreSQL, against a brute-force count.

customers -> (orders -> items, addresses): the class of a customer is a combination of the
quasi-identifiers of all four tables, sibling branches together; rare values of a grandchild
are counted in distinct customers. The SQL (synthdb.release.joined_sql) never builds the full
sibling product; here Python builds it and counts, and both must agree.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

import psycopg
import pytest

from synthdb.errors import GateError
from synthdb.release import joined_checks
from synthdb.release.joined_checks import Member


def _members(rare_min: int = 3) -> list[Member]:
    return [
        Member("customers", ("t", "customers"), "r1", "m_customers", "customer_id", None, None,
               ("segment",), 3),
        Member("orders", ("t", "orders"), "r2", "m_orders", "order_id", "m_customers",
               "customer_id", ("kind",), 2),
        Member("items", ("t", "items"), "r3", "m_items", "item_id", "m_orders", "order_id",
               ("kind",), 2, {"colour": rare_min}),
        Member("addresses", ("t", "addresses"), "r4", "m_addresses", "address_id",
               "m_customers", "customer_id", ("type",), 2),
    ]


def _data(seed: int):
    rng = random.Random(seed)
    customers = [(c, rng.choice("ab")) for c in range(40)]
    orders, items, addresses = [], [], []
    for c, _ in customers:
        for _ in range(rng.randint(0, 3)):
            orders.append((len(orders), c, rng.choice("xyz")))
        for _ in range(rng.randint(0, 2)):
            addresses.append((len(addresses), c, rng.choice(["home", "po", None])))
    for o, _, _ in orders:
        for _ in range(rng.randint(0, 2)):
            items.append((len(items), o, rng.choice("pq"), rng.choice(["red", "blue", None])))
    return customers, orders, items, addresses


def _load(conn, data) -> None:
    customers, orders, items, addresses = data
    conn.execute("CREATE SCHEMA t")
    conn.execute("CREATE TABLE t.customers (customer_id int, segment text)")
    conn.execute("CREATE TABLE t.orders (order_id int, customer_id int, kind text)")
    conn.execute("CREATE TABLE t.items (item_id int, order_id int, kind text, colour text)")
    conn.execute("CREATE TABLE t.addresses (address_id int, customer_id int, type text)")
    for table, rows in (("customers", customers), ("orders", orders), ("items", items),
                        ("addresses", addresses)):
        if rows:
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO t.{table} VALUES "
                                f"({', '.join(['%s'] * len(rows[0]))})", rows)


def _brute_force(data) -> tuple[dict, dict]:
    """Every joined row of the full LEFT JOIN (sibling product included), then distinct
    customers per class; and distinct customers per item colour."""
    customers, orders, items, addresses = data
    items_of = defaultdict(list)
    for _i, o, kind, colour in items:
        items_of[o].append((kind, colour))
    orders_of, addresses_of = defaultdict(list), defaultdict(list)
    for o, c, kind in orders:
        orders_of[c].append((kind, items_of[o] or [(None, None)]))
    for _a, c, type_ in addresses:
        addresses_of[c].append(type_)
    classes = defaultdict(set)
    for c, segment in customers:
        order_rows = [(kind, ik) for kind, its in orders_of[c] for ik, _ in its] or [(None, None)]
        for (kind, ikind), type_ in itertools.product(order_rows, addresses_of[c] or [None]):
            classes[(segment, kind, ikind, type_)].add(c)
    owner = {o: c for o, c, _ in orders}
    colours = defaultdict(set)
    for _i, o, _k, colour in items:
        if colour is not None:
            colours[colour].add(owner[o])
    return ({k: len(v) for k, v in classes.items()}, {k: len(v) for k, v in colours.items()})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tree_classes_and_rare_values_match_a_brute_force_join(fresh_db, seed):
    data = _data(seed)
    classes, colours = _brute_force(data)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        _load(conn, data)
        rows = joined_checks.measure(conn, _members(), "t.customers")
    tree_row, rare_row = rows
    assert tree_row["metric"] == "min_subjects_per_class:customers>(orders>items, addresses)"
    assert tree_row["threshold"] == 3  # the largest k of the members
    d = tree_row["details"]
    assert d["classes"] == len(classes)
    assert tree_row["value"] == min(classes.values())
    assert d["classes_below_k"] == sum(n < 3 for n in classes.values())
    assert d["memberships"] == sum(classes.values())
    assert tree_row["passed"] is (d["classes_below_k"] == 0)
    if not tree_row["passed"]:  # the chains alone are reported to tell them from siblings
        assert set(d["chains"]) == {"customers>orders>items", "customers>addresses"}
    assert rare_row["metric"] == "rare_root_values:items.colour"
    assert rare_row["details"]["distinct_values"] == len(colours)
    assert rare_row["value"] == sum(n < 3 for n in colours.values())
    assert rare_row["details"]["min_subjects_per_value"] == min(colours.values())


def test_siblings_fail_where_every_chain_passes(fresh_db):
    """Half the customers have kind x orders, half po addresses, independently: every chain
    class is large, the sibling combination (x, po) is held by one customer only."""
    customers = [(c, "a") for c in range(8)]
    orders = [(c, c, "x" if c < 4 else "y") for c in range(8)]
    addresses = [(c, c, "po" if c in (3, 4, 5, 6) else "home") for c in range(8)]
    items = [(o, o, "p", "red") for o in range(8)]
    with psycopg.connect(fresh_db.conninfo()) as conn:
        _load(conn, (customers, orders, items, addresses))
        rows = joined_checks.measure(conn, _members(), "t.customers")
    tree_row = rows[0]
    assert tree_row["passed"] is False and tree_row["value"] == 1
    assert tree_row["details"]["chains"] == {"customers>orders>items": 4,
                                             "customers>addresses": 4}
    with pytest.raises(GateError) as err:
        joined_checks.refuse_failed("t.customers", rows)
    for name in ("customers.segment", "orders.kind", "items.kind", "addresses.type",
                 "customers -> (orders -> items, addresses)", "customers -> addresses 4"):
        assert name in str(err.value), name


def test_a_grandchild_value_of_one_customer_fails_per_root_not_per_parent(fresh_db):
    """Five orders of customer 0 each carry one gold item: held by five parents (the
    per-table count of distinct orders passes at 3) but by one customer."""
    customers = [(c, "a") for c in range(6)]
    orders = [(o, 0 if o < 5 else o - 4, "x") for o in range(10)]
    items = [(o, o, "p", "gold" if o < 5 else "red") for o in range(10)]
    with psycopg.connect(fresh_db.conninfo()) as conn:
        _load(conn, (customers, orders, items, []))
        per_parent = conn.execute("SELECT count(DISTINCT order_id) FROM t.items "
                                  "WHERE colour = 'gold'").fetchone()[0]
        rows = joined_checks.measure(conn, _members(rare_min=3), "t.customers")
    assert per_parent == 5
    rare = [r for r in rows if r["check"] == joined_checks.RARE_CHECK]
    assert [(r["value"], r["passed"]) for r in rare] == [(1, False)]  # gold: 1 customer
    with pytest.raises(GateError, match=r"items.colour \(joined customers -> orders -> items\)"):
        joined_checks.refuse_failed("t.customers", rows)


def test_a_table_without_quasi_identifiers_is_refused(fresh_db):
    members = _members()
    members[3] = Member("addresses", ("t", "addresses"), "r4", "m_addresses", "address_id",
                        "m_customers", "customer_id", (), 2)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        _load(conn, _data(1))
        with pytest.raises(GateError, match="addresses .* declares no quasi-identifiers"):
            joined_checks.measure(conn, members, "t.customers")
