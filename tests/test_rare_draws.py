"""A release does not fail its own rare-values gate by the luck of the draw.

The generators emit no category held by fewer than ``rare_min_count`` training owners, but a
category just above that floor can land in fewer synthetic rows (or distinct synthetic parents)
than the gate asks for. Here a store that 18 customers used once each is released with fewer
synthetic customers than real ones: without the rare-value suppression (stages._suppress_rare)
most seeds failed ``rare_values:store`` / ``rare_subject_values:store`` (4 of 4 related, 4 of 4
single-table before the change; see the report of helper default7).
"""

from __future__ import annotations

import textwrap

import psycopg
import pytest
from dbtproject import make_project
from psycopg import sql

from synthdb.release import sqlchecks

SOURCES = textwrap.dedent("""
    version: 2
    sources:
      - name: src
        schema: src
        tables: [{name: customers}, {name: orders}]
""")

CONTRACTS = {
    "customers_contract": "select customer_id, segment from {{ source('src', 'customers') }}",
    "orders_contract": "select order_id, customer_id, store, paid from {{ source('src', 'orders') }}",
    "visits_contract": "select segment, store, paid from {{ source('src', 'orders') }} "
                       "join {{ source('src', 'customers') }} using (customer_id)",
}

PRIVACY = "'privacy': {'quasi_identifiers': ['segment'], 'k': 5, 'identical_match_tolerance': 0.01}"


def synthetic(source: str, extra: str, depends: str = "") -> str:
    return textwrap.dedent(f"""
        {{{{ config(materialized='synthetic', schema='rd_staging',
                  synth={{'source': '{source}', 'seed': var('seed'), 'validate_contract': False,
                         {extra}}}) }}}}
        -- depends_on: {{{{ ref('{source}') }}}}""") + depends + "\nselect * from {{ this }}\n"


MODELS = {
    # 800 synthetic customers for 1,600 training ones: 'kiosk' (18 real holders) expects ~7
    "customers_synthetic": synthetic(
        "customers_contract", "'key': 'customer_id', 'rows': 800, " + PRIVACY),
    "orders_synthetic": synthetic(
        "orders_contract",
        "'key': 'order_id', 'parent': {'model': 'customers_synthetic', 'key': 'customer_id'}, "
        + PRIVACY.replace("['segment']", "['paid']"),
        "\n-- depends_on: {{ ref('customers_synthetic') }}"),
    # one table: 'kiosk' has 18 rows of 6,000; 2,500 synthetic rows expect ~7
    "visits_synthetic": synthetic("visits_contract", "'rows': 2500, " + PRIVACY),
}


@pytest.fixture()
def thin_project(tmp_path, fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("SELECT setseed(0.37)")
        conn.execute("""CREATE TABLE src.customers AS
            SELECT 1000 + i AS customer_id, (ARRAY['basic','plus'])[1 + i % 2] AS segment
            FROM generate_series(1, 2000) i""")
        # three orders each; 18 "plus" customers used the kiosk once each
        conn.execute("""CREATE TABLE src.orders AS
            SELECT row_number() OVER () + 500000 AS order_id, c.customer_id,
                   CASE WHEN n = 1 AND c.customer_id % 2 = 1 AND c.customer_id < 1037
                        THEN 'kiosk'
                        WHEN random() < 0.3 THEN 'web' ELSE 'main' END AS store,
                   CASE WHEN random() < 0.4 THEN 'cash' ELSE 'card' END AS paid
            FROM src.customers c, generate_series(1, 3) n""")
        conn.commit()
    project = make_project(tmp_path / "thin", fresh_db, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    for name, body in CONTRACTS.items():
        project.write(f"models/{name}.sql",
                      "{{ config(materialized='view', schema='rd_contracts') }}\n" + body)
    for name, body in MODELS.items():
        project.write(f"models/{name}.sql", body)
    return project


def _store_metrics(project) -> dict[tuple[str, str], float]:
    with psycopg.connect(project.settings.conninfo()) as conn:
        return {(r[0], r[1]): float(r[2]) for r in conn.execute("""
            SELECT r.model, m.metric, m.value FROM synthdb_audit.metrics m
            JOIN synthdb_audit.runs r USING (run_id)
            WHERE m.metric IN ('rare_values:store', 'rare_subject_values:store')
              AND r.run_id IN (SELECT DISTINCT ON (model) run_id FROM synthdb_audit.runs
                               ORDER BY model, started_at DESC)""")}


def _suppressed(project) -> int:
    with psycopg.connect(project.settings.conninfo()) as conn:
        return sum(int(r[0]) for r in conn.execute("""
            SELECT (m.details ->> 'suppressed_rows')::int FROM synthdb_audit.metrics m
            WHERE m.metric = 'columns_checked'"""))


def test_thin_category_passes_the_rare_gates_in_every_seed(thin_project):
    for seed in (1, 2, 3, 4):
        run = thin_project.dbt("build", "--vars", f"{{seed: {seed}}}")
        assert run.ok, (seed, run.output[-4000:])
        metrics = _store_metrics(thin_project)
        assert {("orders_synthetic", "rare_values:store"),
                ("orders_synthetic", "rare_subject_values:store"),
                ("visits_synthetic", "rare_values:store")} <= set(metrics), metrics
        assert all(v == 0 for v in metrics.values()), (seed, metrics)
        with psycopg.connect(thin_project.settings.conninfo()) as conn:
            kiosk = conn.execute("""
                SELECT count(*), count(DISTINCT customer_id) FROM rd_staging.orders_synthetic
                WHERE store = 'kiosk'""").fetchone()
            assert kiosk[0] == 0 or kiosk[1] >= 10, (seed, kiosk)
    # the cure was needed: some seed drew the kiosk for too few customers or rows
    assert _suppressed(thin_project) > 0
    with psycopg.connect(thin_project.settings.conninfo()) as conn:
        methods = dict(conn.execute("""
            SELECT DISTINCT ON (model) model, generator ->> 'method' FROM synthdb_audit.runs
            ORDER BY model, started_at DESC"""))
    # a single table gets the default trees, a keyed root table the copula (registry)
    assert methods == {"visits_synthetic": "sequential_trees",
                       "customers_synthetic": "gaussian_copula",
                       "orders_synthetic": "child_generator"}, methods


def test_suppression_deletes_exactly_the_values_the_check_counts_as_rare(fresh_db):
    table = sql.Identifier("public", "t")
    with psycopg.connect(fresh_db.conninfo()) as conn:
        # 'a': 10 rows of 10 owners (kept at the edge); 'b': 9 rows (rare by rows);
        # 'c': 30 rows of 3 owners (rare by owners only); NULL: 2 rows (not a category)
        conn.execute("CREATE TABLE t (v text, owner int, other text)")
        conn.execute("""INSERT INTO t SELECT 'a', i, 'x' FROM generate_series(1, 10) i
            UNION ALL SELECT 'b', i, 'x' FROM generate_series(1, 9) i
            UNION ALL SELECT 'c', i % 3, 'y' FROM generate_series(1, 30) i
            UNION ALL SELECT NULL, i, 'x' FROM generate_series(1, 2) i""")
        by_rows = sqlchecks.rare_categories(conn, table, "v", 10)
        assert by_rows["rare_values"] == 1 and by_rows["rare_rows"] == 9
        assert sqlchecks.suppress_rare_values(conn, table, "v", 10) == 9
        assert sqlchecks.rare_categories(conn, table, "v", 10)["rare_values"] == 0
        assert sqlchecks.rare_categories(conn, table, "v", 10, "owner")["rare_values"] == 1
        assert sqlchecks.suppress_rare_values(conn, table, "v", 10, "owner") == 30
        assert sqlchecks.rare_categories(conn, table, "v", 10, "owner")["rare_values"] == 0
        left = dict(conn.execute("SELECT coalesce(v, 'null'), count(*) FROM t GROUP BY 1"))
        assert left == {"a": 10, "null": 2}


def test_suppression_counts_owners_through_a_join(fresh_db):
    """Below a parent that has a parent, values are counted in grandparents (the joined
    check's root keys): 'x' is held by 12 orders of 4 customers, so it goes."""
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE orders AS SELECT i AS order_id, i % 4 AS customer_id "
                     "FROM generate_series(1, 40) i")
        conn.execute("CREATE TABLE items AS SELECT i AS item_id, i AS order_id, "
                     "CASE WHEN i <= 12 THEN 'x' ELSE 'y' END AS wrap FROM generate_series(1, 40) i"
                     " UNION ALL SELECT 100 + i, i, 'z' FROM generate_series(1, 40) i")
        conn.execute("UPDATE orders SET customer_id = order_id WHERE order_id > 12")
        items = sql.Identifier("public", "items")
        counted = sql.SQL("(SELECT c.*, p.customer_id AS owner FROM {} AS c JOIN orders AS p "
                          "ON c.order_id = p.order_id) AS counted").format(items)
        by_orders = sqlchecks.rare_categories(conn, items, "wrap", 10, "order_id")
        assert by_orders["rare_values"] == 0  # 12, 28 and 40 orders
        assert sqlchecks.rare_categories(conn, counted, "wrap", 10, "owner")["rare_values"] == 1
        assert sqlchecks.suppress_rare_values(conn, items, "wrap", 10, "owner", counted) == 12
        left = dict(conn.execute("SELECT wrap, count(*) FROM items GROUP BY 1"))
        assert left == {"y": 28, "z": 40}
