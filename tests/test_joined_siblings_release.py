"""The joined release's gate over sibling tables, through real dbt (issue 14).

customers -> orders and customers -> addresses, released together. A customer is identified by
the combination across both branches — an order of kind 'z' *and* a PO box — which no
root-to-leaf chain holds. Each table passes k = 100 alone, each chain passes k = 100, the
sibling combination does not: nothing of the group is published, not even by a forced
``dbt run -s``. A second publish node releasing the same customers with the addresses only
(same runs, so the same keys) is refused: its join with the first group's orders was never
gated.

Both tests start from the group's first release: the module builds it once and each test gets
it back from a snapshot of the databases (dbtproject.first_build).
"""

from __future__ import annotations

import textwrap

import psycopg
from dbtproject import DbtProject, make_project, share_of
from test_related_release import ITEMS_GENERATOR, ITEMS_PRIVACY, synthetic

SOURCES = textwrap.dedent("""
    version: 2
    sources:
      - name: src
        schema: src
        tables: [{name: customers}, {name: orders}, {name: addresses}]
""")

CONTRACTS = {
    "customers_contract": "select customer_id, segment, region from {{ source('src', 'customers') }}",
    "orders_contract": (
        "select order_id, customer_id, kind, amount, ordered_at from {{ source('src', 'orders') }}"
    ),
    "addresses_contract": (
        "select address_id, customer_id, type, lat, lon from {{ source('src', 'addresses') }}"
    ),
}

PUBLISH = textwrap.dedent("""
    {{ config(materialized='publish', schema='sib_recipient', alias='customers',
              publish={'from': 'customers_synthetic', 'recipient': 'sib_recipient',
                       'related': %s}) }}
    -- depends_on: {{ ref('customers_synthetic') }} {{ ref('orders_synthetic') }}
    -- depends_on: {{ ref('addresses_synthetic') }}
    select * from {{ this }}
""")
BOTH = "{'orders': 'orders_synthetic', 'addresses': 'addresses_synthetic'}"


def _models(project, k: int) -> None:
    privacy = (("customers", "customers_contract", "customer_id", "['segment']", None, "", ""),
               ("orders", "orders_contract", "order_id", "['kind']",
                ("customers_synthetic", "customer_id"), "", ""),
               ("addresses", "addresses_contract", "address_id", "['type']",
                ("customers_synthetic", "customer_id"), ITEMS_GENERATOR, ITEMS_PRIVACY))
    for name, source, key, qis, parent, extra, more in privacy:
        project.write(f"models/{name}_synthetic.sql", synthetic(
            source, key, qis, parent, extra, more).replace("'k': 5", f"'k': {k}"))


def _source_and_project(path, settings) -> DbtProject:
    """1,500 customers in three segments; two orders each, one of kind 'z' for ~35% of them;
    one address each, a PO box for ~35%, independently: ~61 customers per segment hold both,
    ~175 hold each alone."""
    with psycopg.connect(settings.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("SELECT setseed(0.37)")
        conn.execute("""CREATE TABLE src.customers AS
            SELECT 1000 + i AS customer_id,
                   (ARRAY['basic','plus','premium'])[1 + i % 3] AS segment,
                   (ARRAY['north','south','east','west'])[1 + (i / 3) % 4] AS region
            FROM generate_series(1, 1500) i""")
        conn.execute("""CREATE TABLE src.orders AS
            SELECT row_number() OVER () + 500000 AS order_id, c.customer_id,
                   CASE WHEN random() < 0.19 THEN 'z' ELSE 'y' END AS kind,
                   round((10 + random() * 90)::numeric, 2) AS amount,
                   timestamp '2024-01-01' + (c.customer_id % 200) * interval '1 day'
                     + n * interval '3 days' + (random() * 10) * interval '1 hour' AS ordered_at
            FROM src.customers c, generate_series(1, 2) n""")
        conn.execute("""CREATE TABLE src.addresses AS
            SELECT 700000 + c.customer_id AS address_id, c.customer_id,
                   CASE WHEN random() < 0.35 THEN 'po_box' ELSE 'street' END AS type,
                   round((50 + random() * 5)::numeric, 5) AS lat,
                   round((random() * 10)::numeric, 5) AS lon
            FROM src.customers c""")
        conn.commit()
    project = make_project(path, settings, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    for name, body in CONTRACTS.items():
        project.write(f"models/{name}.sql",
                      "{{ config(materialized='view', schema='sib_contracts') }}\n" + body)
    _models(project, 5)
    project.write("models/release.sql", PUBLISH % BOTH)
    return project


# the project built once for the module (conftest.first_release / released_project)
FIRST_BUILD = ("siblings_release", _source_and_project)


def _share(project):
    return psycopg.connect(share_of(project.settings).conninfo())


def _keys(project) -> dict[str, set]:
    with _share(project) as conn:
        return {t: {r[0] for r in conn.execute(f"SELECT {k} FROM sib_recipient.{t}")}
                for t, k in (("customers", "customer_id"), ("orders", "order_id"),
                             ("addresses", "address_id"))}


def _group_checks(project) -> list[tuple]:
    with psycopg.connect(project.settings.conninfo()) as conn:
        return conn.execute(
            "SELECT check_name, metric, value, threshold, passed, details "
            "FROM synthdb_audit.group_checks ORDER BY group_check_id").fetchall()


def _versions(project) -> dict[str, int]:
    with _share(project) as conn:
        return dict(conn.execute(
            "SELECT table_name, max(version) FROM synthdb_share.releases GROUP BY table_name"
        ).fetchall())


def test_a_sibling_combination_below_k_stops_the_group(released_project):
    passed = _group_checks(released_project)
    tree = [r for r in passed if r[0] == "joined_k_anonymity"]
    assert [(r[1], r[3], r[4]) for r in tree] == [
        ("min_subjects_per_class:customers>(orders, addresses)", 5, True)]
    assert tree[0][5]["quasi_identifiers"] == {"customers": ["segment"], "orders": ["kind"],
                                               "addresses": ["type"]}
    # rare values of each child counted in distinct customers, stored with the tree's row
    assert {r[1] for r in passed if r[0] == "joined_rare_categories"} == {
        "rare_root_values:orders.kind", "rare_root_values:addresses.type"}
    with _share(released_project) as conn:
        meta = conn.execute("SELECT metadata FROM synthdb_share.releases WHERE table_name = "
                            "'addresses'").fetchone()[0]
    assert {c["metric"] for c in meta["release_group"]["checks"]} >= {
        "min_subjects_per_class:customers>(orders, addresses)"}
    # each table's QA report in the release folder shows the group's checks
    report = list(released_project.path.glob(
        "evidence/*/sib_recipient/addresses/v1/qa_report.html"))
    assert len(report) == 1
    page = report[0].read_text()
    assert 'id="joined-release"' in page and "customers, orders, addresses" in page
    assert "min_subjects_per_class:customers&gt;(orders, addresses)" in page
    before = _keys(released_project)

    _models(released_project, 100)
    build = released_project.dbt("build")
    assert not build.ok
    with psycopg.connect(released_project.settings.conninfo()) as conn:
        verdicts = dict(conn.execute(
            "SELECT DISTINCT ON (model) model, passed FROM synthdb_audit.verdicts v "
            "JOIN synthdb_audit.runs r USING (run_id, model) WHERE r.outcome = 'success' "
            "ORDER BY model, r.finished_at DESC").fetchall())
    assert all(verdicts[f"{t}_synthetic"] for t in ("customers", "orders", "addresses")), verdicts
    failed = _group_checks(released_project)[-3]  # tree row, then the two rare rows
    assert failed[1] == "min_subjects_per_class:customers>(orders, addresses)"
    assert failed[3] == 100 and failed[4] is False and failed[2] < 100
    # every chain alone holds k = 100: only the sibling combination fails
    chains = failed[5]["chains"]
    assert set(chains) == {"customers>orders", "customers>addresses"}
    assert min(chains.values()) >= 100, chains
    for name in ("joined_k_anonymity", "release group", "customers.segment", "orders.kind",
                 "addresses.type", "customers -> (orders, addresses)"):
        assert name in build.output, name

    forced = released_project.dbt("run", "-s", "release")
    assert not forced.ok and "joined_k_anonymity" in forced.output
    assert _keys(released_project) == before  # nothing of the group was republished
    assert _versions(released_project) == {"customers": 1, "orders": 1, "addresses": 1}


def test_the_same_runs_in_another_group_are_refused(released_project):
    """Publish customers with orders and addresses; then a second publish node releases the
    same customer run with its addresses only, elsewhere: refused (its rows share keys with
    the first group's orders), nothing created."""
    released_project.write("models/release_b.sql", (PUBLISH % (
        "{'addresses': 'addresses_synthetic'}")).replace("'sib_recipient', alias", "'sib_b', alias"))
    other = released_project.dbt("run", "-s", "release_b")
    assert not other.ok
    assert "published before in a group together with sib_recipient.orders" in other.output
    with _share(released_project) as conn:
        assert conn.execute("SELECT to_regclass('sib_b.customers')").fetchone()[0] is None
    # the same group again (a forced run of the same publish node) is allowed
    again = released_project.dbt("run", "-s", "release")
    assert again.ok, again.output
    assert _versions(released_project) == {"customers": 2, "orders": 2, "addresses": 2}
