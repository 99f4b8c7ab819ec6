"""The PII scanner on the demo source finds every planted identifier, and finds none in the
policy-transformed contract (issue 5)."""

from __future__ import annotations

import psycopg

from synthdb.contract.scan import PiiScanner
from synthdb.demo.source import load_demo_source

CONTRACT_SQL = """
CREATE SCHEMA contracts;
CREATE VIEW contracts.demo AS
SELECT gen_random_uuid() AS customer_ref,
       (extract(year from age(date '2026-01-01', c.birth_date))::int / 10 * 10)::text
         || '-' || (extract(year from age(date '2026-01-01', c.birth_date))::int / 10 * 10 + 9)
         AS age_band,
       c.region, c.gender,
       least(c.annual_income, 250000) AS annual_income,
       t.product_category,
       date_trunc('month', t.event_at)::date AS event_month,
       t.amount, t.channel
FROM prod.transactions t JOIN prod.customers c USING (customer_id)
"""


def test_scan_finds_demo_pii_and_nothing_in_the_contract(fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        load_demo_source(conn, customers=3_000, seed=3)
        conn.execute(CONTRACT_SQL)
        conn.commit()
        source = {f.column: f for f in PiiScanner().scan(conn, "prod")}
        contract = {f.column: f for f in PiiScanner().scan(conn, "contracts")}
    for column, kind in [("full_name", "person_name"), ("email", "email"), ("phone", "phone"),
                         ("birth_date", "birth_date")]:
        assert source[column].kind == kind and source[column].klass == "direct_identifier" \
            or (column == "birth_date" and source[column].klass == "quasi_identifier"), column
    assert source["customer_id"].klass == "direct_identifier"
    assert {c for c, f in contract.items() if f.klass == "direct_identifier"} == set()
    value_based = [f for f in contract.values() if any("sampled" in e for e in f.evidence)]
    assert value_based == []
