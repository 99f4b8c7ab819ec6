"""Related tables through real dbt (issue 14): customers -> orders -> items released together.

Children are generated for the staged synthetic parents, keys are fresh in every release, the
destination declares PRIMARY KEY and FOREIGN KEY constraints with zero orphans, and one failing
table stops the publish of the whole release group.

The module builds the group once; the tests that start from that first release get it back
from a snapshot of the databases (``released_project``) instead of building it again.
"""

from __future__ import annotations

import textwrap

import psycopg
import pytest
from dbtproject import DbtProject, make_project, share_of
from psycopg import sql

SOURCES = textwrap.dedent("""
    version: 2
    sources:
      - name: src
        schema: src
        tables: [{name: customers}, {name: orders}, {name: items}]
""")

CONTRACTS = {
    "customers_contract": "select customer_id, segment, region from {{ source('src', 'customers') }}",
    "orders_contract": (
        "select order_id, customer_id, kind, amount, ordered_at from {{ source('src', 'orders') }}"
    ),
    "items_contract": "select item_id, order_id, qty, colour, price from {{ source('src', 'items') }}",
}

PRIVACY = "'privacy': {'quasi_identifiers': %s, 'k': 5%s}"


def synthetic(source: str, key: str, qis: str, parent: tuple[str, str] | None = None,
              extra: str = "", privacy: str = "") -> str:
    parent_cfg = f", 'parent': {{'model': '{parent[0]}', 'key': '{parent[1]}'}}" if parent else ""
    depends = f"\n-- depends_on: {{{{ ref('{parent[0]}') }}}}" if parent else ""
    return textwrap.dedent(f"""
        {{{{ config(materialized='synthetic', schema='rel_staging',
                  synth={{'source': '{source}', 'seed': 7, 'key': '{key}',
                         'validate_contract': False{parent_cfg}, {PRIVACY % (qis, privacy)}{extra}}}) }}}}
        -- depends_on: {{{{ ref('{source}') }}}}""") + depends + "\nselect * from {{ this }}\n"


# items: three columns, so a synthetic row can equal a training row by chance (1 of 10,000
# against 0 holdout rows in one run): the identical-match check gets a stated tolerance
ITEMS_GENERATOR = ", 'generator': {'method': 'gaussian_copula'}"
ITEMS_PRIVACY = ", 'identical_match_tolerance': 0.001"

PUBLISH = textwrap.dedent("""
    {{ config(materialized='publish', schema='rel_recipient', alias='customers',
              publish={'from': 'customers_synthetic', 'recipient': 'rel_recipient',
                       'related': {'orders': 'orders_synthetic', 'items': 'items_synthetic'}}) }}
    -- depends_on: {{ ref('customers_synthetic') }} {{ ref('orders_synthetic') }}
    -- depends_on: {{ ref('items_synthetic') }}
    select * from {{ this }}
""")


def _source_and_project(path, settings) -> DbtProject:
    """The source tables in ``settings``' database and the group's project in ``path``."""
    with psycopg.connect(settings.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("SELECT setseed(0.21)")
        conn.execute("""CREATE TABLE src.customers AS
            SELECT 1000 + i AS customer_id,
                   (ARRAY['basic','plus','premium'])[1 + (i % 7) / 3] AS segment,
                   (ARRAY['north','south','east','west'])[1 + i % 4] AS region
            FROM generate_series(1, 1500) i""")
        # premium customers order more and buy 'x'; orders of one customer are days apart
        conn.execute("""CREATE TABLE src.orders AS
            SELECT row_number() OVER () + 500000 AS order_id, c.customer_id,
                   CASE WHEN c.segment = 'premium' AND random() < 0.9 THEN 'x'
                        WHEN random() < 0.3 THEN 'x' ELSE 'y' END AS kind,
                   round((10 + random() * 90)::numeric, 2) AS amount,
                   timestamp '2024-01-01' + (c.customer_id % 200) * interval '1 day'
                     + n * interval '3 days' + (random() * 10) * interval '1 hour' AS ordered_at
            FROM src.customers c,
                 generate_series(1, CASE c.segment WHEN 'premium' THEN 8
                                                   WHEN 'plus' THEN 4 ELSE 2 END) n""")
        conn.execute("""CREATE TABLE src.items AS
            SELECT row_number() OVER () + 9000000 AS item_id, o.order_id,
                   1 + (random() * 3)::int AS qty,
                   (ARRAY['red','green','blue'])[1 + (random() * 2.99)::int] AS colour,
                   round((o.amount / 4 + random() * 5000)::numeric, 4) AS price
            FROM src.orders o, generate_series(1, 1 + (o.order_id % 3)::int) n""")
        conn.commit()
    project = make_project(path, settings, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    for name, body in CONTRACTS.items():
        project.write(f"models/{name}.sql",
                      "{{ config(materialized='view', schema='rel_contracts') }}\n" + body)
    project.write("models/customers_synthetic.sql",
                  synthetic("customers_contract", "customer_id", "['segment']"))
    project.write("models/orders_synthetic.sql",
                  synthetic("orders_contract", "order_id", "['kind']",
                            ("customers_synthetic", "customer_id")))
    # items: the copula (DCR share ~0.50); the trees' 0.49-0.55 on this small three-column
    # table made the leakage gate a coin toss for the test (orders keep the default trees)
    project.write("models/items_synthetic.sql",
                  synthetic("items_contract", "item_id", "['qty']",
                            ("orders_synthetic", "order_id"), ITEMS_GENERATOR, ITEMS_PRIVACY))
    project.write("models/release.sql", PUBLISH)
    return project


# the project built once for the module (conftest.first_release / released_project)
FIRST_BUILD = ("related_release", _source_and_project)


@pytest.fixture()
def related_project(tmp_path, fresh_db):
    """The project, not built yet."""
    return _source_and_project(tmp_path / "related", fresh_db)


def _share(project):
    return psycopg.connect(share_of(project.settings).conninfo())


def _keys(project) -> dict[str, set]:
    with _share(project) as conn:
        return {t: {r[0] for r in conn.execute(f"SELECT {k} FROM rel_recipient.{t}")}
                for t, k in (("customers", "customer_id"), ("orders", "order_id"),
                             ("items", "item_id"))}


def test_three_levels_publish_with_keys_constraints_and_no_orphans(released_project):
    with _share(released_project) as conn:
        constraints = {
            (r[0], r[1]) for r in conn.execute(
                "SELECT conrelid::regclass::text, contype FROM pg_constraint "
                "WHERE connamespace = 'rel_recipient'::regnamespace")}
        assert {("rel_recipient.customers", "p"), ("rel_recipient.orders", "p"),
                ("rel_recipient.items", "p"), ("rel_recipient.orders", "f"),
                ("rel_recipient.items", "f")} <= constraints
        orphans = conn.execute("""
            SELECT (SELECT count(*) FROM rel_recipient.orders o LEFT JOIN rel_recipient.customers c
                      USING (customer_id) WHERE c.customer_id IS NULL)
                 + (SELECT count(*) FROM rel_recipient.items i LEFT JOIN rel_recipient.orders o
                      USING (order_id) WHERE o.order_id IS NULL)""").fetchone()[0]
        assert orphans == 0
        per = dict(conn.execute("""
            SELECT c.segment, count(o.order_id)::float / count(DISTINCT c.customer_id)
            FROM rel_recipient.customers c LEFT JOIN rel_recipient.orders o USING (customer_id)
            GROUP BY c.segment""").fetchall())
        # children per parent follow the parent's segment (real: 2, 4, 8)
        assert per["basic"] < per["plus"] < per["premium"], per
        share_x = dict(conn.execute("""
            SELECT c.segment, avg((o.kind = 'x')::int)::float FROM rel_recipient.orders o
            JOIN rel_recipient.customers c USING (customer_id) GROUP BY c.segment""").fetchall())
        assert share_x["premium"] > share_x["basic"] + 0.3, share_x  # real ~0.93 vs 0.3
    with psycopg.connect(released_project.settings.conninfo()) as conn:
        real = {t: {r[0] for r in conn.execute(f"SELECT {k} FROM src.{t}")}
                for t, k in (("customers", "customer_id"), ("orders", "order_id"),
                             ("items", "item_id"))}
    released = _keys(released_project)
    for table in real:
        assert released[table] and not released[table] & real[table], table
    # a child's rare values are counted in distinct synthetic parents too, on the staged rows
    with psycopg.connect(released_project.settings.conninfo()) as conn:
        counted = conn.execute("""
            SELECT r.model, m.metric, m.value, m.passed, m.details ->> 'counted'
            FROM synthdb_audit.metrics m JOIN synthdb_audit.runs r USING (run_id)
            WHERE m.metric LIKE 'rare_subject_values:%' ORDER BY 1, 2""").fetchall()
        assert [(c[0], c[1], c[3]) for c in counted] == [
            ("items_synthetic", "rare_subject_values:colour", True),
            ("orders_synthetic", "rare_subject_values:kind", True)], counted
        assert all("synthetic parents" in c[4] for c in counted)
        fewest = conn.execute("SELECT min(n) FROM (SELECT count(DISTINCT customer_id) n FROM "
                              "rel_staging.orders_synthetic GROUP BY kind) v").fetchone()[0]
        assert fewest >= 10  # each kind is held by >= rare_min_count synthetic customers


def test_keys_are_fresh_in_every_release(released_project):
    first = _keys(released_project)
    run = released_project.dbt("build")
    assert run.ok, run.output
    second = _keys(released_project)
    for table in first:
        assert not first[table] & second[table], table


def test_a_failing_child_stops_the_whole_release_group(released_project):
    before = _keys(released_project)
    # items now demand k = 1000 on qty: its gate fails
    released_project.write("models/items_synthetic.sql", synthetic(
        "items_contract", "item_id", "['qty', 'price']", ("orders_synthetic", "order_id"),
        ITEMS_GENERATOR, ITEMS_PRIVACY).replace("'k': 5", "'k': 1000"))
    build = released_project.dbt("build")
    assert not build.ok
    # forcing the publish alone (no tests) is refused by the gate for the group
    forced = released_project.dbt("run", "-s", "release")
    assert not forced.ok
    assert "items_synthetic" in forced.output or "items" in forced.output
    assert _keys(released_project) == before  # customers and orders were not republished
    with _share(released_project) as conn:
        versions = {r[0]: r[1] for r in conn.execute(
            "SELECT table_name, max(version) FROM synthdb_share.releases GROUP BY table_name")}
    assert versions == {"customers": 1, "orders": 1, "items": 1}


def test_a_child_whose_parent_is_not_released_with_it_is_refused(related_project):
    related_project.write("models/release.sql", PUBLISH.replace(
        "'orders': 'orders_synthetic', ", ""))
    run = related_project.dbt("build")
    assert not run.ok
    assert "orders_synthetic" in run.output and "does not publish" in run.output
    share = share_of(related_project.settings)
    with psycopg.connect(related_project.settings.conninfo()) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (share.dbname,)).fetchone()
    if exists:  # refused before anything was created; if the database exists it is empty
        with _share(related_project) as conn:
            n = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'rel_recipient'"
                             ).fetchone()[0]
        assert n == 0


def _group_checks(project) -> list[tuple]:
    with psycopg.connect(project.settings.conninfo()) as conn:
        return conn.execute(
            "SELECT metric, value, threshold, passed, details FROM synthdb_audit.group_checks "
            "ORDER BY group_check_id").fetchall()


def _verdicts(project) -> dict[str, bool]:
    """The latest successful run's stored verdict of each synthetic model."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        return dict(conn.execute(
            "SELECT DISTINCT ON (model) model, passed FROM synthdb_audit.verdicts v "
            "JOIN synthdb_audit.runs r USING (run_id, model) WHERE r.outcome = 'success' "
            "ORDER BY model, r.finished_at DESC").fetchall())


def test_the_joined_release_is_gated_on_subjects_across_tables(released_project):
    """Every table alone passes k = 100 (the smallest class, premium customers, has ~210
    rows), but a premium customer's combination with an order's kind and an item's qty is held
    by ~50 synthetic customers: the joined check fails and no table of the group is published,
    not even by a forced `dbt run -s`."""
    passed = _group_checks(released_project)
    # one tree (a chain) customers -> orders -> items, counted in customers, passing at k = 5;
    # then the children's rare values counted in customers
    assert [(m, t, p) for m, _, t, p, _ in passed] == [
        ("min_subjects_per_class:customers>orders>items", 5, True),
        ("rare_root_values:orders.kind", 0, True), ("rare_root_values:items.colour", 0, True)]
    assert passed[0][1] >= 5 and passed[0][4]["subject"] == "customers.customer_id"
    with _share(released_project) as conn:
        meta = conn.execute("SELECT metadata FROM synthdb_share.releases WHERE table_name = "
                            "'items'").fetchone()[0]
    assert meta["release_group"]["checks"][0]["passed"] is True
    before = _keys(released_project)

    for name, source, key, qis, parent, extra, privacy in (
            ("customers", "customers_contract", "customer_id", "['segment']", None, "", ""),
            ("orders", "orders_contract", "order_id", "['kind']",
             ("customers_synthetic", "customer_id"), "", ""),
            ("items", "items_contract", "item_id", "['qty']", ("orders_synthetic", "order_id"),
             ITEMS_GENERATOR, ITEMS_PRIVACY)):
        released_project.write(f"models/{name}_synthetic.sql", synthetic(
            source, key, qis, parent, extra, privacy).replace("'k': 5", "'k': 100"))
    build = released_project.dbt("build")
    assert not build.ok
    verdicts = _verdicts(released_project)
    assert all(verdicts[m] for m in ("customers_synthetic", "orders_synthetic",
                                     "items_synthetic")), verdicts  # each table alone passes
    assert "joined_k_anonymity" in build.output and "release group" in build.output
    for name in ("customers.segment", "orders.kind", "items.qty", "customers -> orders -> items"):
        assert name in build.output, name
    failed = _group_checks(released_project)[-3]
    assert failed[2] == 100 and failed[3] is False and failed[1] < 100
    assert failed[4]["classes_below_k"] > 0

    forced = released_project.dbt("run", "-s", "release")
    assert not forced.ok and "joined_k_anonymity" in forced.output
    assert _keys(released_project) == before  # nothing of the group was republished
    with _share(released_project) as conn:
        versions = dict(conn.execute(
            "SELECT table_name, max(version) FROM synthdb_share.releases GROUP BY table_name"
        ).fetchall())
    assert versions == {"customers": 1, "orders": 1, "items": 1}
    assert len(_group_checks(released_project)) == 9  # the forced attempt was measured too

    # The engineer may own the destination database: a ``<`` of their own, first in their
    # role's search_path there, that says no class is below k. Publish's destination
    # transaction resolves in pg_catalog, so the joined check still counts the real classes.
    share = share_of(released_project.settings)
    with _share(released_project) as conn:
        conn.execute("CREATE SCHEMA hijack")
        for right in ("smallint", "integer", "bigint"):
            conn.execute(f"CREATE FUNCTION hijack.never(bigint, {right}) RETURNS boolean "
                         "LANGUAGE sql IMMUTABLE AS 'SELECT false'")
            conn.execute(f"CREATE OPERATOR hijack.< (LEFTARG = bigint, RIGHTARG = {right}, "
                         "FUNCTION = hijack.never)")
        conn.execute(sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} SET search_path = "
                             "hijack, pg_catalog").format(sql.Identifier(share.dbname)))
        conn.commit()
    try:
        with _share(released_project) as conn:  # the hijack works in a session
            assert conn.execute("SELECT 1::bigint < 100").fetchone()[0] is False
        hijacked = released_project.dbt("run", "-s", "release")
        assert not hijacked.ok and "joined_k_anonymity" in hijacked.output, hijacked.output
        assert _group_checks(released_project)[-3][4]["classes_below_k"] > 0
        assert _keys(released_project) == before
    finally:
        with _share(released_project) as conn:
            conn.execute(sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} RESET search_path")
                         .format(sql.Identifier(share.dbname)))
            conn.execute("DROP SCHEMA hijack CASCADE")
            conn.commit()


def _readable(project) -> dict[str, bool]:
    with _share(project) as conn:
        return {t: conn.execute("SELECT has_table_privilege('rel_recipient_reader', %s, "
                                "'SELECT')", (f"rel_recipient.{t}",)).fetchone()[0]
                for t in ("customers", "orders", "items")}


def test_a_release_group_is_approved_in_one_call_or_not_at_all(related_project):
    from synthdb.errors import GateError
    from synthdb.governance.approvals import approve_group
    from synthdb.governance.releases import ReleaseRef

    related_project.write("models/release.sql", PUBLISH.replace(
        "'recipient': 'rel_recipient',", "'recipient': 'rel_recipient', 'approval_required': True,"))
    assert related_project.dbt("build").ok
    assert _readable(related_project) == {"customers": False, "orders": False, "items": False}
    settings = related_project.settings
    # one member's published rows changed: the whole group is refused, nothing approved
    with _share(related_project) as conn:
        conn.execute("UPDATE rel_recipient.items SET qty = qty + 1 WHERE item_id = "
                     "(SELECT min(item_id) FROM rel_recipient.items)")
    with pytest.raises(GateError, match="items"):
        approve_group(settings, ReleaseRef.parse("rel_recipient/customers/v1"), ticket="CAB-1",
                      by="Pat Officer")
    with psycopg.connect(settings.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM synthdb_audit.approvals").fetchone()[0] == 0
    assert _readable(related_project) == {"customers": False, "orders": False, "items": False}

    assert related_project.dbt("build").ok  # v2 of every table, untouched
    done = approve_group(settings, ReleaseRef.parse("rel_recipient/orders/v2"), ticket="CAB-2",
                         by="Pat Officer")
    assert sorted(done["releases"]) == ["rel_recipient/customers/v2", "rel_recipient/items/v2",
                                        "rel_recipient/orders/v2"]
    assert _readable(related_project) == {"customers": True, "orders": True, "items": True}
    with psycopg.connect(settings.conninfo()) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT ticket) FROM "
                            "synthdb_audit.approvals").fetchone() == (3, 1)


def test_a_child_published_apart_from_its_parent_is_refused_by_its_run(released_project):
    """The child's config loses synth.parent (not rebuilt) and a second publish releases it
    alone: the graph sees no parent, the run that generated the rows does, and refuses."""
    released_project.write("models/orders_synthetic.sql",
                          synthetic("orders_contract", "order_id", "['kind']"))
    released_project.write("models/orders_alone.sql", textwrap.dedent("""
        {{ config(materialized='publish', schema='rel_alone', alias='orders',
                  publish={'from': 'orders_synthetic', 'recipient': 'rel_recipient'}) }}
        -- depends_on: {{ ref('orders_synthetic') }}
        select * from {{ this }}
    """))
    run = released_project.dbt("run", "-s", "orders_alone")
    assert not run.ok
    assert "generated for the synthetic rows of 'customers_synthetic'" in run.output, run.output
    with _share(released_project) as conn:
        assert conn.execute("SELECT to_regclass('rel_alone.orders')").fetchone()[0] is None


def test_a_grandchild_value_counted_in_parents_passes_and_in_customers_stops_the_group(
        released_project):
    """The items declare their order as the subject (``buyer_ref``: an insider's way to let
    the generator count a value in orders, not people) and need 1,600 holders per colour. Each
    colour is held by ~3,000 synthetic orders — the items' own check passes — but by at most
    1,500 synthetic customers: the group's per-root count fails and nothing is published."""
    before = _keys(released_project)
    released_project.write("models/items_contract.sql", (
        "{{ config(materialized='view', schema='rel_contracts') }}\n" + CONTRACTS[
            "items_contract"].replace("select item_id, order_id,",
                                      "select item_id, order_id, order_id AS buyer_ref,")))
    released_project.write("models/items_synthetic.sql", synthetic(
        "items_contract", "item_id", "['qty']", ("orders_synthetic", "order_id"),
        ITEMS_GENERATOR, ITEMS_PRIVACY + ", 'subject': 'buyer_ref', 'rare_min_count': 1600"))
    build = released_project.dbt("build")
    assert not build.ok
    with psycopg.connect(released_project.settings.conninfo()) as conn:
        per_parent = conn.execute("""
            SELECT m.value, m.threshold, m.passed, m.details FROM synthdb_audit.metrics m
            JOIN synthdb_audit.runs r USING (run_id) WHERE r.model = 'items_synthetic'
              AND m.metric = 'rare_subject_values:colour' ORDER BY r.started_at DESC LIMIT 1
        """).fetchone()
        customers = conn.execute(
            "SELECT count(*) FROM rel_staging.customers_synthetic").fetchone()[0]
    assert per_parent[2] is True and per_parent[3]["min_subjects"] == 1600, build.output[-3000:]
    assert _verdicts(released_project)["items_synthetic"] is True
    failed = [r for r in _group_checks(released_project) if r[0] == "rare_root_values:items.colour"]
    assert failed and failed[-1][3] is False and failed[-1][4]["min_subjects"] == 1600
    assert failed[-1][4]["distinct_values"] >= failed[-1][1] > 0  # colours held by too few
    assert failed[-1][4]["min_subjects_per_value"] <= customers < 1600
    assert "joined_rare_categories" in build.output and "items.colour" in build.output
    assert "customers -> orders -> items" in build.output
    forced = released_project.dbt("run", "-s", "release")
    assert not forced.ok and "joined_rare_categories" in forced.output
    assert _keys(released_project) == before
