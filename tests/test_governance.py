"""Release governance (issue 6): recipient logins, signed export bundles, approvals, the
recipients' releases view and changelogs. Real dbt builds a small release for two recipients
on a real PostgreSQL; the governance commands run through the CLI entry point."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from dbtproject import (
    REPO,
    create_people_source,
    make_project,
    people_sources,
    scratch_database,
    share_of,
)
from psycopg import sql

from synthdb.cli import main
from synthdb.governance import bundle, signing
from synthdb.governance.errors import ExportError, NotApproved
from synthdb.governance.releases import ReleaseRef
from synthdb.release.publish import PublishRequest, parse_publish_config, run_publish

SOURCES = people_sources("gsrc")
CONTRACT = """{{ config(materialized='view', schema='gov_contracts', tags=['synthdb_contract']) }}
select {{ synthdb.mask_uuid('id') }} as ref, region, band, amount, joined from {{ source('gsrc', 'people') }}
"""
SYNTHETIC = """{{ config(materialized='synthetic', schema='gov_staging',
    synth={'source': 'gov_contract', 'seed': 5, 'columns': {'ref': {'method': 'mock'}},
           'privacy': {'quasi_identifiers': ['region', 'band'], 'k': 5}}) }}
-- depends_on: {{ ref('gov_contract') }}
select * from {{ this }}
"""
PUBLISH = """{{{{ config(materialized='publish', schema='{recipient}', alias='people',
    publish={{'from': '{source}', 'recipient': '{recipient}', 'role': '{recipient}_reader',
             'owner': 'data@example.com', 'purpose': 'testing', 'retention': 'P30D',
             'licence': 'test only'}}) }}}}
-- depends_on: {{{{ ref('{source}') }}}}
select * from {{{{ this }}}}
"""
# Two recipients never share a staging schema: every recipient but acme gets its own synthetic
# model (acme's is gov_synthetic in gov_staging, the one the generic tests are attached to).
SOURCE_OF = {"acme": "gov_synthetic", "beta": "beta_synthetic", "gamma": "gamma_synthetic",
             "delta": "delta_synthetic"}


def publish_model(recipient: str) -> str:
    return PUBLISH.format(recipient=recipient, source=SOURCE_OF[recipient])


def synthetic_model(recipient: str) -> str:
    return SYNTHETIC.replace("schema='gov_staging'", f"schema='{recipient}_staging'")


TESTS = textwrap.dedent("""
    version: 2
    models:
      - name: gov_synthetic
        data_tests:
          - synthdb.k_anonymity: {arguments: {quasi_identifiers: [region, band], k: 5}}
          - synthdb.rare_categories: {arguments: {columns: [region, band], min_count: 10}}
          - synthdb.no_leakage
""")


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


@pytest.fixture(scope="module")
def project(tmp_path_factory, pg_server):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        for role in (
            "acme_reader",
            "beta_reader",
            "gamma_reader",
            "gov_ann",
            "gov_bob",
            "gov_gail",
        ):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    with scratch_database(pg_server, "gov_release") as settings:
        create_people_source(settings, "gsrc")
        proj = make_project(tmp_path_factory.mktemp("gov_project"), settings, with_demo_models=False)
        proj.write("models/sources.yml", SOURCES)
        proj.write("models/gov_contract.sql", CONTRACT)
        proj.write("models/gov_synthetic.sql", SYNTHETIC)
        for recipient in ("beta", "gamma", "delta"):
            proj.write(f"models/{recipient}_synthetic.sql", synthetic_model(recipient))
        proj.write("models/schema.yml", TESTS)
        for recipient in ("acme", "beta"):
            proj.write(f"models/{recipient}_people.sql", publish_model(recipient))
        if (REPO / "synthdb" / "release" / "contract_gate.py").exists():
            # synthesis checks the share contract against the approved lock file first
            assert proj.dbt("compile").ok
            lock = subprocess.run(
                [str(Path(sys.executable).with_name("synthdb")), "validate", "--update"],
                cwd=proj.path,
                env=proj.env(),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert lock.returncode == 0, lock.stdout + lock.stderr
        run = proj.dbt("build")
        assert run.ok, run.output
        yield proj


@pytest.fixture()
def cli(project, monkeypatch, tmp_path):
    """Run the synthdb CLI in-process against the project's database; returns (code, err)."""
    for key, value in project.env().items():
        if key.startswith("SYNTHDB_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    monkeypatch.setenv("GOV_PASSWORD", PASSWORD)
    monkeypatch.chdir(project.path)

    def call(*argv: str) -> int:
        return main(list(argv))

    return call


PASSWORD = "gov-login-secret"


def _login(project, user):
    """A recipient login: to the release destination, with its password (scram)."""
    return psycopg.connect(share_of(project.settings).conninfo(user=user, password=PASSWORD),
                           autocommit=True)


def _share(project):
    return psycopg.connect(share_of(project.settings).conninfo())


@pytest.fixture()
def bundles(project, tmp_path):
    """A folder for export bundles inside the project (exports may not leave it)."""
    return project.path / "bundles" / tmp_path.name


def test_add_user_reads_own_release_and_nothing_else(project, cli, capsys):
    assert cli("recipient", "add-user", "acme", "gov_ann", "--password-env", "GOV_PASSWORD") == 0
    assert "member of acme_reader" in capsys.readouterr().out
    with _login(project, "gov_ann") as conn:
        assert _one(conn, "SELECT count(*) FROM acme.people")[0] > 2000
        assert _one(conn, "SELECT version FROM acme.releases")[0] == 1
        # source, contract, staging and audit live in another database: not even names here
        for relation in ("gsrc.people", "gov_contracts.gov_contract",
                         "gov_staging.gov_synthetic", "synthdb_audit.runs"):
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
        for relation in ("beta.people", "beta.releases", "synthdb_share.releases"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE acme.x (a int)")
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        psycopg.connect(project.settings.conninfo(user="gov_ann", password=PASSWORD))


def test_add_user_errors_are_one_line(project, cli, capsys):
    assert cli("recipient", "add-user", "nobody", "gov_bob") == 2
    err = capsys.readouterr().err
    assert "recipient nobody" in err and "--role" in err and "Traceback" not in err
    assert cli("recipient", "add-user", "acme", "gov_bob", "--password-env", "GOV_UNSET") == 2
    assert "GOV_UNSET" in capsys.readouterr().err
    with psycopg.connect(project.settings.conninfo()) as conn:
        assert _one(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'gov_bob'")[0] == 0


def _export(cli, out, *extra):
    return cli(
        "export",
        "acme/people/v1",
        "--ticket",
        "T-1",
        "--ttl",
        "7d",
        "--out",
        str(out),
        "--key-file",
        str(out.parent / "key" / "signing.key"),
        *extra,
    )


def test_export_bundle_contents_and_verify(project, cli, capsys, bundles):
    out = bundles / "bundle"
    assert _export(cli, out, "--csv") == 0
    key = bundles / "key" / "signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    names = {p.name for p in out.iterdir()}
    assert {
        "data.parquet",
        "data.csv",
        "metadata.json",
        "data_dictionary.json",
        "pii_columns.json",
        "LICENCE.txt",
        "manifest.json",
        "token.json",
    } <= names
    with _share(project) as conn:
        count, total = _one(conn, "SELECT count(*), sum(amount)::text FROM acme.people")
    table = pq.read_table(out / "data.parquet")
    assert table.num_rows == count
    assert table.column_names == ["ref", "region", "band", "amount", "joined"]
    assert str(table.schema.field("joined").type) == "date32[day]"
    assert sum(
        __import__("decimal").Decimal(v) for v in table["amount"].to_pylist() if v is not None
    ) == __import__("decimal").Decimal(total)
    assert len((out / "data.csv").read_text().splitlines()) == count + 1
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["synthetic"] is True and meta["version"] == 1 and meta["recipient"] == "acme"
    assert meta["purpose"] == "testing" and meta["privacy_controls"]["k"] == 5
    pii = {c["column"]: c for c in json.loads((out / "pii_columns.json").read_text())["columns"]}
    assert pii["region"]["class"] == "quasi_identifier"
    # traced through the contract's lineage to the source column's meta.synthdb class
    assert pii["ref"]["class"] == "direct_identifier"
    assert pii["ref"]["contract_policy"] == "mask" and pii["ref"]["generator"] == "mock"
    assert pii["ref"]["from_source_columns"] == ["gsrc.people.id"]
    assert "amount" not in pii and "joined" not in pii  # sensitive / other are not identifiers
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == names - {"manifest.json", "token.json"}
    assert "test only" in (out / "LICENCE.txt").read_text()
    assert cli("verify", str(out), "--key-file", str(key)) == 0
    assert "OK" in capsys.readouterr().out
    with psycopg.connect(project.settings.conninfo()) as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM synthdb_audit.downloads WHERE details->>'bundle' = %s "
                "ORDER BY download_id",
                (str(out.resolve()),),
            )
        ]
    assert actions == ["export", "verify"]


def test_altered_forged_and_expired_bundles_are_rejected(project, cli, capsys, bundles):
    key = bundles / "key" / "signing.key"
    out = bundles / "bundle"
    assert _export(cli, out) == 0
    capsys.readouterr()

    def verify(path):
        code = cli("verify", str(path), "--key-file", str(key))
        return code, capsys.readouterr().err

    # altered data file
    data = out / "data.parquet"
    original = data.read_bytes()
    data.write_bytes(original[:-10] + b"0123456789")
    code, err = verify(out)
    assert code == 1 and "file data.parquet was altered" in err
    data.write_bytes(original)
    assert verify(out)[0] == 0
    # edited token (later expiry), kept the old signature
    token = json.loads((out / "token.json").read_text())
    edited = json.loads(json.dumps(token))
    edited["payload"]["expires_at"] = "2099-01-01T00:00:00+00:00"
    (out / "token.json").write_text(json.dumps(edited))
    code, err = verify(out)
    assert code == 1 and "edited after signing" in err
    # re-signed with another key
    forged = signing.sign(
        {k: v for k, v in token["payload"].items() if k not in ("key_id", "alg")},
        b"another-key-0123456789abcdef",
    )
    (out / "token.json").write_text(json.dumps(forged))
    code, err = verify(out)
    assert code == 1 and "signed with another key" in err
    (out / "token.json").write_text(json.dumps(token))
    # expired: a bundle issued 8 days ago with a 7-day lifetime
    old = bundles / "old"
    bundle.export_bundle(
        project.settings,
        ReleaseRef.parse("acme/people"),
        ticket="T-2",
        ttl="7d",
        out=old,
        key_file=key,
        project_dir=project.path,
        now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8),
    )
    code, err = verify(old)
    assert code == 1 and "token expired at" in err
    with psycopg.connect(project.settings.conninfo()) as conn:
        rejected = _one(
            conn,
            "SELECT count(*) FROM synthdb_audit.downloads WHERE "
            "action = 'verify' AND details->>'ok' = 'false'",
        )[0]
    assert rejected >= 4


def test_export_user_errors(project, cli, capsys, tmp_path):
    assert (
        cli(
            "export",
            "acme/people/v9",
            "--ticket",
            "T",
            "--ttl",
            "1d",
            "--out",
            str(tmp_path / "x"),
            "--key-file",
            str(tmp_path / "k"),
        )
        == 2
    )
    assert "acme/people/v9" in capsys.readouterr().err
    assert (
        cli(
            "export",
            "acme/people",
            "--ticket",
            "T",
            "--ttl",
            "forever",
            "--out",
            str(tmp_path / "x"),
            "--key-file",
            str(tmp_path / "k"),
        )
        == 2
    )
    assert "--ttl 'forever'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_approval_required_grants_only_after_approve(project, cli, capsys, tmp_path, bundles):
    from synthdb.errors import ConfigError
    from synthdb.release import publish

    config = {"from": "s", "recipient": "r", "approval_required": True}
    if publish.ADAPTER_FORWARDS_APPROVAL:
        assert parse_publish_config(config, "m")["approval_required"] is True
    else:  # fail closed: never accept a flag the adapter would drop
        with pytest.raises(ConfigError, match="approval_required is not supported"):
            parse_publish_config(config, "m")
    with pytest.raises(ConfigError, match="true or false"):
        parse_publish_config({**config, "approval_required": "yes"}, "m")
    request = PublishRequest(
        model="gamma_people",
        staging=("gamma_staging", "gamma_synthetic"),
        target=("gamma", "people"),
        recipient="gamma",
        role="gamma_reader",
        metadata={"purpose": "approval test"},
        approval_required=True,
        protected_schemas=["gsrc", "gov_contracts"],
        project_root=str(project.path),
    )
    result = run_publish(project.settings, request)
    assert result["version"] == 1
    assert cli("recipient", "add-user", "gamma", "gov_gail", "--password-env", "GOV_PASSWORD") == 0
    with _share(project) as conn:
        assert (
            _one(conn, "SELECT has_table_privilege('gamma_reader', 'gamma.people', 'SELECT')")[0]
            is False
        )
    with _login(project, "gov_gail") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM gamma.people LIMIT 1")
        assert _one(conn, "SELECT count(*) FROM gamma.releases")[0] == 0
    with pytest.raises(NotApproved, match="requires approval"):
        bundle.export_bundle(
            project.settings,
            ReleaseRef.parse("gamma/people/v1"),
            ticket="T",
            ttl="1d",
            out=bundles / "g",
            key_file=tmp_path / "k" / "key",
        )
    with psycopg.connect(project.settings.conninfo()) as conn:
        refused = _one(
            conn,
            "SELECT d.ticket, d.details->>'reason' FROM synthdb_audit.downloads "
            "d JOIN synthdb_audit.releases r USING (release_id) "
            "WHERE r.recipient = 'gamma' AND d.action = 'export_refused'",
        )
    assert refused[0] == "T" and "requires approval" in refused[1]
    capsys.readouterr()
    assert cli("approve", "gamma/people/v1", "--ticket", "CAB-7", "--by", "Pat Officer") == 0
    assert "granted SELECT to gamma_reader" in capsys.readouterr().out
    with psycopg.connect(project.settings.conninfo()) as conn:
        row = _one(
            conn,
            "SELECT a.ticket, a.approved_by, a.run_id = r.run_id FROM "
            "synthdb_audit.approvals a JOIN synthdb_audit.releases r "
            "USING (release_id) WHERE r.recipient = 'gamma'",
        )
    assert row == ("CAB-7", "Pat Officer", True)
    with _login(project, "gov_gail") as conn:
        assert _one(conn, "SELECT count(*) FROM gamma.people")[0] > 2000
        assert _one(conn, "SELECT count(*) FROM gamma.releases")[0] == 1
    assert cli("approve", "gamma/people/v1", "--ticket", "CAB-8", "--by", "X") == 2
    assert "already approved by Pat Officer" in capsys.readouterr().err
    assert cli("approve", "acme/people/v1", "--ticket", "CAB-9", "--by", "X") == 2
    assert "did not require approval" in capsys.readouterr().err
    out = bundles / "g2"
    assert (
        bundle.export_bundle(
            project.settings,
            ReleaseRef.parse("gamma/people/v1"),
            ticket="T",
            ttl="1d",
            out=out,
            key_file=tmp_path / "k" / "key",
        ).rows
        > 2000
    )
    # v2 awaits its approval, then v3 replaces it: approving v2 would grant rows v2 no longer
    # holds (the table is v3's now), so it is refused and grants nothing
    assert run_publish(project.settings, request)["version"] == 2
    assert run_publish(project.settings, request)["version"] == 3
    assert cli("approve", "gamma/people/v2", "--ticket", "CAB-10", "--by", "X") == 2
    assert "a newer version replaced it" in capsys.readouterr().err
    with _share(project) as conn:
        assert (
            _one(conn, "SELECT has_table_privilege('gamma_reader', 'gamma.people', 'SELECT')")[0]
            is False
        )


def test_releases_view_and_changelog(project, cli, tmp_path, bundles):
    run = project.dbt("run", "-s", "acme_people")
    assert run.ok, run.output
    with _login(project, "gov_ann") as conn:
        rows = conn.execute(
            "SELECT version, run_id, rows, metadata->>'synthetic', "
            "changelog->>'summary', changelog->>'since' FROM acme.releases "
            "ORDER BY version"
        ).fetchall()
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][4] == "first release" and rows[1][5] == "acme/people/v1"
    assert rows[1][4] == "no changes" and rows[0][1] == rows[1][1]
    assert rows[1][2] > 2000 and rows[1][3] == "true"
    manifest = json.loads(
        (project.path / "evidence" / project.settings.dbname / "acme" / "people" / "v2"
         / "manifest.json").read_text()
    )
    assert manifest["changelog"]["rows"] == [rows[0][2], rows[1][2]]
    assert manifest["role"] == "acme_reader" and manifest["approval_required"] is False
    # v1's rows are no longer what the table holds: exporting v1 is refused, v2 is not
    with pytest.raises(ExportError, match="only the latest version's data can be exported"):
        bundle.export_bundle(project.settings, ReleaseRef.parse("acme/people/v1"), ticket="T",
                             ttl="1d", out=bundles / "b1", key_file=tmp_path / "k" / "key")
    assert bundle.export_bundle(project.settings, ReleaseRef.parse("acme/people/v2"),
                                ticket="T", ttl="1d", out=bundles / "b2",
                                key_file=tmp_path / "k" / "key").rows == rows[1][2]
    assert {c["name"] for c in manifest["columns"]} == {"ref", "region", "band", "amount", "joined"}


def test_changelog_reports_column_and_threshold_changes():
    from synthdb.release.publish import changelog

    old = {
        "release": "a/t/v1",
        "columns": [{"name": "x", "type": "integer"}, {"name": "y", "type": "text"}],
        "generator": {"method": "copula"},
        "thresholds": {"k_anonymity.min_k": 5},
        "rows": 10,
    }
    new = {
        "columns": [{"name": "x", "type": "bigint"}, {"name": "z", "type": "date"}],
        "generator": {"method": "mock"},
        "thresholds": {"k_anonymity.min_k": 10},
        "rows": 10,
    }
    log = changelog(old, new)
    assert log["columns_added"] == ["z"] and log["columns_removed"] == ["y"]
    assert log["types_changed"] == {"x": ["integer", "bigint"]}
    assert log["generator_changed"] and log["thresholds_changed"] == {"k_anonymity.min_k": [5, 10]}
    assert log["summary"] == "changed: columns, generator, thresholds"


def test_parquet_keeps_types_nulls_and_odd_text(fresh_db, tmp_path):
    import decimal

    odd = 'we"ird, col\nname'
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE t (i integer, b boolean, ts timestamp, tz timestamptz, d date, "
                "m numeric(12,2), n numeric, u uuid, j jsonb, a int[], f double precision, {} text)"
            ).format(sql.Identifier(odd))
        )
        conn.execute("""INSERT INTO t VALUES
            (1, true, '2024-02-29 23:59:59.123456', '2024-06-01 12:00:00+02', '1999-12-31',
             1234567890.12, 0.1000000000000000000001, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
             '{"k": [1, 2]}', '{1,2}', 0.1, 'line1
line2 "quoted", comma'),
            (NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''),
            (3, NULL, '1970-01-01', '1970-01-01 00:00:00+00', '2000-01-01', -0.01, 5, NULL,
             'null', '{}', -1e300, NULL)""")
        rows = bundle.write_table_data(conn, "public", "t", tmp_path, with_csv=True)
    assert rows == 3
    table = pq.read_table(tmp_path / "data.parquet")
    types = {f.name: str(f.type) for f in table.schema}
    assert types["i"] == "int32" and types["b"] == "bool" and types["m"] == "decimal128(12, 2)"
    assert types["tz"] == "timestamp[us, tz=UTC]" and types["n"] == "string"
    got = table.to_pylist()
    assert got[0]["b"] is True and got[1]["b"] is False and got[2]["b"] is None
    assert got[0]["ts"] == dt.datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert got[0]["tz"] == dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert got[0]["m"] == decimal.Decimal("1234567890.12") and got[2]["m"] == decimal.Decimal(
        "-0.01"
    )
    assert got[0]["n"] == "0.1000000000000000000001" and got[0]["f"] == 0.1
    assert got[0][odd] == 'line1\nline2 "quoted", comma'
    assert got[1][odd] == "" and got[2][odd] is None  # empty string and NULL stay distinct
    assert got[1]["i"] is None and got[2]["f"] == -1e300
    assert json.loads(got[0]["j"]) == {"k": [1, 2]} and got[0]["a"] == "{1,2}"
    import csv

    with open(tmp_path / "data.csv", newline="") as handle:
        records = list(csv.reader(handle))
    assert len(records) == 4 and records[0][-1] == odd
    assert records[1][-1] == 'line1\nline2 "quoted", comma' and records[1][3].endswith("+00")


def test_dbt_publish_with_approval_required(project):
    """Through dbt: fail closed until the adapter forwards the key, then publish ungranted."""
    from synthdb.release import publish

    project.write(
        "models/delta_people.sql",
        publish_model("delta").replace(
            "'licence': 'test only'", "'licence': 'test only', 'approval_required': True"
        ),
    )
    try:
        run = project.dbt("run", "-s", "delta_people")
    finally:
        (project.path / "models" / "delta_people.sql").unlink()
    with _share(project) as conn:
        exists = _one(conn, "SELECT to_regclass('delta.people') IS NOT NULL")[0]
        granted = (
            exists
            and _one(conn, "SELECT has_table_privilege('delta_reader', 'delta.people', 'SELECT')")[
                0
            ]
        )
    if publish.ADAPTER_FORWARDS_APPROVAL:
        assert run.ok, run.output
        assert exists and not granted
    else:
        assert not run.ok and "approval_required is not supported" in run.output
        assert not exists


def test_verify_usage_errors_exit_2(project, cli, capsys, tmp_path):
    assert cli("verify", str(tmp_path), "--key-file", str(tmp_path / "none.key")) == 2
    assert "no signing key" in capsys.readouterr().err
    key = tmp_path / "k.key"
    key.write_text("0123456789abcdef0123")
    key.chmod(0o644)
    assert cli("verify", str(tmp_path), "--key-file", str(key)) == 2
    assert "readable by others" in capsys.readouterr().err
    key.chmod(0o600)
    assert cli("verify", str(tmp_path / "nope"), "--key-file", str(key)) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_staging_schema_serves_one_recipient(project):
    """Publishing acme's staging table to another recipient is refused (issue 6)."""
    from synthdb.errors import ConfigError

    request = PublishRequest(
        model="epsilon_people", staging=("gov_staging", "gov_synthetic"),
        target=("epsilon", "people"), recipient="epsilon", role="epsilon_reader",
        protected_schemas=["gsrc", "gov_contracts"], project_root=str(project.path),
    )
    with pytest.raises(ConfigError, match="already serves recipient 'acme'"):
        run_publish(project.settings, request)
    with _share(project) as conn:
        assert _one(conn, "SELECT to_regclass('epsilon.people')")[0] is None
