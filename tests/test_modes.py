"""The three release modes through real dbt (issue 6): mock reads only the schema (a trap view
that raises on any row read proves it), deidentify releases policy-transformed rows through the
same gate and evidence, synthesize on the trap fails loudly."""

from __future__ import annotations

import json
import textwrap
from collections import Counter

import psycopg
import pytest
from dbtproject import make_project, plain_sources, share_of

SOURCES = plain_sources("src", "people")

CONTRACT = textwrap.dedent("""
    {{ config(materialized='view', schema='mode_contracts') }}
    select age_band, region, score, joined_month from {{ source('src', 'people') }}
    {% if var('trap', false) %} where src.trap() {% endif %}
""")


def synthetic_model(mode: str, rows: int | None = None) -> str:
    return textwrap.dedent(f"""
        {{{{ config(materialized='synthetic', schema='mode_staging',
                  synth={{'source': 'people_contract', 'mode': '{mode}', 'seed': 5,
                         'rows': {rows if rows else 'none'}, 'validate_contract': False,
                         'privacy': {{'quasi_identifiers': ['age_band', 'region'], 'k': 5}}}}) }}}}
        -- depends_on: {{{{ ref('people_contract') }}}}
        select * from {{{{ this }}}}
    """)


PUBLISH = textwrap.dedent("""
    {{ config(materialized='publish', schema='mode_recipient', alias='people',
              publish={'from': 'people_synthetic', 'recipient': 'mode_recipient'}) }}
    -- depends_on: {{ ref('people_synthetic') }}
    select * from {{ this }}
""")


@pytest.fixture()
def mode_project(tmp_path, fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("SELECT setseed(0.42)")  # fixed data: the gate is not a coin toss
        conn.execute("""CREATE TABLE src.people AS
            SELECT (ARRAY['20-29','30-39','40-49','50-59'])[1 + i % 4] AS age_band,
                   (ARRAY['north','south','east'])[1 + (i / 4) % 3] AS region,
                   round((random() * 100)::numeric, 2) AS score,
                   date_trunc('month', date '2024-01-01' + (random() * 600)::int)::date
                     AS joined_month
            FROM generate_series(1, 3000) i""")
        conn.execute("""CREATE FUNCTION src.trap() RETURNS boolean LANGUAGE plpgsql VOLATILE
            AS $$ BEGIN RAISE EXCEPTION 'trap: a source row was read'; END $$""")
        conn.commit()
    project = make_project(tmp_path / "modes", fresh_db, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    project.write("models/people_contract.sql", CONTRACT)
    return project


def test_mock_mode_reads_no_source_row(mode_project):
    mode_project.write("models/people_synthetic.sql", synthetic_model("mock", rows=500))
    run = mode_project.dbt("run", "--vars", "{trap: true}")
    assert run.ok, run.output
    assert "trap" not in run.output.split("people_synthetic", 1)[1].lower() or \
        "a source row was read" not in run.output
    with psycopg.connect(mode_project.settings.conninfo()) as conn:
        n = conn.execute("SELECT count(*) FROM mode_staging.people_synthetic").fetchone()[0]
        meta = json.loads(conn.execute(
            "SELECT obj_description('mode_staging.people_synthetic'::regclass)").fetchone()[0])
        read = conn.execute(
            "SELECT value FROM synthdb_audit.metrics WHERE run_id = %s "
            "AND metric = 'source_rows_read'", (meta["synthdb_run_id"],)).fetchone()
    assert 0 < n <= 500 and meta["method"] == "mock" and read == (0.0,)


def test_synthesize_mode_on_the_trap_fails_and_names_the_model(mode_project):
    mode_project.write("models/people_synthetic.sql", synthetic_model("synthesize"))
    run = mode_project.dbt("run", "--vars", "{trap: true}")
    assert not run.ok
    assert "model people_synthetic" in run.output and "a source row was read" in run.output


def test_deidentify_mode_goes_through_gate_and_evidence(mode_project):
    mode_project.write("models/people_synthetic.sql", synthetic_model("deidentify"))
    mode_project.write("models/people_release.sql", PUBLISH)
    run = mode_project.dbt("run")
    assert run.ok, run.output
    # the release lands in the destination database (<db>_share), not next to the source
    with psycopg.connect(share_of(mode_project.settings).conninfo()) as share:
        published = Counter(share.execute("SELECT * FROM mode_recipient.people").fetchall())
        meta = json.loads(share.execute(
            "SELECT obj_description('mode_recipient.people'::regclass)").fetchone()[0])
    with psycopg.connect(mode_project.settings.conninfo()) as conn:
        source = Counter(conn.execute("SELECT * FROM src.people").fetchall())
        extra = sum((published - source).values())
        released = sum(published.values())
        checks = {r[0] for r in conn.execute(
            "SELECT check_name FROM synthdb_audit.metrics WHERE run_id = %s",
            (meta["run_id"],))}
    assert extra == 0 and 2900 <= released <= 3000
    assert meta["method"] == "deidentify" and meta["synthetic"] is False
    assert {"k_anonymity", "rare_categories", "no_leakage"} <= checks
