"""The PII scanner finds planted personal data in a real table and stays quiet on a
policy-transformed one; its output never contains a sampled value."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import psycopg
import pytest
import yaml
from faker import Faker

from synthdb import db
from synthdb.contract import pii
from synthdb.contract.scan import PiiScanner, classify_column, findings_to_yaml, format_findings


def test_checksums() -> None:
    assert pii.luhn_valid("4111111111111111") and not pii.luhn_valid("4111111111111112")
    assert pii.iban_valid("DE89 3704 0044 0532 0130 00")
    assert not pii.iban_valid("DE88 3704 0044 0532 0130 00")  # one digit off: mod 97 fails
    assert pii.is_card("4111-1111-1111-1111") and not pii.is_card("1111111111111117")
    assert not pii.is_phone("1500-1600")  # a bucket label, not a phone
    assert pii.find_in_text("write to ann@example.com please") == {"email"}


def test_name_only_evidence_for_identifier_columns() -> None:
    finding = classify_column("s.t", "customer_id", "integer", [1, 2, 3])
    assert (finding.klass, finding.policy) == ("direct_identifier", "mask")
    other = classify_column("s.t", "amount", "numeric", [1.5, 2.0])
    assert other.klass == "other" and other.kind is None


@pytest.fixture()
def planted(fresh_db: db.ConnectionSettings) -> db.ConnectionSettings:
    fake = Faker("en_US")
    Faker.seed(7)
    rows = []
    for i in range(80):
        rows.append(
            (
                i,
                fake.email(),
                fake.phone_number(),
                fake.name(),
                fake.credit_card_number(),
                fake.iban(),
                fake.ipv4() if i % 2 else fake.ipv6(),
                fake.date_of_birth(minimum_age=18, maximum_age=90),
                fake.street_address(),
                fake.ssn(),
                f"Customer asked to call back on {fake.phone_number()} about the order",
                round(fake.pyfloat(min_value=1, max_value=500), 2),
                fake.random_element(["new", "open", "closed"]),
                date(2024, 1, 1) + timedelta(days=i % 40),
            )
        )
    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA raw; CREATE TABLE raw.people (id int, contact text, reach text,"
            " holder text, payment text, acct text, seen_from text, d1 date, line1 text,"
            " ref text, notes text, amount numeric, status text, created date)"
        )
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO raw.people VALUES ({', '.join(['%s'] * 14)})", rows)
        # what the policy macros make of such data
        conn.execute(
            """
            CREATE TABLE raw.released AS
            SELECT gen_random_uuid() AS token,
                   (20 + (g % 7) * 10)::text || '-' || (29 + (g % 7) * 10)::text AS age_band,
                   (array['North', 'South', 'East', 'West'])[1 + g % 4] AS region,
                   lpad((g % 900 + 100)::text, 3, '0') || '**' AS zip3,
                   (floor(g * 7.3 / 100) * 100)::text || '-'
                       || (floor(g * 7.3 / 100) * 100 + 100)::text AS amount_bucket,
                   date_trunc('month', date '2024-01-01' + g)::date AS txn_month,
                   CASE WHEN g % 5 = 0 THEN 'Other' ELSE 'groceries' END AS category,
                   (g % 3)::numeric * 1.25 AS score
              FROM generate_series(1, 150) AS g
            """
        )
    return fresh_db


def test_scanner_finds_planted_pii(planted: db.ConnectionSettings) -> None:
    with db.connect(planted) as conn:
        findings = {f.column: f for f in PiiScanner(sample_size=60).scan(conn, "raw.people")}
    expected = {
        "contact": "email",
        "reach": "phone",
        "holder": "person_name",
        "payment": "payment_card",
        "acct": "iban",
        "seen_from": "ip_address",
        "d1": "birth_date",
        "line1": "street_address",
        "ref": "national_id",
        "notes": "free_text_pii",
    }
    for column, kind in expected.items():
        assert findings[column].kind == kind, (column, findings[column])
        assert findings[column].klass in {"direct_identifier", "quasi_identifier"}
    assert findings["d1"].klass == "quasi_identifier"
    assert findings["contact"].confidence > 0.9
    for column in ("amount", "status", "created"):
        assert findings[column].klass == "other", findings[column]
    assert findings["id"].klass == "direct_identifier"  # a record key, by name


def test_scanner_no_false_positive_on_transformed_table(planted: db.ConnectionSettings) -> None:
    with db.connect(planted) as conn:
        findings = PiiScanner().scan(conn, "raw.released")
    assert len(findings) == 8
    flagged = {f.column: f for f in findings if f.klass == "direct_identifier" or f.kind}
    # only the generalised quasi-identifier names are recognised, by name, and nothing by value
    assert set(flagged) == {"age_band", "region"}, flagged
    assert all(f.kind == "quasi" and f.klass == "quasi_identifier" for f in flagged.values())
    assert not any(f.evidence and "sampled" in " ".join(f.evidence) for f in findings)


def test_cli_and_yaml_never_show_values(planted: db.ConnectionSettings, tmp_path) -> None:
    out = tmp_path / "suggested.yml"
    env = {
        "SYNTHDB_HOST": planted.host,
        "SYNTHDB_PORT": str(planted.port),
        "SYNTHDB_USER": planted.user,
        "SYNTHDB_DBNAME": planted.dbname,
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "synthdb.cli", "scan", "raw", "--yaml", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(planted.conninfo()) as conn:
        secrets = [
            str(v)
            for row in conn.execute(
                "SELECT contact, holder, payment, acct, ref, line1, d1 FROM raw.people"
            )
            for v in row
        ]
    text = result.stdout + out.read_text()
    assert "raw.people.contact" in result.stdout and "email" in result.stdout
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{len(leaked)} sampled values appear in the output"
    doc = yaml.safe_load(out.read_text())
    tables = {t["name"]: t for t in doc["sources"][0]["tables"]}
    contact = next(c for c in tables["people"]["columns"] if c["name"] == "contact")
    assert contact["meta"]["synthdb"]["class"] == "direct_identifier"
    assert contact["meta"]["synthdb"]["policy"] == "drop"
    assert set(tables) == {"people", "released"}


def test_scan_bad_target(fresh_db: db.ConnectionSettings) -> None:
    from synthdb.errors import ConfigError

    with db.connect(fresh_db) as conn, pytest.raises(ConfigError, match="nothing_here"):
        PiiScanner().scan(conn, "nothing_here")
    assert "conf" in format_findings([]) and findings_to_yaml([]).startswith("version: 2")
