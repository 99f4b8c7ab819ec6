"""Issue 12, the gate half: the attacks a careless insider tried, on a real server and real dbt.

Each test does what the attacker did (by hand in SQL, then `dbt run -s` of the publish model)
and asserts the refusal names what differs and the published release is untouched. One demo
database and project for the module; every test leaves the staging table as it found it.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import psycopg
import pytest
from dbtproject import (
    DEMO_CUSTOMERS,
    make_project,
    scratch_database,
    share_of,
    snapshot,
)
from psycopg import sql

from synthdb.demo.source import load_demo_source
from synthdb.release import digest

STAGING = "partner_demo_staging.synthetic_transactions"
PUBLISH = "partner_demo_transactions"


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


def _sql(project, *statements):
    with psycopg.connect(project.settings.conninfo()) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_release):
    """The demo right after its first build (conftest.demo_release), this module's copy."""
    return demo_release.copy(tmp_path_factory.mktemp("attack_project") / "project")


def _published(project):
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        fp = digest.fingerprint(conn, "partner_demo", "transactions")
    with psycopg.connect(project.settings.conninfo()) as conn:
        version = _one(conn, "SELECT max(version) FROM synthdb_audit.releases")[0]
    return fp.digest, version


def _share_sql(project, *statements):
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _staged_run(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        text = _one(conn, f"SELECT obj_description('{STAGING}'::regclass)")[0]
    return json.loads(text)["synthdb_run_id"]


def _refused(project, *needles):
    before = _published(project)
    run = project.dbt("run", "-s", PUBLISH)
    assert not run.ok, run.output
    assert "refusing to publish" in run.output
    for needle in needles:
        assert needle in run.output, run.output
    assert _published(project) == before
    return run


def test_digest_is_order_independent_and_session_independent(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("CREATE TABLE public.d1 (a int, b text, t timestamptz, f float8)")  # t: the alias
        conn.execute("INSERT INTO public.d1 VALUES (1, 'x', '2024-01-01 10:00+00', 0.1), "
                     "(2, NULL, NULL, 1e-300), (2, '', NULL, 3)")
        conn.execute("CREATE TABLE public.d2 AS SELECT * FROM public.d1 ORDER BY a DESC")
        conn.commit()
        first = digest.content_digest(conn, "public", "d1")
        conn.execute("SET TimeZone = 'Asia/Tokyo'")
        conn.execute("SET DateStyle = 'SQL, DMY'")
        conn.execute("SET extra_float_digits = -3")
        assert digest.content_digest(conn, "public", "d2") == first
        assert conn.execute("SHOW TimeZone").fetchone()[0] == "Asia/Tokyo"  # restored
        conn.execute("UPDATE public.d2 SET b = NULL WHERE b = ''")  # '' and NULL differ
        assert digest.content_digest(conn, "public", "d2")[0] != first[0]
        conn.rollback()
        conn.execute("INSERT INTO public.d2 SELECT * FROM public.d2 WHERE a = 1")  # a duplicate
        assert digest.content_digest(conn, "public", "d2")[0] != first[0]
        conn.rollback()
        conn.execute("DROP TABLE public.d1, public.d2")
        conn.commit()
    assert len(first[0]) == 64 and first[1] == 3


def test_view_renamed_into_place_is_refused(project):
    run_id = _staged_run(project)
    with psycopg.connect(project.settings.conninfo()) as conn:
        rows = _one(conn, f"SELECT count(*) FROM {STAGING}")[0]
    comment = json.dumps({"synthdb_run_id": run_id, "synthetic": True})
    _sql(project,
         f"ALTER TABLE {STAGING} RENAME TO synthetic_transactions_away",
         f"CREATE VIEW {STAGING} AS SELECT c.full_name, c.email, c.phone, c.customer_id "
         f"FROM prod.customers c LIMIT {rows}",
         f"COMMENT ON VIEW {STAGING} IS '{comment}'")
    try:
        _refused(project, "is a view, not the table a synthdb run wrote")
    finally:
        _sql(project, f"DROP VIEW {STAGING}",
             "ALTER TABLE partner_demo_staging.synthetic_transactions_away "
             "RENAME TO synthetic_transactions")
    assert project.dbt("run", "-s", PUBLISH).ok  # the real table again: published


def test_updated_rows_with_unchanged_count_are_refused(project):
    _sql(project,
         "CREATE TABLE public.backup AS SELECT * FROM " + STAGING,
         f"UPDATE {STAGING} s SET annual_income = annual_income + 1 WHERE ctid IN "
         f"(SELECT ctid FROM {STAGING} LIMIT 1000)")
    try:
        _refused(project, "its rows changed after the checks", "content digest")
    finally:
        _sql(project, f"DELETE FROM {STAGING}",
             f"INSERT INTO {STAGING} SELECT * FROM public.backup", "DROP TABLE public.backup")


@pytest.fixture()
def put_back(project, pg_server):
    """The databases as the test found them, put back when it ends: for a test that leaves a
    failing run's table in place (a file copy of the passing state, instead of a new run)."""
    with snapshot(pg_server, project.settings) as taken:
        yield
        taken.restore()


def test_failing_table_with_an_old_passing_comment_is_refused(project, put_back):
    passing = _staged_run(project)
    with psycopg.connect(project.settings.conninfo()) as conn:
        measured = _one(conn, "SELECT synthetic_rows FROM synthdb_audit.runs WHERE run_id = %s",
                        (passing,))[0]
    strict = project.dbt("run", "-s", "synthetic_transactions", "--vars", "{synthdb_k: 10000}")
    assert not strict.ok and "privacy gate FAILED" in strict.output, strict.output
    failing = _staged_run(project)
    assert failing != passing
    comment = json.dumps({"synthdb_run_id": passing, "synthetic": True})
    _sql(project, f"COMMENT ON TABLE {STAGING} IS '{comment}'",
         f"DELETE FROM {STAGING} WHERE ctid IN (SELECT ctid FROM {STAGING} OFFSET {measured})")
    _refused(project, f"comment names run {passing}", f"run {failing} wrote")


def test_another_models_table_moved_in_is_refused(project):
    project.write("models/other/other_synthetic.sql", """
        {{ config(materialized='synthetic', schema='other_staging',
                  synth={'source': 'contract_transactions', 'seed': 3, 'recipient': 'other',
                         'columns': {'customer_ref': {'method': 'mock'}},
                         'privacy': {'quasi_identifiers': ['age_band', 'region', 'gender'],
                                     'k': 10}}) }}
        -- depends_on: {{ ref('contract_transactions') }}
        select * from {{ this }}
    """)
    try:
        built = project.dbt("run", "-s", "other_synthetic")
        assert built.ok, built.output
    finally:
        (project.path / "models" / "other" / "other_synthetic.sql").unlink()
    _sql(project,
         f"ALTER TABLE {STAGING} RENAME TO synthetic_transactions_away",
         "ALTER TABLE other_staging.other_synthetic SET SCHEMA partner_demo_staging",
         "ALTER TABLE partner_demo_staging.other_synthetic RENAME TO synthetic_transactions")
    try:
        _refused(project, "was moved or renamed", "model other_synthetic",
                 "wrote it as other_staging.other_synthetic")
    finally:
        _sql(project, f"DROP TABLE {STAGING}",
             "ALTER TABLE partner_demo_staging.synthetic_transactions_away "
             "RENAME TO synthetic_transactions")


def test_changed_published_table_is_not_exported(project, tmp_path):
    from synthdb.governance import bundle
    from synthdb.governance.releases import ReleaseRef

    _share_sql(project,
               "CREATE TABLE public.pub_backup AS SELECT * FROM partner_demo.transactions",
         "UPDATE partner_demo.transactions SET amount = amount + 1 WHERE ctid IN "
         "(SELECT ctid FROM partner_demo.transactions LIMIT 10)")
    try:
        with pytest.raises(Exception, match="rows changed after the checks"):
            bundle.export_bundle(project.settings, ReleaseRef.parse("partner_demo/transactions"),
                                 ticket="T-1", ttl="1d", out=project.path / "bundle_b",
                                 key_file=tmp_path / "k" / "key", project_dir=project.path)
        with psycopg.connect(project.settings.conninfo()) as conn:
            reason = _one(conn, "SELECT details ->> 'reason' FROM synthdb_audit.downloads "
                                "WHERE action = 'export_refused' ORDER BY at DESC LIMIT 1")[0]
        assert "no longer holds what run" in reason
    finally:
        _share_sql(project, "DELETE FROM partner_demo.transactions",
             "INSERT INTO partner_demo.transactions SELECT * FROM public.pub_backup",
             "DROP TABLE public.pub_backup")
    result = bundle.export_bundle(project.settings, ReleaseRef.parse("partner_demo/transactions"),
                                  ticket="T-2", ttl="1d", out=project.path / "bundle_ok",
                                  key_file=tmp_path / "k" / "key", project_dir=project.path)
    assert result.rows > 0


def test_thresholds_have_floors():
    from synthdb.errors import ConfigError
    from synthdb.release.config import parse_synth_config

    for key, value in (("identical_match_tolerance", 1.0), ("sample_size", 100), ("k", 1),
                       ("dcr_share_max", 1.0), ("mia_advantage_max", 0.9),
                       ("rare_min_count", 1)):
        with pytest.raises(ConfigError, match=f"model m: config synth.privacy.{key} must be"):
            parse_synth_config({"source": "c", "privacy": {key: value}}, "m")
    ok = parse_synth_config({"source": "c", "privacy": {"identical_match_tolerance": 0.05,
                                                        "sample_size": 1000}}, "m")
    assert ok.privacy.sample_size == 1000


def test_sample_size_has_a_project_floor():
    from synthdb.errors import ConfigError
    from synthdb.release.config import check_floors, parse_privacy

    cfg = parse_privacy({"sample_size": 2000, "identical_match_tolerance": 0.02}, "x")
    with pytest.raises(ConfigError, match="sample_size = 2000 is below the floor 5000"):
        check_floors(cfg, {"sample_size": 5000}, "m")
    with pytest.raises(ConfigError, match="identical_match_tolerance = 0.02 is above the floor 0"):
        check_floors(cfg, {"identical_match_tolerance": 0.0}, "m")


def test_a_looser_test_is_reported_in_log_and_evidence(project):
    with project.edited("models/partner_demo/schema.yml",
                        ("k: \"{{ var('synthdb_k', 10) }}\"", "k: 3")):
        run = project.dbt("run", "-s", "synthetic_transactions")
    assert run.ok, run.output
    warning = ("test k_anonymity sets k = 3, looser than the model's synth.privacy.k = 10; "
               "the gate enforces 10")
    assert warning in run.output
    run_id = _staged_run(project)
    with psycopg.connect(project.settings.conninfo()) as conn:
        details, path = _one(conn, "SELECT m.details, r.evidence_path FROM synthdb_audit.metrics m "
                                   "JOIN synthdb_audit.runs r USING (run_id) WHERE run_id = %s "
                                   "AND check_name = 'config'", (run_id,))
        k = _one(conn, "SELECT threshold FROM synthdb_audit.metrics WHERE run_id = %s AND "
                       "metric = 'min_class_size'", (run_id,))[0]
    assert any(warning in w for w in details["warnings"]) and k == 10
    evidence = json.loads((project.path / path / "run.json").read_text())  # abs path wins
    assert any(warning in w for w in evidence["warnings"])


def test_orphaned_running_run_is_marked_failed_but_a_live_one_is_not(project):
    from synthdb.release import audit

    insert = ("INSERT INTO synthdb_audit.runs (run_id, model, outcome) "
              "VALUES (%s, 'synthetic_transactions', 'running')")
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute(insert, ("orphan_run",))
        conn.execute(insert, ("live_run",))
        conn.commit()
    with psycopg.connect(project.settings.conninfo()) as live:
        audit.hold_run_lock(live, "live_run")  # a concurrent run that is still alive
        live.commit()
        run = project.dbt("run", "-s", "synthetic_transactions")
        assert run.ok, run.output
        with psycopg.connect(project.settings.conninfo()) as conn:
            states = dict(conn.execute(
                "SELECT run_id, outcome || ': ' || coalesce(message, '') FROM synthdb_audit.runs "
                "WHERE run_id IN ('orphan_run', 'live_run')").fetchall())
    assert states["live_run"] == "running: "
    assert states["orphan_run"].startswith("error: orphaned: the process running it ended")
    _sql(project, "DELETE FROM synthdb_audit.runs WHERE run_id = 'live_run'")


def _spends(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        return conn.execute("SELECT run_id, epsilon FROM synthdb_audit.budget_spend "
                            "ORDER BY spend_id").fetchall()


SYN_DP = """
{{{{ config(materialized='synthetic', schema='{schema}',
          synth={{'source': '{source}', 'seed': 5, 'recipient': 'budget_test',
                 'validate_contract': False,
                 'columns': {columns},
                 'generator': {generator},
                 'privacy': {{'quasi_identifiers': ['region', 'gender'], 'k': 5}}}}) }}}}
-- depends_on: {{{{ ref('{source}') }}}}
select * from {{{{ this }}}}
"""


def test_inverted_dp_bounds_cost_no_epsilon(project):
    from synthdb.release import ledger

    project.write("models/budget/syn_inverted.sql", SYN_DP.format(
        schema="budget_staging", source="contract_transactions",
        columns="{'customer_ref': {'method': 'mock'}}", generator="{'epsilon': 1.0, 'dp_bounds': {'annual_income': [250000, 0], "
                  "'amount': [0, 10000], 'event_month': ['2024-01-01', '2026-01-01']}}"))
    with psycopg.connect(project.settings.conninfo()) as conn:
        ledger.ensure_ledger(conn, "synthdb_audit")
        ledger.set_budget(conn, "synthdb_audit", "synthdb_contracts.contract_transactions", 5.0)
        conn.commit()
    before = _spends(project)
    try:
        run = project.dbt("run", "-s", "syn_inverted")
    finally:
        (project.path / "models" / "budget" / "syn_inverted.sql").unlink()
        _sql(project, "DELETE FROM synthdb_audit.privacy_budget")
    assert not run.ok
    assert ("model syn_inverted: config synth.generator.dp_bounds.annual_income must have "
            "lo < hi, got [250000, 0]") in run.output
    assert _spends(project) == before


def test_budget_follows_the_tables_not_the_view_name(project):
    from synthdb.release import ledger

    same_sql = """
        {{ config(materialized='view', schema='synthdb_contracts') }}
        select region, gender, {{ synthdb.top_code('annual_income', 250000) }} as annual_income
        from {{ source('prod', 'customers') }}
    """
    project.write("models/budget/c_small.sql", same_sql)
    project.write("models/budget/c_smallb.sql", same_sql)
    project.write("models/budget/syn_smallb.sql", SYN_DP.format(
        schema="budget_staging", source="c_smallb", columns="{}", generator="{}"))
    try:
        views = project.dbt("run", "-s", "c_small", "c_smallb")
        assert views.ok, views.output
        with psycopg.connect(project.settings.conninfo()) as conn:
            ledger.set_budget(conn, "synthdb_audit", "synthdb_contracts.c_small", 1.0)
            conn.commit()
        before = _spends(project)
        run = project.dbt("run", "-s", "syn_smallb")
    finally:
        for name in ("c_small", "c_smallb", "syn_smallb"):
            (project.path / "models" / "budget" / f"{name}.sql").unlink()
        _sql(project, "DELETE FROM synthdb_audit.privacy_budget")
    assert not run.ok
    assert ("privacy budget of 'synthdb_contracts.c_smallb' (source-wide, set on "
            "'synthdb_contracts.c_small', which reads the same table(s) prod.customers): a "
            "non-DP release has unbounded privacy loss") in run.output, run.output
    assert _spends(project) == before


# ---------------------------------------------------------------- with `synthdb roles setup`

ENGINEER, ENGINEER_PASSWORD = "gate_engineer", "gate-engineer-pw-1"


@pytest.fixture(scope="module")
def managed(tmp_path_factory, pg_server):
    """The demo released end to end (publish included) by a plain LOGIN engineer role after
    `synthdb roles setup`: no CREATEROLE, no CREATEDB, no membership in any synthdb role."""
    from synthdb import db
    from synthdb.cli import main

    with scratch_database(pg_server, "attacks_roles") as admin:
        with psycopg.connect(admin.conninfo()) as conn:
            load_demo_source(conn, customers=DEMO_CUSTOMERS, seed=7)
            exists = _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (ENGINEER,))
            if not exists:
                conn.execute(f"CREATE ROLE {ENGINEER} LOGIN PASSWORD '{ENGINEER_PASSWORD}'")
            conn.execute(f"GRANT CREATE ON DATABASE attacks_roles TO {ENGINEER}")
            conn.execute(f"GRANT USAGE ON SCHEMA prod TO {ENGINEER}")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA prod TO {ENGINEER}")
            conn.commit()
        with pytest.MonkeyPatch.context() as env:  # the command, as the owner runs it
            for key in ("host", "port", "user", "password", "dbname"):
                env.setenv("SYNTHDB_" + key.upper(), str(getattr(admin, key)))
            assert main(["roles", "setup", "--engineer", ENGINEER]) == 0
        engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                         admin.dbname)
        proj = make_project(tmp_path_factory.mktemp("managed_project"), engineer)
        run = proj.dbt("build", "--vars", "{synthdb_seed: 11}")
        assert run.ok, run.output
        proj.build_output = run.output
        yield proj, admin


def test_engineer_has_no_role_attributes(managed):
    _, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        flags = _one(conn, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                           "FROM pg_roles WHERE rolname = %s", (ENGINEER,))
        groups = _one(conn, "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r "
                            "ON r.oid = m.member WHERE r.rolname = %s", (ENGINEER,))[0]
    assert flags == (False, False, False, False) and groups == 0


def test_engineer_publishes_for_a_recipient_login(managed):
    """The release lands in <db>_share, made by the engineer, readable by a recipient login."""
    from synthdb import db

    project, admin = managed
    share = share_of(admin)
    with psycopg.connect(admin.conninfo()) as conn:
        release = _one(conn, "SELECT r.version, u.db_user, u.synthetic_rows FROM "
                             "synthdb_audit.releases r JOIN synthdb_audit.runs u USING (run_id) "
                             "WHERE r.published_relation = 'partner_demo.transactions'")
        conn.execute("DROP ROLE IF EXISTS gate_partner_login")
        conn.execute("CREATE ROLE gate_partner_login LOGIN PASSWORD 'partner-pw-1'")
        conn.execute("GRANT partner_demo_reader TO gate_partner_login")
        conn.commit()
    with psycopg.connect(share.conninfo()) as conn:
        owner, comment = _one(conn, "SELECT tableowner, obj_description("
                                    "'partner_demo.transactions'::regclass) FROM pg_tables "
                                    "WHERE schemaname = 'partner_demo' "
                                    "AND tablename = 'transactions'")
        marker = _one(conn, "SELECT shobj_description('partner_demo_reader'::regrole, "
                            "'pg_authid')")[0]
    assert release[0] == 1 and release[1] == ENGINEER
    # the embedded server keeps recipients out of the source: no false exposure warning
    assert "recipients can connect to the source" not in project.build_output
    assert owner == ENGINEER and json.loads(comment)["recipient"] == "partner_demo"
    assert marker == "synthdb recipient group: partner_demo"
    partner = db.ConnectionSettings(admin.host, admin.port, "gate_partner_login", "partner-pw-1",
                                    share.dbname)
    try:
        with psycopg.connect(partner.conninfo()) as conn:
            assert _one(conn, "SELECT count(*) FROM partner_demo.transactions")[0] == release[2]
            assert _one(conn, "SELECT version FROM partner_demo.releases")[0] == 1
    finally:
        with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
            conn.execute("DROP ROLE gate_partner_login")


@pytest.mark.parametrize("statement", [
    "CREATE ROLE gate_sneaky LOGIN PASSWORD 'x'",
    "GRANT synthdb_recipients TO gate_engineer",
    "SELECT synthdb_share.ensure_recipient_role('partner_demo', 'synthdb_owner')",
    "SELECT synthdb_share.ensure_recipient_role('other', 'partner_demo_reader')",
    "SELECT synthdb_share.ensure_recipient_role('partner_demo', 'gate_engineer')",
])
def test_engineer_cannot_make_or_enrol_other_roles(managed, statement):
    """The recipient-role function creates marked NOLOGIN group roles only, for their own
    recipient; it adds nothing else to synthdb_recipients, and the engineer has no CREATEROLE."""
    from synthdb import db

    _, admin = managed
    share = share_of(admin)
    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     share.dbname)
    with psycopg.connect(engineer.conninfo()) as conn:
        with pytest.raises((psycopg.errors.InsufficientPrivilege,
                            psycopg.errors.RaiseException)):
            conn.execute(statement)


def test_roles_setup_refuses_a_superuser_engineer(managed):
    from synthdb.errors import ConfigError
    from synthdb.release import roles

    _, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        with pytest.raises(ConfigError, match="is a superuser"):
            roles.setup(conn, admin.user)


def test_engineer_releases_through_the_owner_seal(managed):
    project, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        owner = _one(conn, "SELECT nspowner::regrole::text FROM pg_namespace "
                           "WHERE nspname = 'synthdb_audit'")[0]
        run_id, user, fp = _one(conn, "SELECT run_id, db_user, fingerprint FROM "
                                      "synthdb_audit.runs WHERE outcome = 'success' "
                                      "ORDER BY finished_at DESC LIMIT 1")
        k_row = _one(conn, "SELECT details ->> 'measured_by', value FROM synthdb_audit.metrics "
                           "WHERE run_id = %s AND metric = 'min_class_size'", (run_id,))
        dcr = _one(conn, "SELECT details ->> 'claimed_by' FROM synthdb_audit.metrics "
                         "WHERE run_id = %s AND metric = 'dcr_share'", (run_id,))[0]
    assert owner == "synthdb_owner" and user == ENGINEER
    assert k_row[0] == "synthdb owner (seal_run)" and k_row[1] >= 10
    assert dcr == ENGINEER  # a Python metric: stored as the engineer's claim
    assert fp["schema"] == "partner_demo_staging" and len(fp["digest"]) == 64
    # the gate, run as the engineer, accepts the owner-sealed run for the staged table
    from synthdb import db
    from synthdb.release.publish import PublishRequest, check_gate

    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    request = PublishRequest(model=PUBLISH, staging=("partner_demo_staging",
                                                     "synthetic_transactions"),
                             target=("partner_demo", "transactions"), recipient="partner_demo",
                             role="partner_demo_reader")
    with psycopg.connect(engineer.conninfo()) as conn:
        verdict = check_gate(conn, request)
    assert verdict["passed"] and verdict["run_id"] == run_id


def test_owner_seal_records_the_writer_and_publish_skips_the_second_digest(managed):
    """The owner's seal_run records the transaction that wrote every staged row next to the
    digest it computes (server-side: the engineer cannot write a fingerprint), so the
    engineer's publish proved the rows unchanged from their xmin instead of digesting its copy
    (synthdb.release.unchanged), and the published rows are the sealed ones."""
    project, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        check, fp, table = _one(
            conn, "SELECT r.manifest -> 'content_check', u.fingerprint, r.published_relation "
                  "FROM synthdb_audit.releases r JOIN synthdb_audit.runs u USING (run_id) "
                  "ORDER BY r.release_id LIMIT 1")
    assert isinstance(fp["writer_xid"], int), fp
    assert check["method"] == "unchanged since the run (row xmin)", check
    assert check["digest"] == fp["digest"]
    with psycopg.connect(share_of(admin).conninfo()) as conn:
        assert digest.content_digest(conn, *table.split("."))[0] == fp["digest"]


@pytest.mark.parametrize("statement", [
    "INSERT INTO synthdb_audit.runs (run_id, model, outcome) VALUES ('forged', 'm', 'success')",
    "INSERT INTO synthdb_audit.metrics (run_id, check_name, metric, passed) "
    "SELECT run_id, 'no_leakage', 'x', true FROM synthdb_audit.runs LIMIT 1",
    "UPDATE synthdb_audit.runs SET outcome = 'success' WHERE outcome = 'error'",
    "UPDATE synthdb_audit.metrics SET passed = true",
    "DELETE FROM synthdb_audit.metrics",
    "INSERT INTO synthdb_audit.approvals (release_id, run_id, ticket, approved_by) "
    "SELECT release_id, run_id, 'T', 'me' FROM synthdb_audit.releases LIMIT 1",
    "DELETE FROM synthdb_audit.budget_spend",
    "INSERT INTO synthdb_audit.privacy_budget (source_relation, total_epsilon) VALUES ('x', 9)",
    "CREATE TABLE synthdb_audit.mine (a int)",
])
def test_engineer_cannot_hand_write_verdicts(managed, statement):
    from synthdb import db

    _, admin = managed
    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    with psycopg.connect(engineer.conninfo()) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_seal_only_from_the_runs_own_session(managed):
    from synthdb import db

    _, admin = managed
    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    with psycopg.connect(engineer.conninfo()) as conn:
        conn.execute("INSERT INTO synthdb_audit.runs (run_id, model, target_relation) "
                     "VALUES ('hand_run', 'm', 'partner_demo_staging.synthetic_transactions')")
        conn.commit()
        assert _one(conn, "SELECT outcome FROM synthdb_audit.runs "
                          "WHERE run_id = 'hand_run'")[0] == "running"
        with pytest.raises(psycopg.errors.RaiseException, match="not held by this session"):
            conn.execute("SELECT synthdb_audit.seal_run('hand_run', 'partner_demo_staging', "
                         "'synthetic_transactions', '[]', '{}')")
        conn.rollback()
        # a row claiming an owner-measured check is refused even from the run's own session
        conn.execute("SELECT pg_advisory_lock(%s, hashtext('hand_run'))", (0x5D7B,))
        with pytest.raises(psycopg.errors.RaiseException, match="swapped into place"):
            conn.execute("SELECT synthdb_audit.seal_run('hand_run', 'partner_demo_staging', "
                         "'synthetic_transactions', '[]', '{}')")
        conn.rollback()
        conn.execute("LOCK TABLE partner_demo_staging.synthetic_transactions "
                     "IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(psycopg.errors.RaiseException, match="measured by the owner"):
            conn.execute("SELECT synthdb_audit.seal_run('hand_run', 'partner_demo_staging', "
                         "'synthetic_transactions', %s, '{}')", (json.dumps(
                             [{"check": "k_anonymity", "metric": "fake", "passed": True}]),))
        conn.rollback()
        assert conn.execute("SELECT synthdb_audit.fail_run('hand_run', 'test')").fetchone()[0]
        conn.commit()


def test_a_superuser_can_still_forge(managed):
    """Measured, not hoped: PostgreSQL lets a superuser write any audit row (trust model)."""
    _, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        assert _one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0]
        conn.execute("INSERT INTO synthdb_audit.runs (run_id, model, outcome) "
                     "VALUES ('superuser_forged', 'm', 'success')")
        assert _one(conn, "SELECT count(*) FROM synthdb_audit.runs "
                          "WHERE run_id = 'superuser_forged'")[0] == 1
        conn.rollback()


def test_engineer_releases_a_related_group_through_the_owner(managed):
    """Under `synthdb roles setup` the demo's related release runs as the engineer: the owner's
    seal measures the child's values per synthetic parent itself, and the joined check is an
    append-only audit row of the engineer's, deciding the publish either way."""
    from synthdb.release import keys

    project, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:  # the owner sets the contracts' link key
        keys.set_key(conn, "partner_demo_customer", grant_to=[ENGINEER])
    build = project.dbt("build", "--vars", "{synthdb_seed: 11, synthdb_related_demo: true}",
                        "-s", "+partner_demo_customers")
    with psycopg.connect(admin.conninfo()) as conn:
        sealed = conn.execute(
            "SELECT m.metric, m.passed, m.details ->> 'measured_by', "
            "m.details ->> 'subject_column' FROM synthdb_audit.metrics m JOIN "
            "synthdb_audit.runs r USING (run_id) WHERE r.model = "
            "'synthetic_customer_transactions' AND m.metric LIKE 'rare_subject_values:%' "
            "ORDER BY 1").fetchall()
        joined = conn.execute(
            "SELECT passed, value, threshold, db_user, check_name, metric "
            "FROM synthdb_audit.group_checks WHERE publish_model = 'partner_demo_customers' "
            "ORDER BY group_check_id").fetchall()
    assert [s[0] for s in sealed] == ["rare_subject_values:channel",
                                      "rare_subject_values:product_category"], build.output
    assert all(s[2] == "synthdb owner (seal_run)" and s[3] == "customer_key" for s in sealed)
    # the tree's k row, then the child's rare values counted in synthetic customers
    assert [(j[4], j[5]) for j in joined] == [
        ("joined_k_anonymity", "min_subjects_per_class:customers>customer_transactions"),
        ("joined_rare_categories", "rare_root_values:customer_transactions.channel"),
        ("joined_rare_categories",
         "rare_root_values:customer_transactions.product_category")]
    assert joined[0][2] == 10 and all(j[3] == ENGINEER for j in joined)
    # published exactly when every check passed
    assert build.ok == all(j[0] for j in joined), build.output
    if not build.ok:
        assert "joined_k_anonymity" in build.output or "joined_rare" in build.output


def test_row_level_security_cannot_show_the_copy_other_rows(managed):
    """The engineer owns the staged table, so may give it a FORCEd row-level security policy
    that shows different rows to different queries: the digest's SELECT sees the rows the run
    measured, publish's COPY sees some swapped for rows never measured (same count). Publish
    refuses a staged table under row-level security (or with inheritance children), and reads
    it with row_security off, so no policy can filter what is digested or copied."""
    project, admin = managed
    from synthdb import db

    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    before = _published_in(share_of(admin))
    marks = "partner_demo_staging.rls_marks"
    with psycopg.connect(engineer.conninfo()) as conn:
        conn.execute(f"CREATE TABLE {marks} (t tid, kind text)")
        conn.execute(f"INSERT INTO {marks} SELECT ctid, 'decoy' FROM {STAGING} LIMIT 50")
        # the swapped-in rows: the decoys with another amount (in a real attack: real rows)
        conn.execute(f"CREATE TEMP TABLE swapped AS SELECT s.* FROM {STAGING} s JOIN {marks} m "
                     "ON m.t = s.ctid")
        conn.execute("UPDATE swapped SET amount = amount + 1000")
        conn.execute(f"WITH added AS (INSERT INTO {STAGING} SELECT * FROM swapped RETURNING "
                     f"ctid) INSERT INTO {marks} SELECT ctid, 'swapped' FROM added")
        conn.execute(f"ALTER TABLE {STAGING} ENABLE ROW LEVEL SECURITY")
        conn.execute(f"ALTER TABLE {STAGING} FORCE ROW LEVEL SECURITY")
        conn.execute(
            f"CREATE POLICY two_faces ON {STAGING} USING (CASE WHEN current_query() ILIKE "
            f"'%copy%' THEN ctid <> ALL(ARRAY(SELECT t FROM {marks} WHERE kind = 'decoy')) "
            f"ELSE ctid <> ALL(ARRAY(SELECT t FROM {marks} WHERE kind = 'swapped')) END)")
        conn.commit()
        # the policy works as the attacker meant: a SELECT (as the digest was before
        # row_security off) sees exactly the measured rows
        for key, value in digest.READ_SETTINGS.items():
            if key != "row_security":
                conn.execute("SELECT set_config(%s, %s, true)", (key, value))
        seen = _one(conn, sql.SQL(digest.DIGEST_SELECT).format(table=sql.SQL(STAGING)))[0]
        assert seen == _staged_digest_recorded(admin)
        conn.rollback()
    try:
        run = project.dbt("run", "-s", PUBLISH)
        if run.ok:  # what the attack achieved before: rows no check measured, published
            same = _published_in(share_of(admin)) == _staged_digest_recorded(admin)
            pytest.fail(f"published under a two-faced policy (published digest equals the "
                        f"measured one: {same})")
        assert "refusing to publish" in run.output, run.output
        assert "row-level security" in run.output, run.output
        assert _published_in(share_of(admin)) == before
    finally:
        with psycopg.connect(engineer.conninfo()) as conn:
            conn.execute(f"DROP POLICY two_faces ON {STAGING}")
            conn.execute(f"ALTER TABLE {STAGING} NO FORCE ROW LEVEL SECURITY")
            conn.execute(f"ALTER TABLE {STAGING} DISABLE ROW LEVEL SECURITY")
            conn.execute(f"DELETE FROM {STAGING} WHERE ctid IN (SELECT t FROM {marks} "
                         "WHERE kind = 'swapped')")
            conn.execute(f"DROP TABLE {marks}")
            conn.commit()
    assert project.dbt("run", "-s", PUBLISH).ok  # the measured rows again: published


def test_a_snapshot_older_than_the_lock_cannot_feed_the_copy(managed):
    """Publish's COPY and its digest must read one snapshot. The engineer may make their own
    sessions REPEATABLE READ (``ALTER ROLE ... SET``, no privilege needed); then publish's
    transaction keeps the snapshot of its first statement, taken before the SHARE lock.
    The attack: the staged table holds other rows (committed), a transaction restoring the
    measured rows is open while publish waits for its lock, and commits: a digest on a new
    connection sees the measured rows, the COPY (old snapshot) the others. The digest reads
    the copy's exported snapshot, so it sees what the COPY sees and refuses."""
    import threading
    import time

    project, admin = managed
    from synthdb import db

    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    before = _published_in(share_of(admin))
    with psycopg.connect(engineer.conninfo()) as conn:
        conn.execute("CREATE TABLE partner_demo_staging.measured AS SELECT * FROM " + STAGING)
        conn.execute(f"UPDATE {STAGING} SET amount = amount + 1000 WHERE ctid IN "
                     f"(SELECT ctid FROM {STAGING} LIMIT 50)")
        conn.execute(f"ALTER ROLE {ENGINEER} SET default_transaction_isolation = "
                     "'repeatable read'")
        conn.commit()
    restore = psycopg.connect(engineer.conninfo())
    try:
        restore.execute(f"DELETE FROM {STAGING}")
        restore.execute(f"INSERT INTO {STAGING} SELECT * FROM partner_demo_staging.measured")
        result = {}
        publish = threading.Thread(target=lambda: result.update(
            run=project.dbt("run", "-s", PUBLISH)))
        publish.start()
        with psycopg.connect(admin.conninfo(), autocommit=True) as watch:
            for _ in range(1200):  # until publish waits for its SHARE lock
                if _one(watch, "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass "
                               "AND mode = 'ShareLock' AND NOT granted", (STAGING,))[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("publish never waited for the staged table's lock")
        restore.commit()
        publish.join(timeout=600)
        run = result["run"]
        assert not run.ok and "refusing to publish" in run.output, (
            f"published a snapshot older than its lock (published digest equals the measured "
            f"one: {_published_in(share_of(admin)) == _staged_digest_recorded(admin)})")
        assert "content digest" in run.output, run.output
        assert _published_in(share_of(admin)) == before
    finally:
        restore.close()
        with psycopg.connect(engineer.conninfo()) as conn:
            conn.execute(f"ALTER ROLE {ENGINEER} RESET default_transaction_isolation")
            conn.execute(f"DELETE FROM {STAGING}")
            conn.execute(f"INSERT INTO {STAGING} SELECT * FROM partner_demo_staging.measured")
            conn.execute("DROP TABLE partner_demo_staging.measured")
            conn.commit()
    again = project.dbt("run", "-s", PUBLISH)
    assert again.ok, again.output  # the measured rows: published


OWN = "partner_demo_staging"


@contextmanager
def _engineers_path_first(admin, setup: list[str], cleanup: list[str]):
    """The engineer's ``setup`` (their own objects, and the edit they hope goes unnoticed),
    then ``ALTER ROLE ... SET search_path = <own schema>, pg_catalog`` so that every new
    session of theirs resolves unqualified names in their schema first; yields the engineer's
    settings. Afterwards the role's search_path is reset first (in a session of its own, so the
    ``cleanup`` statements resolve as usual), then ``cleanup`` runs."""
    from synthdb import db

    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    with psycopg.connect(engineer.conninfo()) as conn:
        for statement in setup:
            conn.execute(statement)
        conn.execute(f"ALTER ROLE {ENGINEER} SET search_path = {OWN}, pg_catalog")
        conn.commit()
    try:
        yield engineer
    finally:
        with psycopg.connect(engineer.conninfo()) as conn:
            conn.execute(f"ALTER ROLE {ENGINEER} RESET search_path")
            conn.commit()
        with psycopg.connect(engineer.conninfo()) as conn:
            for statement in cleanup:
                conn.execute(statement)
            conn.commit()


def _refused_under_the_hijack(project, admin, *needles):
    before = _published_in(share_of(admin))
    run = project.dbt("run", "-s", PUBLISH)
    assert not run.ok and "refusing to publish" in run.output, run.output
    for needle in needles:
        assert needle in run.output, run.output
    assert _published_in(share_of(admin)) == before


# one changed row, kept as the run wrote it for the cleanup; and a <> on xid that says no row
# was written after the run
KEEP_AND_CHANGE_ONE_ROW = [
    f"CREATE TABLE {OWN}.kept AS SELECT * FROM {STAGING}",
    f"UPDATE {STAGING} SET amount = amount + 1 WHERE ctid = (SELECT min(ctid) FROM {STAGING})"]
PUT_BACK_THE_ROWS = [f"DELETE FROM {STAGING}", f"INSERT INTO {STAGING} SELECT * FROM {OWN}.kept",
                     f"DROP TABLE {OWN}.kept"]
XID_NEVER_DIFFERS = [
    f"CREATE FUNCTION {OWN}.never(xid, xid) RETURNS boolean LANGUAGE sql IMMUTABLE "
    "AS 'SELECT false'",
    f"CREATE OPERATOR {OWN}.<> (LEFTARG = xid, RIGHTARG = xid, FUNCTION = {OWN}.never)"]


def test_operators_of_the_engineers_own_cannot_decide_the_gate(managed):
    """The engineer may ``ALTER ROLE ... SET search_path`` to put the staging schema (theirs)
    before pg_catalog, and define ``<>`` on xid (every row "was written by the run") and
    ``sha256`` (every digest equal) there. The gate reads with pg_catalog first
    (digest.GATE_SEARCH_PATH), so a changed row is still refused. (An ``=`` on oid that always
    holds, against the COPY's table pin, is tried in test_publish_unchanged on one statement
    only: in a whole session it turns every catalog join into a cross join.)"""
    project, admin = managed
    with _engineers_path_first(admin, [
            *XID_NEVER_DIFFERS,
            f"CREATE FUNCTION {OWN}.sha256(bytea) RETURNS bytea LANGUAGE sql "
            "IMMUTABLE AS $$SELECT '\\x00'::bytea$$",
            *KEEP_AND_CHANGE_ONE_ROW], [
            f"DROP OPERATOR {OWN}.<> (xid, xid)", f"DROP FUNCTION {OWN}.never, {OWN}.sha256",
            *PUT_BACK_THE_ROWS]) as engineer:
        with psycopg.connect(engineer.conninfo()) as conn:  # the hijack works in a session
            assert _one(conn, "SELECT '1'::xid <> '2'::xid")[0] is False
        _refused_under_the_hijack(project, admin)
    assert project.dbt("run", "-s", PUBLISH).ok  # the measured rows again: published


def test_a_set_config_of_the_engineers_own_cannot_undo_the_catalog_first_path(managed):
    """The gate switches to pg_catalog first with ``set_config`` itself: called unqualified
    under the engineer's ``search_path = <own schema>, pg_catalog``, that call resolved to a
    ``set_config(text, text, boolean)`` of the engineer's own, which could leave the path (and
    row_security) as they were, so their ``<>`` on xid decided the unchanged-since-the-run
    scan again. Publish's source transaction resolves in pg_catalog from its first statement
    and calls pg_catalog's own set_config, so a changed row is still refused."""
    project, admin = managed
    with _engineers_path_first(admin, [
            f"CREATE FUNCTION {OWN}.set_config(text, text, boolean) RETURNS text "
            "LANGUAGE sql AS $$SELECT CASE WHEN $1 IN ('search_path', 'row_security') "
            "THEN $2 ELSE pg_catalog.set_config($1, $2, $3) END$$",
            *XID_NEVER_DIFFERS, *KEEP_AND_CHANGE_ONE_ROW], [
            f"DROP OPERATOR {OWN}.<> (xid, xid)", f"DROP FUNCTION {OWN}.never, {OWN}.set_config",
            *PUT_BACK_THE_ROWS]) as engineer:
        with psycopg.connect(engineer.conninfo()) as conn:  # the hijack works in a session
            conn.execute("SELECT set_config('search_path', 'pg_catalog, pg_temp', true)")
            assert _one(conn, "SELECT current_setting('search_path')")[0].startswith(OWN)
            assert _one(conn, "SELECT '1'::xid <> '2'::xid")[0] is False
        _refused_under_the_hijack(project, admin)
    assert project.dbt("run", "-s", PUBLISH).ok  # the measured rows again: published


def test_a_pg_class_of_the_engineers_own_cannot_hide_row_level_security(managed):
    """With ``search_path = <own schema>, pg_catalog`` an unqualified ``pg_class`` names the
    engineer's own relation first: a view of pg_catalog.pg_class that says no table has
    row-level security would hide a policy from the gate's hazard check (digest.read_hazards).
    Publish reads the catalog with pg_catalog first, so the policy is found and named."""
    project, admin = managed
    with psycopg.connect(admin.conninfo()) as conn:
        columns = _one(conn, "SELECT string_agg(CASE WHEN attname IN ('relrowsecurity', "
                             "'relforcerowsecurity') THEN 'false AS ' || attname "
                             "ELSE quote_ident(attname) END, ', ' ORDER BY attnum) "
                             "FROM pg_attribute WHERE attrelid = 'pg_catalog.pg_class'::regclass "
                             "AND attnum > 0 AND NOT attisdropped")[0]
    with _engineers_path_first(admin, [
            f"CREATE VIEW {OWN}.pg_class AS SELECT {columns} FROM pg_catalog.pg_class",
            f"CREATE POLICY everyone ON {STAGING} USING (true)",
            f"ALTER TABLE {STAGING} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {STAGING} FORCE ROW LEVEL SECURITY"], [
            f"DROP VIEW {OWN}.pg_class", f"ALTER TABLE {STAGING} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {STAGING} DISABLE ROW LEVEL SECURITY",
            f"DROP POLICY everyone ON {STAGING}"]) as engineer:
        with psycopg.connect(engineer.conninfo()) as conn:  # the hijack works in a session
            assert _one(conn, f"SELECT relrowsecurity FROM pg_class WHERE oid = "
                              f"'{STAGING}'::regclass")[0] is False
        _refused_under_the_hijack(project, admin, "row-level security is enabled")
    assert project.dbt("run", "-s", PUBLISH).ok  # the measured table again: published


def _staged_digest_recorded(admin):
    with psycopg.connect(admin.conninfo()) as conn:
        return _one(conn, "SELECT fingerprint ->> 'digest' FROM synthdb_audit.runs WHERE "
                          "(fingerprint ->> 'oid')::bigint = %s::regclass::oid",
                    (STAGING,))[0]


def test_hand_written_verdict_is_still_refused_at_publish(managed):
    """Even with the rights publish needs, a verdict the engineer writes by hand is refused.

    Last in the module: it leaves the staging table edited."""
    project, admin = managed
    from synthdb import db

    engineer = db.ConnectionSettings(admin.host, admin.port, ENGINEER, ENGINEER_PASSWORD,
                                     admin.dbname)
    with psycopg.connect(engineer.conninfo()) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO synthdb_audit.runs (run_id, model, outcome, fingerprint) "
                         "VALUES ('forged2', 'm', 'success', '{}')")
    before = _published_in(share_of(admin))
    with psycopg.connect(engineer.conninfo()) as conn:
        conn.execute(f"UPDATE {STAGING} SET amount = amount + 1 "
                     "WHERE ctid = (SELECT min(ctid) FROM " + STAGING + ")")
        conn.commit()
    run = project.dbt("run", "-s", PUBLISH)
    assert not run.ok and "refusing to publish" in run.output, run.output
    assert _published_in(share_of(admin)) == before


def _published_in(share):
    with psycopg.connect(share.conninfo()) as conn:
        return digest.fingerprint(conn, "partner_demo", "transactions").digest
