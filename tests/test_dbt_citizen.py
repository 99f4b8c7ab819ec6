"""dbt's own configs on synthdb models, progress lines, and evidence per database (issue 11).

One small project on a real database, built with real `dbt build`: a contract view, a synthetic
model with the three synthdb tests, and a publish model with `grants`, an enforced contract
(with a not_null constraint), `persist_docs`, `tags`, `meta` and a description. The tests run in
file order; the ones that break the project restore it before they end.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from dbtproject import (
    create_people_source,
    make_project,
    plain_sources,
    scratch_database,
    share_of,
)

SOURCES = plain_sources("czsrc", "people")
CONTRACT = """{{ config(materialized='view', schema='cz_contracts') }}
select id::text as ref, region, band, amount, joined from {{ source('czsrc', 'people') }}
"""
SYNTHETIC = """{{ config(materialized='synthetic', schema='cz_staging', tags=['cz_release'],
    persist_docs={'columns': true},
    synth={'source': 'cz_contract', 'seed': 5, 'validate_contract': false, 'chunk_size': 1000,
           'columns': {'ref': {'method': 'mock'}},
           'privacy': {'quasi_identifiers': ['region', 'band'], 'k': var('cz_k', 5)}}) }}
-- depends_on: {{ ref('cz_contract') }}
select * from {{ this }}
"""
PUBLISH = """{{ config(materialized='publish', schema='cz_acme', alias='people',
    tags=['cz_release'], grants={'select': ['cz_bi']},
    persist_docs={'relation': true, 'columns': true},
    publish={'from': 'cz_synthetic', 'recipient': 'cz_acme', 'purpose': 'testing',
             'retention': 'P30D'}) }}
-- depends_on: {{ ref('cz_synthetic') }}
select * from {{ this }}
"""
SCHEMA = """
version: 2
models:
  - name: cz_synthetic
    columns:
      - {name: region, description: "Sales region"}
    data_tests:
      - synthdb.k_anonymity: {arguments: {quasi_identifiers: [region, band], k: 5}}
      - synthdb.rare_categories:
          arguments: {columns: [region, band], min_count: 10}
          config: {store_failures: true}
      - synthdb.no_leakage
  - name: cz_release
    description: "People, synthetic, for acme"
    meta: {owner_team: data-platform}
    docs: {show: true, node_color: "#880000"}
    config:
      contract: {enforced: true}
    # Tests on the published table fail by design (thresholds no table can meet, and no
    # stored verdict under the release's own name): their configs turn them into warnings.
    data_tests:
      - synthdb.k_anonymity:
          arguments: {quasi_identifiers: [region, band], k: 100000}
          config: {warn_if: ">0", error_if: ">1000"}
      - synthdb.rare_categories:
          arguments: {columns: [region], min_count: 100000}
          config: {severity: warn}
    columns:
      - {name: ref, data_type: text, description: "Random reference"}
      - name: region
        data_type: text
        description: "Sales region"
        constraints: [{type: not_null, warn_unsupported: false}]
      - {name: band, data_type: text}
      - {name: amount, data_type: numeric}
      - {name: joined, data_type: date}
"""


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


@pytest.fixture(scope="module")
def project(tmp_path_factory, pg_server):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE cz_bi NOLOGIN; "
                     "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    with scratch_database(pg_server, "cz_citizen") as settings:
        create_people_source(settings, "czsrc")
        proj = make_project(tmp_path_factory.mktemp("cz_project"), settings,
                            with_demo_models=False)
        proj.write("models/sources.yml", SOURCES)
        proj.write("models/cz_contract.sql", CONTRACT)
        proj.write("models/cz_synthetic.sql", SYNTHETIC)
        proj.write("models/cz_release.sql", PUBLISH)
        proj.write("models/schema.yml", SCHEMA)
        yield proj


@pytest.fixture(scope="module")
def built(project):
    run = project.dbt("build", env={"SYNTHDB_PROGRESS_SECONDS": "0"})
    assert run.ok, run.output[-8000:]
    return run


def _share(project):
    """The release destination (``<db>_share``): published tables live there."""
    return psycopg.connect(share_of(project.settings).conninfo())


def _release_state(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        releases = _one(conn, "SELECT count(*) FROM synthdb_audit.releases")[0]
    with _share(project) as conn:
        comment = _one(conn, "SELECT obj_description('cz_acme.people'::regclass)")[0]
        rows = _one(conn, "SELECT count(*) FROM cz_acme.people")[0]
    return json.loads(comment), releases, rows


def test_grants_are_applied_besides_the_recipient_role(project, built):
    with _share(project) as conn:
        for role in ("cz_bi", "cz_acme_reader"):
            assert _one(conn, "SELECT has_table_privilege(%s, 'cz_acme.people', 'SELECT'), "
                              "has_schema_privilege(%s, 'cz_acme', 'USAGE')", (role, role)) == (
                True, True), role
    with psycopg.connect(project.settings.conninfo()) as conn:
        # the staging table is never readable by the grantees
        assert _one(conn, "SELECT has_table_privilege('cz_bi', 'cz_staging.cz_synthetic', "
                          "'SELECT')")[0] is False


def test_contract_constraints_and_persist_docs(project, built):
    meta, _, rows = _release_state(project)
    assert rows > 2000
    assert meta["description"] == "People, synthetic, for acme" and meta["synthetic"] is True
    with _share(project) as conn:
        notnull = dict(conn.execute(
            "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = "
            "'cz_acme.people'::regclass AND attnum > 0").fetchall())
        comments = dict(conn.execute(
            "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute WHERE "
            "attrelid = 'cz_acme.people'::regclass AND attnum > 0").fetchall())
    with psycopg.connect(project.settings.conninfo()) as conn:
        staging = _one(conn, "SELECT col_description('cz_staging.cz_synthetic'::regclass, "
                             "attnum) FROM pg_attribute WHERE attrelid = "
                             "'cz_staging.cz_synthetic'::regclass AND attname = 'region'")[0]
    assert notnull["region"] is True and notnull["band"] is False
    assert comments["region"] == "synthetic (synthesize): Sales region"
    assert comments["ref"].startswith("synthetic (mock") and "Random reference" in comments["ref"]
    assert "synthesize" not in comments["ref"]
    assert staging == "Sales region"  # persist_docs columns on the synthetic model


def test_test_configs_severity_thresholds_and_store_failures(project, built):
    results = json.loads((project.path / "target" / "run_results.json").read_text())
    status = {r["unique_id"].split(".")[2]: r["status"] for r in results["results"]
              if r["unique_id"].startswith("test.")}
    on_release = {n: s for n, s in status.items() if "cz_release" in n}
    assert len(on_release) == 2 and set(on_release.values()) == {"warn"}, status
    assert all(s == "pass" for n, s in status.items() if "cz_synthetic" in n), status
    with psycopg.connect(project.settings.conninfo()) as conn:
        stored = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name LIKE '%rare_categories_cz_synthetic%'").fetchall()
    assert stored and stored[0][0].endswith("dbt_test__audit"), stored


def test_tags_meta_and_docs_reach_dbt(project, built):
    listed = project.dbt("ls", "-s", "tag:cz_release", "--resource-type", "model")
    assert listed.ok, listed.output
    assert {line.rsplit(".", 1)[-1] for line in listed.output.split() if "cz_" in line} >= {
        "cz_synthetic", "cz_release"}
    manifest = json.loads((project.path / "target" / "manifest.json").read_text())
    node = next(n for n in manifest["nodes"].values() if n["name"] == "cz_release")
    assert node["meta"]["owner_team"] == "data-platform"
    assert node["docs"]["node_color"] == "#880000"


def test_progress_lines_in_console_and_dbt_log(project, built):
    log = (project.path / "logs" / "dbt.log").read_text()
    for text in ("cz_synthetic: read training input ...", "cz_synthetic: fit generator done in",
                 "cz_synthetic: sample and write rows ...", "cz_synthetic: sampled 1,000 of",
                 "cz_synthetic: privacy checks (SQL) done in",
                 "cz_synthetic: leakage and utility checks done in",
                 "cz_synthetic: write evidence (QA report) done in"):
        assert text in log, text
        assert text in built.output, text


def test_release_report_header_names_the_release(project, built):
    meta, _, rows = _release_state(project)
    page = (project.path / "evidence" / "cz_citizen" / "cz_acme" / "people" / "v1"
            / "qa_report.html").read_text()
    for label, value in (("Recipient", "cz_acme"), ("Model", "cz_synthetic"), ("Version", "1"),
                         ("Purpose", "testing"), ("Retention", "P30D"),
                         ("Source rows", "3,000"), ("Released rows", f"{rows:,}")):
        assert f"<th>{label}</th><td>{value}</td>" in page, label
    assert "<td>ref</td><td>mock (fake values, not learned from the source)</td>" in page
    assert "id='img-status' hidden>" in page  # the rendering check's line is not shown


def test_contract_mismatch_fails_before_anything_is_published(project, built):
    before = _release_state(project)
    with project.edited("models/schema.yml",
                        ("{name: amount, data_type: numeric}", "{name: amount, data_type: text}"),
                        ("      - {name: joined, data_type: date}\n", "")):
        run = project.dbt("run", "-s", "cz_release")
    assert not run.ok
    assert "enforced contract" in run.output and "amount" in run.output and "joined" in run.output
    assert _release_state(project) == before


def test_grant_to_a_missing_role_publishes_nothing(project, built):
    before = _release_state(project)
    with project.edited("models/cz_release.sql", ("['cz_bi']", "['cz_nobody_here']")):
        run = project.dbt("run", "-s", "cz_release")
    assert not run.ok
    assert "model cz_release" in run.output and "cz_nobody_here" in run.output
    assert _release_state(project) == before


def test_synthetic_model_refuses_grants_and_checks_its_contract(project, built):
    with psycopg.connect(project.settings.conninfo()) as conn:
        runs_before = _one(conn, "SELECT count(*) FROM synthdb_audit.runs")[0]
    with project.edited("models/cz_synthetic.sql", (
            "tags=['cz_release'],", "tags=['cz_release'], grants={'select': ['cz_bi']},")):
        granted = project.dbt("run", "-s", "cz_synthetic")
    with (project.edited("models/cz_synthetic.sql", (
              "tags=['cz_release'],", "tags=['cz_release'], contract={'enforced': true},")),
          project.edited("models/schema.yml", ('      - {name: region, description: "Sales region"}',
                                               '      - {name: region, data_type: integer}'))):
        contracted = project.dbt("run", "-s", "cz_synthetic")
    assert not granted.ok and "grants is not allowed on a synthetic" in granted.output
    assert not contracted.ok and "enforced contract" in contracted.output, contracted.output[-3000:]
    with psycopg.connect(project.settings.conninfo()) as conn:
        assert _one(conn, "SELECT count(*) FROM synthdb_audit.runs")[0] == runs_before


def test_failed_gate_is_an_error_not_ok_and_keeps_evidence(project, built):
    before = _release_state(project)
    run = project.dbt("run", "-s", "cz_synthetic", "--vars", "{cz_k: 10000}")
    assert not run.ok
    lines = [line for line in run.output.splitlines() if "cz_synthetic" in line]
    assert any("ERROR" in line for line in lines), run.output
    assert not any(" OK " in line for line in lines), run.output
    assert "privacy gate FAILED" in run.output and "k_anonymity" in run.output
    with psycopg.connect(project.settings.conninfo()) as conn:
        run_id = json.loads(_one(conn, "SELECT obj_description("
                                       "'cz_staging.cz_synthetic'::regclass)")[0])[
            "synthdb_run_id"]
        verdict = _one(conn, "SELECT passed FROM synthdb_audit.verdicts WHERE run_id = %s",
                       (run_id,))[0]
        evidence = _one(conn, "SELECT evidence_path FROM synthdb_audit.runs WHERE run_id = %s",
                        (run_id,))[0]
    assert verdict is False
    assert (Path(evidence) / "qa_report.html").is_file()
    refused = project.dbt("run", "-s", "cz_release")
    assert not refused.ok and "refusing to publish" in refused.output
    assert _release_state(project) == before


def test_two_databases_keep_their_own_evidence(project, built, pg_server):
    from dbtproject import DbtProject

    with scratch_database(pg_server, "cz_citizen_two") as other:
        create_people_source(other, "czsrc")
        second = DbtProject(project.path, other).dbt("build")
        assert second.ok, second.output[-6000:]
        first_meta = json.loads((project.path / "evidence" / "cz_citizen" / "cz_acme" / "people"
                                 / "v1" / "metadata.json").read_text())
        second_meta = json.loads((project.path / "evidence" / "cz_citizen_two" / "cz_acme"
                                  / "people" / "v1" / "metadata.json").read_text())
    assert first_meta["run_id"] != second_meta["run_id"]
    assert first_meta["version"] == second_meta["version"] == 1
