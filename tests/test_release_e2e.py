"""The whole release flow through real `dbt build` on a real PostgreSQL (issue 2).

One database and one copy of the demo project for the module; the tests run in file order and
build on each other: release, recipient isolation, `dbt show`, a failing gate that must not
touch the published release, and attempts to bypass the gate.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from dbtproject import share_of


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_release):
    """The demo right after its first build (conftest.demo_release), this module's copy."""
    return demo_release.copy(tmp_path_factory.mktemp("demo_project") / "project")


@pytest.fixture(scope="module")
def released(project, demo_release):
    """The first build's result (the state ``project`` starts from)."""
    return demo_release.run


def _share(project):
    """A connection to the release destination (``<source db>_share``)."""
    return psycopg.connect(share_of(project.settings).conninfo())


def _published_state(project):
    with _share(project) as conn:
        comment = _one(conn, "SELECT obj_description('partner_demo.transactions'::regclass)")[0]
        count = _one(conn, "SELECT count(*) FROM partner_demo.transactions")[0]
        digest = _one(conn, "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) "
                            "FROM partner_demo.transactions t")[0]
    return json.loads(comment), count, digest


def test_build_publishes_with_evidence(project, released):
    assert "PASS=7" in released.output  # 3 models + 4 tests (k_anonymity, rare, no_leakage, utility)
    meta, count, _ = _published_state(project)
    assert meta["synthetic"] is True and meta["version"] == 1
    assert meta["recipient"] == "partner_demo"
    with psycopg.connect(project.settings.conninfo()) as conn:
        source_rows = _one(conn, "SELECT count(*) FROM prod.transactions")[0]
        run = _one(conn, "SELECT outcome, synthetic_rows, suppressed_rows, train_rows, "
                         "holdout_rows FROM synthdb_audit.runs WHERE run_id = %s",
                   (meta["run_id"],))
        verdict = _one(conn, "SELECT passed FROM synthdb_audit.verdicts WHERE run_id = %s",
                       (meta["run_id"],))[0]
        releases = _one(conn, "SELECT count(*) FROM synthdb_audit.releases")[0]
    assert run[0] == "success" and verdict is True and releases == 1
    assert count == run[1] and run[1] + run[2] == source_rows
    assert run[3] + run[4] == source_rows and run[4] > 0.15 * source_rows
    evidence = (project.path / "evidence" / project.settings.dbname / "partner_demo"
                / "transactions" / "v1")
    manifest = json.loads((evidence / "manifest.json").read_text())
    assert {"metadata.json", "data_dictionary.json"} <= set(manifest["files"])
    assert json.loads((evidence / "metadata.json").read_text())["synthetic"] is True


def test_report_is_regenerated_from_the_database(project, released, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    meta, _, _ = _published_state(project)
    out = tmp_path / "again.html"
    synthdb = str(Path(sys.executable).with_name("synthdb"))
    proc = subprocess.run([synthdb, "report", "synthetic_transactions", "--out", str(out)],
                          env=project.env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert meta["run_id"] in html and "k_anonymity" in html and "<img" in html
    assert "@" not in proc.stdout + proc.stderr


def test_no_source_row_is_published(project, released):
    columns = ("age_band, region, gender, annual_income, product_category, event_month, "
               "amount, channel")
    # the release lives in another database: copy it back into a temporary table, then
    # INTERSECT ALL compares whole rows with NULLs equal, by hashing (no nested loop).
    with _share(project) as share, psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("CREATE TEMP TABLE published AS SELECT * FROM "
                     "synthdb_contracts.contract_transactions WITH NO DATA")
        with share.cursor().copy(f"COPY (SELECT {columns} FROM partner_demo.transactions) "
                                 "TO STDOUT (FORMAT binary)") as out, \
                conn.cursor().copy(f"COPY published ({columns}) FROM STDIN (FORMAT binary)") \
                as into:
            for block in out:
                into.write(block)
        copies = _one(conn, f"""
            SELECT count(*) FROM (
                SELECT {columns} FROM published
                INTERSECT ALL
                SELECT {columns} FROM synthdb_contracts.contract_transactions) c""")[0]
        total = _one(conn, "SELECT count(*) FROM published")[0]
    assert total > 0 and copies / total < 0.01


def test_recipient_reads_release_and_nothing_else(project, released):
    with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS e2e_analyst")
        conn.execute("CREATE ROLE e2e_analyst LOGIN PASSWORD 'e2e-secret' "
                     "IN ROLE partner_demo_reader")
    share = share_of(project.settings)
    reader = share.conninfo(user="e2e_analyst", password="e2e-secret")
    with psycopg.connect(reader, autocommit=True) as conn:
        assert _one(conn, "SELECT count(*) FROM partner_demo.transactions")[0] > 0
        # the destination holds no source, contract, staging or audit relation at all
        for relation in ("prod.customers", "synthdb_contracts.contract_transactions",
                         "partner_demo_staging.synthetic_transactions", "synthdb_audit.runs"):
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("SELECT 1 FROM synthdb_share.releases LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE partner_demo.x (a int)")
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        psycopg.connect(project.settings.conninfo(user="e2e_analyst", password="e2e-secret"))


def test_dbt_show_prints_synthetic_rows_only(project, released):
    run = project.dbt("show", "-s", "synthetic_transactions", "--limit", "20",
                      "--output", "json")
    assert run.ok, run.output
    start = run.output.rindex("{", 0, run.output.index('"show"'))
    shown = json.loads(run.output[start:run.output.rindex("}") + 1])["show"]
    assert len(shown) == 20
    with psycopg.connect(project.settings.conninfo()) as conn:
        synthetic_refs = {r[0] for r in conn.execute(
            "SELECT customer_ref::text FROM partner_demo_staging.synthetic_transactions")}
        source_ids = {str(r[0]) for r in conn.execute("SELECT customer_id FROM prod.customers")}
    refs = {row["customer_ref"] for row in shown}
    assert refs <= synthetic_refs
    assert not refs & source_ids
    assert "@" not in run.output  # no e-mail address (direct identifier) anywhere in the output


def test_gate_cannot_be_bypassed_with_dbt_run(project, released):
    before = _published_state(project)
    strict = project.dbt("run", "-s", "synthetic_transactions", "--vars", "{synthdb_k: 10000}")
    # the failed verdict is stored with the staging table, and the node reports an error
    assert not strict.ok and "privacy gate FAILED" in strict.output, strict.output
    for command in ("run", "build"):
        attempt = project.dbt(command, "-s", "partner_demo_transactions")
        assert not attempt.ok
        assert "refusing to publish" in attempt.output and "k_anonymity" in attempt.output
    assert _published_state(project) == before


def test_too_strict_threshold_fails_build_and_keeps_release(project, released):
    before = _published_state(project)
    run = project.dbt("build", "--vars", "{synthdb_k: 10000}")
    assert not run.ok
    assert "FAIL" in run.output and "k_anonymity" in run.output
    assert any("SKIP" in line and "partner_demo_transactions" in line
               for line in run.output.splitlines()), run.output
    with psycopg.connect(project.settings.conninfo()) as conn:
        releases = _one(conn, "SELECT count(*) FROM synthdb_audit.releases")[0]
    assert releases == 1
    assert _published_state(project) == before


def test_rebuild_publishes_next_version_atomically_for_a_concurrent_reader(project, released):
    """A rebuild publishes version 2, and a reader polling the published table during it only
    ever sees a complete version: its row count is always that of a run that was published,
    and no query fails. (One build for both: they were two tests building the same thing.)"""
    import threading

    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(share_of(project.settings).conninfo(), autocommit=True) as conn:
            while not stop.is_set():
                try:
                    seen.append(_one(conn, "SELECT count(*) FROM partner_demo.transactions")[0])
                except psycopg.Error as exc:  # pragma: no cover - the assertion reports it
                    errors.append(str(exc))
                stop.wait(0.01)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        run = project.dbt("build")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert run.ok, run.output
    assert _published_state(project)[0]["version"] == 2
    with psycopg.connect(project.settings.conninfo()) as conn:
        published = {r[0] for r in conn.execute(
            "SELECT u.synthetic_rows FROM synthdb_audit.releases r "
            "JOIN synthdb_audit.runs u USING (run_id)")}
    assert errors == []
    assert len(seen) > 50 and set(seen) <= published


def test_raw_identifier_in_contract_stops_the_build(project, released):
    """The in-build lint refuses a contract that passes customer_id raw; nothing is published."""
    before = _published_state(project)
    with project.edited("models/partner_demo/contract_transactions.sql", (
            "{{ synthdb.mask_uuid('t.customer_id') }}                as customer_ref",
            "t.customer_id::text as customer_ref")):
        run = project.dbt("build")
    assert not run.ok
    assert "failed validation" in run.output and "customer_id" in run.output
    assert "direct_identifier" in run.output
    assert _published_state(project) == before


def test_new_source_column_is_drift_until_approved(project, released):
    """A column added to the source fails the build (drift) until the lock is updated."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("ALTER TABLE prod.customers ADD COLUMN loyalty_tier text")
        conn.commit()
    try:
        run = project.dbt("build", "-s", "contract_transactions", "synthetic_transactions")
        assert not run.ok
        assert "loyalty_tier" in run.output and "failed validation" in run.output
    finally:
        with psycopg.connect(project.settings.conninfo()) as conn:
            conn.execute("ALTER TABLE prod.customers DROP COLUMN loyalty_tier")
            conn.commit()


def test_dp_release_debits_budget_and_over_budget_is_refused(project, released):
    """Issue 7: a DP run debits the source's budget; the next one would overspend and is
    refused before any data is read, leaving staging and the ledger unchanged."""
    from synthdb.release import ledger

    source = "synthdb_contracts.contract_transactions"
    with psycopg.connect(project.settings.conninfo()) as conn:
        ledger.set_budget(conn, "synthdb_audit", source, 1.5)
        conn.commit()
    try:
        first = project.dbt("run", "-s", "synthetic_transactions",
                            "--vars", "{synthdb_epsilon: 1.0}")
        assert first.ok, first.output
        with psycopg.connect(project.settings.conninfo()) as conn:
            staged = _one(conn, "SELECT obj_description("
                                "'partner_demo_staging.synthetic_transactions'::regclass)")[0]
            spends = _one(conn, "SELECT count(*), sum(epsilon) FROM synthdb_audit.budget_spend "
                                "WHERE source_relation = %s AND dp", (source,))
            run_id = json.loads(staged)["synthdb_run_id"]
            described = _one(conn, "SELECT generator -> 'privacy' ->> 'epsilon' "
                                   "FROM synthdb_audit.runs WHERE run_id = %s", (run_id,))[0]
        assert spends == (1, 1.0) and float(described) == 1.0
        second = project.dbt("run", "-s", "synthetic_transactions",
                             "--vars", "{synthdb_epsilon: 1.0}")
        assert not second.ok
        assert "spent 1" in second.output and "requested 1" in second.output
        assert "remaining 0.5" in second.output
        with psycopg.connect(project.settings.conninfo()) as conn:
            assert _one(conn, "SELECT obj_description("
                              "'partner_demo_staging.synthetic_transactions'::regclass)")[0] \
                == staged
            assert _one(conn, "SELECT count(*), sum(epsilon) FROM synthdb_audit.budget_spend "
                              "WHERE source_relation = %s AND dp", (source,)) == spends
    finally:
        with psycopg.connect(project.settings.conninfo()) as conn:
            conn.execute("DELETE FROM synthdb_audit.privacy_budget")
            conn.commit()


def test_threshold_below_project_floor_is_refused_even_with_cli_vars(project, released):
    with psycopg.connect(project.settings.conninfo()) as conn:
        before = _one(conn, "SELECT obj_description("
                            "'partner_demo_staging.synthetic_transactions'::regclass)")[0]
    run = project.dbt("run", "-s", "synthetic_transactions",
                      "--vars", "{synthdb_k: 3, synthdb_floors: {}}")
    assert not run.ok
    assert "synth.privacy.k = 3 is below the floor 5" in run.output
    with psycopg.connect(project.settings.conninfo()) as conn:
        assert _one(conn, "SELECT obj_description("
                          "'partner_demo_staging.synthetic_transactions'::regclass)")[0] == before


def test_second_recipient_cannot_reuse_a_recipient_schema(project, released):
    project.write("models/other/other_release.sql", """
        {{ config(materialized='publish', schema='partner_demo', alias='other_table',
                  publish={'from': 'synthetic_transactions', 'recipient': 'other_partner'}) }}
        -- depends_on: {{ ref('synthetic_transactions') }}
        select * from {{ this }}
    """)
    try:
        run = project.dbt("run", "-s", "other_release")
    finally:
        (project.path / "models" / "other" / "other_release.sql").unlink()
    assert not run.ok
    assert "already holds releases for recipient 'partner_demo'" in run.output
    with _share(project) as conn:
        assert _one(conn, "SELECT to_regclass('partner_demo.other_table')")[0] is None


def test_failing_utility_threshold_stops_publish(project, released):
    """A declared utility threshold the release misses fails its stored check, the generic test
    `utility`, and the publish; a met one is stored with its verdict and lets the release out."""
    before = _published_state(project)
    strict = ("{synthdb_utility: {min_accuracy: 0.9999, critical_pairs: "
              "[{columns: [annual_income, amount], tolerance: 0.5}]}}")
    run = project.dbt("build", "--vars", strict)
    assert not run.ok
    assert "utility" in run.output and "min_accuracy" in run.output, run.output
    # the message names the gate that failed: utility alone, not "privacy"
    assert "utility gate FAILED" in run.output and "privacy gate" not in run.output, run.output
    assert any("SKIP" in line and "partner_demo_transactions" in line
               for line in run.output.splitlines()), run.output
    assert _published_state(project) == before
    with psycopg.connect(project.settings.conninfo()) as conn:
        rows = dict(((m, (v, t, p)) for m, v, t, p in conn.execute(
            "SELECT m.metric, m.value, m.threshold, m.passed FROM synthdb_audit.metrics m "
            "JOIN synthdb_audit.runs r USING (run_id) WHERE m.check_name = 'utility' "
            "AND r.started_at = (SELECT max(started_at) FROM synthdb_audit.runs)")))
    assert rows["min_accuracy"][1] == 0.9999 and rows["min_accuracy"][2] is False
    gap, tolerance, passed = rows["pair_correlation:annual_income|amount"]
    assert tolerance == 0.5 and passed is (gap <= 0.5)
    # the same thresholds, met: the release goes out with the verdicts stored
    loose = ("{synthdb_utility: {min_accuracy: 0.5, critical_pairs: "
             "[{columns: [annual_income, amount], tolerance: 0.5}]}}")
    run = project.dbt("build", "--vars", loose)
    assert run.ok, run.output
    assert _published_state(project)[0]["version"] == before[0]["version"] + 1
