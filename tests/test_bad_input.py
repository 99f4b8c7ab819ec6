"""Bad input gets a clear error and loses nothing (issue 2): empty input, all-NULL columns,
hostile identifiers, a generator that dies mid-way. Real dbt, real PostgreSQL."""

from __future__ import annotations

import textwrap

import psycopg
import pytest
from dbtproject import make_project
from psycopg import sql

HOSTILE_SCHEMA = 'raw "src"'
HOSTILE_TABLE = "odd \"t\"; drop table x; --"
HOSTILE_COLUMN = "cat; 'x\" y"

SOURCES = textwrap.dedent("""
    version: 2
    sources:
      - name: raw
        schema: 'raw "src"'
        quoting: {schema: true, identifier: true}
        tables:
          - name: odd
            identifier: 'odd "t"; drop table x; --'
""")

CONTRACT = textwrap.dedent("""
    {{ config(materialized='view', schema='odd_contracts') }}
    select {{ synthdb.mask_uuid('id') }} as ref,
           {{ adapter.quote("cat; 'x\\" y") }} as {{ adapter.quote("cat; 'x\\" y") }},
           amount, nothing, happened_on
    from {{ source('raw', 'odd') }}
""")

SYNTHETIC = textwrap.dedent("""
    {{ config(materialized='synthetic', schema='odd staging',
              synth={'source': 'odd_contract', 'seed': 3, 'chunk_size': 500,
                     'validate_contract': False,
                     'columns': {'ref': {'method': 'mock'}},
                     'privacy': {'quasi_identifiers': ["cat; 'x\\" y"], 'k': 5}}) }}
    -- depends_on: {{ ref('odd_contract') }}
    select * from {{ this }}
""")

TESTS = textwrap.dedent("""
    version: 2
    models:
      - name: odd_synthetic
        data_tests:
          - synthdb.k_anonymity:
              arguments:
                quasi_identifiers: ["cat; 'x\\" y"]
                k: 5
          - synthdb.no_leakage
""")


@pytest.fixture()
def odd_project(tmp_path, fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(HOSTILE_SCHEMA)))
        table = sql.SQL("{}.{}").format(sql.Identifier(HOSTILE_SCHEMA),
                                        sql.Identifier(HOSTILE_TABLE))
        conn.execute(sql.SQL("CREATE TABLE {} (id uuid, {} text, amount double precision, "
                             "nothing integer, happened_on date)").format(
            table, sql.Identifier(HOSTILE_COLUMN)))
        conn.execute("SELECT setseed(0.42)")  # fixed data: the leakage checks are not a coin toss
        conn.execute(sql.SQL(
            "INSERT INTO {} SELECT gen_random_uuid(), (ARRAY['a','b','c'])[1 + i % 3], "
            "random() * 500 + i % 7, NULL, date '2024-01-01' + (random() * 300)::int "
            "FROM generate_series(1, 3000) i").format(table))
        conn.commit()
    project = make_project(tmp_path / "odd", fresh_db, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    project.write("models/odd_contract.sql", CONTRACT)
    project.write("models/odd_synthetic.sql", SYNTHETIC)
    project.write("models/schema.yml", TESTS)
    project.table = table
    return project


def _staging_digest(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        digest = conn.execute(
            'SELECT count(*), md5(string_agg(t::text, \'|\' ORDER BY t::text)) '
            'FROM "odd staging".odd_synthetic t').fetchone()
        stray = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_\\_synthdb\\_tmp\\_%'"
        ).fetchone()[0]
    return digest, stray


def test_hostile_names_and_all_null_column_work(odd_project):
    run = odd_project.dbt("build")
    assert run.ok, run.output
    with psycopg.connect(odd_project.settings.conninfo()) as conn:
        row = conn.execute(sql.SQL(
            'SELECT count(*), count(nothing), count(DISTINCT {}) FROM "odd staging".odd_synthetic'
        ).format(sql.Identifier(HOSTILE_COLUMN))).fetchone()
    assert row[0] > 2800 and row[1] == 0 and row[2] == 3


def test_empty_input_fails_clearly_and_keeps_previous_table(odd_project):
    assert odd_project.dbt("build").ok
    before = _staging_digest(odd_project)
    with psycopg.connect(odd_project.settings.conninfo()) as conn:
        conn.execute(sql.SQL("DELETE FROM {}").format(odd_project.table))
        conn.commit()
    run = odd_project.dbt("run", "-s", "odd_synthetic")
    assert not run.ok
    assert "model odd_synthetic" in run.output and "has no rows" in run.output
    assert "Traceback" not in run.output
    assert _staging_digest(odd_project) == before
    assert before[1] == 0


def test_generator_failure_midway_leaves_previous_table_and_no_debris(odd_project, tmp_path):
    assert odd_project.dbt("build").ok
    before = _staging_digest(odd_project)
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(textwrap.dedent("""
        # Fault injection for one test: sampling dies after two chunks were written (the
        # chunks come from synthdb.release.parallel, in worker processes or in this one).
        from synthdb.release import parallel

        _real = parallel.sample_chunks

        def _failing(*args, **kwargs):
            for i, chunk in enumerate(_real(*args, **kwargs)):
                if i == 2:
                    raise RuntimeError("injected generator failure")
                yield chunk

        parallel.sample_chunks = _failing
    """))
    run = odd_project.dbt("run", "-s", "odd_synthetic", env={"PYTHONPATH": str(inject)})
    assert not run.ok
    assert "injected generator failure" in run.output
    assert _staging_digest(odd_project) == before
    with psycopg.connect(odd_project.settings.conninfo()) as conn:
        outcome = conn.execute("SELECT outcome, message FROM synthdb_audit.runs "
                               "ORDER BY started_at DESC LIMIT 1").fetchone()
    assert outcome[0] == "error" and "injected" in outcome[1]


def test_bad_config_names_model_and_setting(odd_project):
    odd_project.write("models/odd_synthetic.sql", SYNTHETIC.replace("'k': 5", "'k': 'ten'"))
    run = odd_project.dbt("run", "-s", "odd_synthetic")
    assert not run.ok
    assert "model odd_synthetic" in run.output and "privacy.k" in run.output
    assert "Traceback" not in run.output
