"""No released key equals a source key, including the keys a sampled run never read.

The run reads a sample of a large input (``max_train_rows``), and only the keys it read were
avoided before: a fresh integer key could still equal a real id it did not read, and that row
would look like the real customer's to the recipient (1M fresh keys among 1M real ids below
2^31: hundreds). Fresh integer keys now come from a reserved range (the upper half of the
type's positive values) and the few real keys inside it are collected by the read's own pass
over the whole input, then avoided (synthdb.release.reserved_keys).

The attack uses smallint keys, where a small source fills the key space: 12,000 real ids below
the reserved range and 200 inside it, of which the customers' run reads about one in ten (the
orders' about half). 3,000 fresh keys drawn from all of [1, 2^15) (the old draw) hit a real id
about a thousand times; drawn from the reserved range without avoiding its 200 real keys,
about 37 times.
"""

from __future__ import annotations

import textwrap

import psycopg
from dbtproject import DbtProject, make_project, plain_sources, share_of

#: real ids inside smallint's reserved range [2^14, 2^15): 200 here, and the crowding test adds
#: more than CROWDED allows (16383 // 64 = 255)
RESERVED_IDS = "16384 + 80 * j"

CONTRACTS = {
    "customers_contract": "select customer_id, segment, region from {{ source('src', 'customers') }}",
    "orders_contract": "select order_id, customer_id, kind, amount from {{ source('src', 'orders') }}",
}


def synthetic(source: str, key: str, qis: str, extra: str = "", train: int = 1000) -> str:
    return textwrap.dedent(f"""
        {{{{ config(materialized='synthetic', schema='unread_staging',
                  synth={{'source': '{source}', 'seed': 7, 'key': '{key}',
                         'max_train_rows': {train}, 'validate_contract': False{extra},
                         'privacy': {{'quasi_identifiers': {qis}, 'k': 5}}}}) }}}}
        -- depends_on: {{{{ ref('{source}') }}}}""")


PUBLISH = textwrap.dedent("""
    {{ config(materialized='publish', schema='unread_recipient', alias='customers',
              publish={'from': 'customers_synthetic', 'recipient': 'unread_recipient',
                       'related': {'orders': 'orders_synthetic'}}) }}
    -- depends_on: {{ ref('customers_synthetic') }} {{ ref('orders_synthetic') }}
    select * from {{ this }}
""")


# orders: two columns; with 1,000 training rows (275 held out) the DCR share wandered past
# 0.55 by chance (0.56, once in eight builds): more rows (still a sample: about 45 % of the
# input) and the copula keep the gate quiet; the keys are what this module tests
ORDERS_GENERATOR = ", 'generator': {'method': 'gaussian_copula'}"
ORDERS_TRAIN = 4000


def _source_and_project(path, settings) -> DbtProject:
    with psycopg.connect(settings.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("SELECT setseed(0.3)")
        conn.execute(f"""CREATE TABLE src.customers AS
            SELECT id::smallint AS customer_id,
                   (ARRAY['basic','plus','premium'])[1 + (id % 7) / 3] AS segment,
                   (ARRAY['north','south','east','west'])[1 + id % 4] AS region
            FROM (SELECT generate_series(1, 12000) AS id
                  UNION ALL SELECT {RESERVED_IDS} FROM generate_series(0, 199) j) ids""")
        # one order per customer, its id the customer's (so it fills the key space as well)
        conn.execute("""CREATE TABLE src.orders AS
            SELECT customer_id AS order_id, customer_id,
                   CASE WHEN segment = 'premium' AND random() < 0.9 THEN 'x'
                        WHEN random() < 0.3 THEN 'x' ELSE 'y' END AS kind,
                   round((10 + random() * 5000)::numeric, 4) AS amount
            FROM src.customers""")
        conn.commit()
    project = make_project(path, settings, with_demo_models=False)
    project.write("models/sources.yml", plain_sources("src", "customers", "orders"))
    for name, body in CONTRACTS.items():
        project.write(f"models/{name}.sql",
                      "{{ config(materialized='view', schema='unread_contracts') }}\n" + body)
    project.write("models/customers_synthetic.sql",
                  synthetic("customers_contract", "customer_id", "['segment']", ", 'rows': 3000")
                  + "\nselect * from {{ this }}\n")
    project.write("models/orders_synthetic.sql",
                  synthetic("orders_contract", "order_id", "['kind']",
                            ", 'parent': {'model': 'customers_synthetic', 'key': 'customer_id'}"
                            + ORDERS_GENERATOR, ORDERS_TRAIN)
                  + "\n-- depends_on: {{ ref('customers_synthetic') }}\nselect * from {{ this }}\n")
    project.write("models/release.sql", PUBLISH)
    return project


# the project built once for the module (conftest.first_release / released_project)
FIRST_BUILD = ("fresh_keys_unread", _source_and_project)

TABLES = (("customers", "customer_id"), ("orders", "order_id"))


def _released(project) -> dict[str, list[int]]:
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        return {t: [r[0] for r in conn.execute(f"SELECT {k} FROM unread_recipient.{t}")]
                for t, k in TABLES}


def test_no_released_key_equals_a_source_key_the_run_did_not_read(released_project):
    released = _released(released_project)
    with psycopg.connect(released_project.settings.conninfo()) as conn:
        for table, key in TABLES:
            keys = released[table]
            assert len(keys) == len(set(keys)) >= 2500, table
            equal = conn.execute(
                f"SELECT count(*) FROM unnest(%s::smallint[]) AS r(k) "
                f"WHERE EXISTS (SELECT 1 FROM src.{table} s WHERE s.{key} = r.k)",
                (keys,)).fetchone()[0]
            assert equal == 0, (table, equal)
            # fresh keys come from smallint's reserved range, where 200 real ids lie
            assert min(keys) >= 2**14, table
        # the runs read a sample: most of the real ids, in the reserved range too, never
        # reached their training rows
        read = conn.execute("SELECT model, train_rows + holdout_rows FROM synthdb_audit.runs "
                            "WHERE outcome = 'success' ORDER BY model").fetchall()
    assert [m for m, _ in read] == ["customers_synthetic", "orders_synthetic"], read
    assert read[0][1] <= 1500 and read[1][1] <= 6000, read


def test_a_source_crowding_the_reserved_range_is_refused_and_nothing_is_published(
        released_project):
    before = _released(released_project)
    settings = released_project.settings
    with psycopg.connect(settings.conninfo()) as conn:
        staged = sorted(r[0] for r in conn.execute(
            "SELECT customer_id FROM unread_staging.customers_synthetic"))
        # 200 more real ids in the reserved range: 400 > 255 = 1/64 of it
        conn.execute(f"""INSERT INTO src.customers
            SELECT ({RESERVED_IDS} + 40)::smallint, 'basic', 'north'
            FROM generate_series(0, 199) j""")
    build = released_project.dbt("build")
    assert not build.ok
    assert "customers_synthetic" in build.output and "'customer_id'" in build.output
    assert "uuid or bigint" in build.output, build.output
    # no real key is printed
    assert "16424" not in build.output and "16384" not in build.output.replace("[16384, ", "")
    assert _released(released_project) == before
    with psycopg.connect(settings.conninfo()) as conn:
        assert sorted(r[0] for r in conn.execute(
            "SELECT customer_id FROM unread_staging.customers_synthetic")) == staged
