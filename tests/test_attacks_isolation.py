"""Issue 12, part B, tried as an attacker would: a separate destination, safe roles and keys.

Real PostgreSQL (the suite's embedded server, whose pg_hba.conf synthdb writes), real dbt. A
small release with a learned stable pseudonym is built once per module; each test is one
attack from the issue's table and asserts the refusal (and that nothing leaked or changed).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from dbtproject import make_project, scratch_database, share_of
from psycopg import sql

from synthdb.cli import main

KEY = "attack-key-Zq81-never-in-sql"
PASSWORD = "att-login-secret"
SOURCES = textwrap.dedent("""
    version: 2
    sources:
      - name: asrc
        schema: asrc
        tables:
          - name: people
            columns:
              - {name: customer_id, meta: {synthdb: {class: direct_identifier, policy: mask}}}
              - {name: full_name, meta: {synthdb: {class: direct_identifier, policy: drop}}}
              - {name: email, meta: {synthdb: {class: direct_identifier, policy: drop}}}
              - {name: region, meta: {synthdb: {class: quasi_identifier, policy: keep}}}
              - {name: band, meta: {synthdb: {class: quasi_identifier, policy: keep}}}
              - {name: amount, meta: {synthdb: {class: sensitive, policy: keep}}}
""")
CONTRACT = """{{{{ config(materialized='view', schema='att_contracts', tags=['synthdb_contract']{meta}) }}}}
select {{{{ synthdb.pseudonymize('customer_id', 'att_key') }}}} as customer_ref, region, band, amount
from {{{{ source('asrc', 'people') }}}}
"""
SYNTHETIC = """{{{{ config(materialized='synthetic', schema='{schema}',
    synth={{'source': '{contract}', 'seed': 3{extra},
           'privacy': {{'quasi_identifiers': ['region', 'band'], 'k': 5}}}}) }}}}
-- depends_on: {{{{ ref('{contract}') }}}}
select * from {{{{ this }}}}
"""
PUBLISH = """{{{{ config(materialized='publish', schema='{schema}', alias='people',
    publish={{'from': '{source}', 'recipient': '{recipient}'{extra}}}) }}}}
-- depends_on: {{{{ ref('{source}') }}}}
select * from {{{{ this }}}}
"""
ALLOW = ", meta={'synthdb': {'allow_stable_pseudonyms': true}}"


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


def _synthdb(project, *args, env=None):
    return subprocess.run([str(Path(sys.executable).with_name("synthdb")), *args],
                          cwd=project.path, env=project.env(env), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory, pg_server):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        for role in ("att_reader", "att_mallory", "att_eve", "att_evil", "att_trent"):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    with scratch_database(pg_server, "attack_isolation") as settings:
        with psycopg.connect(settings.conninfo()) as conn:
            conn.execute("CREATE SCHEMA asrc")
            # 60 customers with 50 rows each: the pseudonym repeats, so a generator learns it
            conn.execute("SELECT setseed(0.42)")  # fixed data: the gate is not a coin toss
            conn.execute("""CREATE TABLE asrc.people AS SELECT 100000 + i % 60 AS customer_id,
                'Name ' || i AS full_name, 'person' || i || '@example.com' AS email,
                (ARRAY['north','south','east','west'])[1 + i % 4] AS region,
                (ARRAY['a','b','c'])[1 + i % 3] AS band,
                round((random() * 900 + 10)::numeric, 2) AS amount
                FROM generate_series(1, 3000) i""")
            conn.commit()
        proj = make_project(tmp_path_factory.mktemp("attack_project"), settings,
                            with_demo_models=False)
        proj.write("models/sources.yml", SOURCES)
        proj.write("models/att_contract.sql", CONTRACT.format(meta=ALLOW))
        proj.write("models/att_strict_contract.sql", CONTRACT.format(meta=""))
        proj.write("models/att_synthetic.sql", SYNTHETIC.format(
            schema="att_staging", contract="att_contract", extra=""))
        proj.write("models/att_people.sql", PUBLISH.format(
            schema="att", source="att_synthetic", recipient="att", extra=""))
        stored = _synthdb(proj, "key", "set", "att_key", "--from-env", "ATT_KEY",
                          env={"ATT_KEY": KEY})
        assert stored.returncode == 0, stored.stderr
        assert KEY not in stored.stdout + stored.stderr
        assert proj.dbt("compile").ok
        lock = _synthdb(proj, "validate", "--update")
        assert lock.returncode == 0, lock.stdout + lock.stderr
        run = proj.dbt("build")
        assert run.ok, run.output
        added = _synthdb(proj, "recipient", "add-user", "att", "att_eve", "--password-env",
                         "ATT_PW", env={"ATT_PW": PASSWORD})
        assert added.returncode == 0, added.stderr
        yield proj


def _recipient(project, password=PASSWORD, source=False):
    settings = project.settings if source else share_of(project.settings)
    return psycopg.connect(settings.conninfo(user="att_eve", password=password),
                           autocommit=True)


def test_recipient_login_cannot_connect_to_the_source_database(project):
    with _recipient(project) as conn:
        assert _one(conn, "SELECT count(*) FROM att.people")[0] > 0
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects connection"):
        _recipient(project, source=True)
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects connection"):
        psycopg.connect(project.settings.conninfo(user="att_eve", password=PASSWORD,
                                                  dbname="postgres"))


def test_wrong_or_missing_password_is_refused(project):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _recipient(project, password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        _recipient(project, password="")


def test_destination_catalog_shows_no_contract_sql_columns_or_row_counts(project):
    with _recipient(project) as conn:
        views = " ".join(r[0] for r in conn.execute(
            "SELECT definition FROM pg_views WHERE schemaname NOT IN "
            "('pg_catalog', 'information_schema')"))
        names = " ".join(r[0] for r in conn.execute(
            "SELECT c.relname || ' ' || coalesce(string_agg(a.attname, ' '), '') FROM pg_class c "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN "
            "('pg_catalog', 'information_schema', 'pg_toast') GROUP BY c.relname"))
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    for secret in ("asrc", "full_name", "email", "customer_id", "att_contract", "att_staging",
                   "synthdb_keys", "pseudonym", "synthdb_audit"):
        assert secret not in views, secret
        assert secret not in names, secret
        assert secret not in schemas, secret
    assert "att" in schemas and "customer_ref" in names


def test_no_key_in_catalogs_files_or_audit_rows(project):
    needles = [KEY, KEY.encode().hex()]
    for settings in (project.settings, share_of(project.settings)):
        with psycopg.connect(settings.conninfo()) as conn:
            text = " ".join(r[0] or "" for r in conn.execute(
                "SELECT definition FROM pg_views UNION ALL SELECT prosrc FROM pg_proc "
                "UNION ALL SELECT coalesce(obj_description(oid, 'pg_class'), '') FROM pg_class"))
            if settings is project.settings:
                assert "att_key" in text  # the view names the key ...
                text += " ".join(r[0] for r in conn.execute(
                    "SELECT t::text FROM synthdb_audit.runs t UNION ALL "
                    "SELECT t::text FROM synthdb_audit.metrics t UNION ALL "
                    "SELECT t::text FROM synthdb_audit.releases t"))
            for needle in needles:
                assert needle not in text  # ... never the key
    scanned = 0
    for folder in ("target", "logs", "evidence"):
        for path in (project.path / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                scanned += 1
                for needle in needles:
                    assert needle.encode() not in data, path
    assert scanned > 10


def test_key_table_is_closed_to_other_roles(project):
    with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE ROLE att_trent LOGIN PASSWORD 'trent-secret-1'")
        conn.execute("GRANT USAGE ON SCHEMA synthdb_keys TO att_trent")
    try:
        with psycopg.connect(project.settings.conninfo(user="att_trent",
                                                       password="trent-secret-1")) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM synthdb_keys.keys")
            conn.rollback()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT synthdb_keys.pseudonym('100001', 'att_key')")
    finally:
        with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
            conn.execute("REVOKE USAGE ON SCHEMA synthdb_keys FROM att_trent")
            conn.execute("DROP ROLE att_trent")


def test_learned_pseudonyms_are_measured_on_the_report_card(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        row = _one(conn, """SELECT m.value, m.details FROM synthdb_audit.metrics m
            JOIN synthdb_audit.runs r USING (run_id) WHERE r.model = 'att_synthetic'
            AND m.check_name = 'linkability' ORDER BY r.started_at DESC LIMIT 1""")
    assert row is not None
    # 60 repeated pseudonyms are learned as categories: published ones are real ones
    assert row[0] > 0.5 and row[1]["found_in_contract"] > 0
    evidence = (project.path / "evidence" / project.settings.dbname / "att" / "people" / "v1"
                / "qa_report.html")
    html = evidence.read_text()
    assert 'data-check="linkability"' in html and "pseudonym_relink_share.customer_ref" in html


def test_learned_pseudonyms_without_permission_are_refused(project):
    project.write("models/att_strict_synthetic.sql", SYNTHETIC.format(
        schema="att_strict_staging", contract="att_strict_contract", extra=""))
    try:
        run = project.dbt("run", "-s", "att_strict_contract", "att_strict_synthetic")
        assert not run.ok
        assert "customer_ref" in run.output and "stable pseudonyms" in run.output
        assert "allow_stable_pseudonyms" in run.output
        with psycopg.connect(project.settings.conninfo()) as conn:
            assert _one(conn, "SELECT to_regclass('att_strict_staging.att_strict_synthetic')"
                        )[0] is None
        # generated fresh (mock), the column needs no permission
        project.write("models/att_strict_synthetic.sql", SYNTHETIC.format(
            schema="att_strict_staging", contract="att_strict_contract",
            extra=", 'columns': {'customer_ref': {'method': 'mock'}}"))
        run = project.dbt("run", "-s", "att_strict_synthetic")
        # (its privacy gate may pass or fail on these few rows; the pseudonym rule is passed)
        assert "stable pseudonyms" not in run.output
        assert "att_strict_synthetic: read training input done" in run.output, run.output
    finally:
        (project.path / "models" / "att_strict_synthetic.sql").unlink()


@pytest.mark.parametrize("role", ["postgres", "pg_read_all_data", "att_evil"])
def test_add_user_into_a_foreign_role_is_refused(project, role, capsys, monkeypatch):
    for key, value in project.env().items():
        if key.startswith("SYNTHDB_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)
    with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS att_evil")
        conn.execute("CREATE ROLE att_evil NOLOGIN")  # made by hand, not by synthdb
    assert main(["recipient", "add-user", "att", "att_mallory", "--role", role]) == 2
    err = capsys.readouterr().err
    assert role in err and "Traceback" not in err
    assert ("reserved" in err) if role.startswith("pg_") else (
        "SUPERUSER" in err or "synthdb did not create it" in err)
    with psycopg.connect(project.settings.conninfo()) as conn:
        assert _one(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'att_mallory'")[0] == 0


@pytest.mark.parametrize("grant, revoke, message", [
    ("GRANT pg_read_all_data TO att_reader", "REVOKE pg_read_all_data FROM att_reader",
     "member of pg_read_all_data"),
    ("GRANT INSERT ON att.people TO att_reader", "REVOKE INSERT ON att.people FROM att_reader",
     "att.people: INSERT"),
    ("GRANT CREATE ON SCHEMA att TO att_reader", "REVOKE CREATE ON SCHEMA att FROM att_reader",
     "schema att: CREATE"),
])
def test_tampered_group_role_blocks_publish_and_add_user(project, capsys, monkeypatch, grant,
                                                         revoke, message):
    for key, value in project.env().items():
        if key.startswith("SYNTHDB_"):
            monkeypatch.setenv(key, value)
    share = share_of(project.settings)
    with psycopg.connect(share.conninfo(), autocommit=True) as conn:
        conn.execute(grant)
        version = _one(conn, "SELECT max(version) FROM synthdb_share.releases")[0]
    try:
        assert main(["recipient", "add-user", "att", "att_mallory"]) == 2
        assert message in capsys.readouterr().err
        run = project.dbt("run", "-s", "att_people")
        assert not run.ok and message in run.output
        with psycopg.connect(share.conninfo()) as conn:
            assert _one(conn, "SELECT max(version) FROM synthdb_share.releases")[0] == version
    finally:
        with psycopg.connect(share.conninfo(), autocommit=True) as conn:
            conn.execute(revoke)


@pytest.mark.parametrize("extra, message", [
    (", 'role': 'pg_read_all_data'", "reserved pg_*"),
    (", 'role': 'postgres'", "has SUPERUSER"),
])
def test_publish_config_role_is_refused(project, extra, message):
    project.write("models/att_bad.sql", PUBLISH.format(
        schema="att_bad", source="att_synthetic", recipient="att", extra=extra))
    try:
        run = project.dbt("run", "-s", "att_bad")
    finally:
        (project.path / "models" / "att_bad.sql").unlink()
    assert not run.ok and message in run.output
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        assert _one(conn, "SELECT to_regclass('att_bad.people')")[0] is None


def test_path_traversal_in_recipient_and_evidence_dir_is_refused(project, tmp_path):
    escape = tmp_path / "escaped"
    relative = "../" * 12 + str(escape).lstrip("/")
    project.write("models/att_bad.sql", PUBLISH.format(
        schema="att_bad", source="att_synthetic", recipient=relative, extra=""))
    try:
        run = project.dbt("run", "-s", "att_bad")
    finally:
        (project.path / "models" / "att_bad.sql").unlink()
    assert not run.ok and "use letters, digits and _ only" in run.output
    project.write("models/att_bad_synthetic.sql", SYNTHETIC.format(
        schema="att_bad_staging", contract="att_contract",
        extra=f", 'evidence_dir': '{relative}'"))
    try:
        run = project.dbt("run", "-s", "att_bad_synthetic")
    finally:
        (project.path / "models" / "att_bad_synthetic.sql").unlink()
    assert not run.ok and "leaves the project" in run.output
    assert not escape.exists()


def test_export_outside_the_project_is_refused(project, tmp_path, capsys, monkeypatch):
    for key, value in project.env().items():
        if key.startswith("SYNTHDB_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)
    out = tmp_path / "bundle"
    code = main(["export", "att/people", "--ticket", "T", "--ttl", "1d", "--out",
                 "../" * 12 + str(out).lstrip("/"), "--key-file", str(tmp_path / "k")])
    assert code == 2 and "leaves the project folder" in capsys.readouterr().err
    assert not out.exists()


def test_unmanaged_server_source_exposure_is_warned_until_revoked(project):
    """Outside the embedded server synthdb does not change grants; it warns while recipients
    could connect to the source. A role that cannot read the data directory (not a superuser)
    sees the server as unmanaged, as on any operator-run server."""
    from synthdb.release.destination import source_exposure

    db = project.settings.dbname
    with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE ROLE att_trent LOGIN PASSWORD 'trent-secret-1'")
    try:
        trent = project.settings.conninfo(user="att_trent", password="trent-secret-1")
        with psycopg.connect(trent, autocommit=True) as conn:
            warning = source_exposure(conn, db)
        assert warning and f"REVOKE CONNECT ON DATABASE {db} FROM PUBLIC" in warning
        with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(db)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO att_trent").format(
                sql.Identifier(db)))
        with psycopg.connect(trent, autocommit=True) as conn:
            assert source_exposure(conn, db) is None
    finally:
        with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(
                sql.Identifier(db)))
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM att_trent").format(
                sql.Identifier(db)))
            conn.execute("DROP ROLE att_trent")
