"""Cost of the joined release's gate over a tree of tables (issue 14, docs/related-tables.md).

Builds release-shaped tables in a throwaway embedded PostgreSQL and times, on each shape:

* ``tree``: ``joined_checks.measure`` — the tree's classes (branches reduced to distinct
  combinations per parent before they meet) plus the rare values per root, ANALYZE included;
* ``full join``: the same class count from the full LEFT JOIN of every table (the sibling
  product per subject materialised, ``count(DISTINCT root key)`` per class), the way the
  per-chain check of the previous version counted one chain — to show what reducing first
  saves; stopped after ``--timeout`` seconds.

Shapes (``--scale`` multiplies every row count):

* ``demo``: customers 100k -> transactions ~200k (the demo's related release: a chain);
* ``siblings``: customers 100k -> orders ~400k, customers -> addresses ~150k;
* ``tree4``: ``siblings`` plus items ~1M under orders;
* ``heavy``: 20k customers with ~20 orders (~2 items each) and ~5 addresses: the full join
  holds ~200 rows per customer, the reduced branches at most 36 combinations.

Run: ``nice -n 10 .venv/bin/python bench/joined_gate_cost.py [--scale 1] [--repeat 2]``
(prints one line per shape and measurement, with the load average).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from synthdb import db
from synthdb.release import joined_checks, joined_sql
from synthdb.release.joined_checks import Member

CUSTOMERS = """CREATE TABLE b.customers AS SELECT i AS customer_id,
    (ARRAY['18-39','40-59','60-79','80+'])[1 + i % 4] AS age_band,
    (ARRAY['n','s','e','w','c'])[1 + (i / 4) % 5] AS region
    FROM generate_series(1, {n}) i"""
TRANSACTIONS = """CREATE TABLE b.transactions AS SELECT row_number() OVER () AS transaction_id,
    c.customer_id, (ARRAY['web','store','phone'])[1 + (random() * 2.99)::int] AS channel,
    (ARRAY['a','b','c','d','e','f'])[1 + (random() * 5.99)::int] AS product_category
    FROM b.customers c, generate_series(1, 1 + (random() * 2)::int + 0 * c.customer_id)"""
ORDERS = """CREATE TABLE b.orders AS SELECT row_number() OVER () AS order_id, c.customer_id,
    (ARRAY['x','y','z'])[1 + (random() * 2.99)::int] AS kind,
    (ARRAY['card','cash'])[1 + (random() * 1.99)::int] AS pay
    FROM b.customers c, generate_series(1, (random() * 8)::int + 0 * c.customer_id)"""
ADDRESSES = """CREATE TABLE b.addresses AS SELECT row_number() OVER () AS address_id,
    c.customer_id, (ARRAY['home','work','po'])[1 + (random() * 2.99)::int] AS type
    FROM b.customers c, generate_series(1, 1 + (random() * 1)::int + 0 * c.customer_id)"""
ITEMS = """CREATE TABLE b.items AS SELECT row_number() OVER () AS item_id, o.order_id,
    1 + (random() * 3)::int AS qty,
    (ARRAY['red','green','blue'])[1 + (random() * 2.99)::int] AS colour
    FROM b.orders o, generate_series(1, 1 + (random() * 3)::int + 0 * o.order_id::int)"""

CUSTOMER = Member("customers", ("b", "customers"), "r0", "customers", "customer_id", None,
                  None, ("age_band", "region"), 10)
SHAPES = {
    "demo": [CUSTOMER, Member("transactions", ("b", "transactions"), "r1", "transactions",
                              "transaction_id", "customers", "customer_id", ("channel",), 10,
                              {"channel": 10, "product_category": 10})],
    "siblings": [CUSTOMER,
                 Member("orders", ("b", "orders"), "r1", "orders", "order_id", "customers",
                        "customer_id", ("kind",), 10, {"kind": 10, "pay": 10}),
                 Member("addresses", ("b", "addresses"), "r2", "addresses", "address_id",
                        "customers", "customer_id", ("type",), 10, {"type": 10})],
}
SHAPES["tree4"] = [*SHAPES["siblings"],
                   Member("items", ("b", "items"), "r3", "items", "item_id", "orders",
                          "order_id", ("qty",), 10, {"colour": 10})]
SHAPES["heavy"] = SHAPES["tree4"]
TABLES = {"demo": [TRANSACTIONS], "siblings": [ORDERS, ADDRESSES],
          "tree4": [ORDERS, ADDRESSES, ITEMS],
          "heavy": [ORDERS.replace("* 8)", "* 8 + 16)"), ADDRESSES.replace("* 1)", "* 2 + 4)"),
                    ITEMS.replace("* 3)", "* 2)")]}
CUSTOMERS_PER_SHAPE = {"heavy": 20_000}


def load(conn, shape: str, scale: float) -> dict[str, int]:
    conn.execute("DROP SCHEMA IF EXISTS b CASCADE")
    conn.execute("CREATE SCHEMA b")
    conn.execute("SELECT setseed(0.5)")
    conn.execute(CUSTOMERS.format(n=int(CUSTOMERS_PER_SHAPE.get(shape, 100_000) * scale)))
    for statement in TABLES[shape]:
        conn.execute(statement)
    conn.commit()
    return {m.table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(*m.relation))).fetchone()[0] for m in SHAPES[shape]}


def full_join(conn, members: list[Member], timeout: int) -> float | str:
    """Seconds for the class count from the materialised full LEFT JOIN, or 'timeout'."""
    tree = joined_checks.trees(members)[0]
    order = tree.members()
    alias = {m.model: sql.Identifier(f"j{i}") for i, m in enumerate(order)}
    joins = sql.SQL(" ").join(
        sql.SQL("LEFT JOIN {} AS {} ON {}.{} = {}.{}").format(
            sql.Identifier(*m.relation), alias[m.model], alias[m.model],
            sql.Identifier(m.foreign_key), alias[m.parent_model],
            sql.Identifier(next(p for p in order if p.model == m.parent_model).key))
        for m in order[1:])
    qis = sql.SQL(", ").join(sql.SQL("{}.{}").format(alias[m.model], sql.Identifier(q))
                             for m in order for q in m.quasi_identifiers)
    query = sql.SQL("SELECT count(*), min(n) FROM (SELECT count(DISTINCT {}.{}) AS n FROM {} AS {} "
                    "{} GROUP BY {}) c").format(alias[order[0].model],
                                                sql.Identifier(order[0].key),
                                                sql.Identifier(*order[0].relation),
                                                alias[order[0].model], joins, qis)
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(timeout * 1000)))
    start = time.perf_counter()
    try:
        conn.execute(query).fetchone()
        return time.perf_counter() - start
    except psycopg.errors.QueryCanceled:
        conn.rollback()
        return "timeout"
    finally:
        conn.execute("SET statement_timeout = 0")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--shapes", default="demo,siblings,tree4,heavy")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="joined-gate-"))
    settings = db.start_embedded(home)
    try:
        with psycopg.connect(settings.conninfo()) as conn:
            for shape in args.shapes.split(","):
                rows = load(conn, shape, args.scale)
                members = SHAPES[shape]
                for attempt in range(args.repeat):
                    start = time.perf_counter()
                    out = joined_checks.measure(conn, members, shape)
                    all_s = time.perf_counter() - start
                    start = time.perf_counter()
                    joined_sql.tree_classes(conn, joined_checks.trees(members)[0], 10)
                    tree_s = time.perf_counter() - start
                    conn.commit()
                    full = full_join(conn, members, args.timeout)
                    d = out[0]["details"]
                    print(f"{shape} #{attempt + 1}: rows {rows}; gate (ANALYZE, tree, rare) {all_s:.2f} s, "
                          f"tree classes alone {tree_s:.2f} s "
                          f"({len(out)} figures, {d['classes']} classes, {d['memberships']} "
                          f"memberships, smallest {out[0]['value']}); full join "
                          f"{full if isinstance(full, str) else f'{full:.2f} s'}; "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        db.stop_embedded(home)


if __name__ == "__main__":
    main()
