"""Schema drift: ``synthdb validate --update`` approves the live source schemas into
``synthdb.lock.yml``; any later change to a source (added, dropped, renamed, retyped column,
changed nullability) makes ``synthdb validate`` fail and name it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import yaml
from test_lint import CONTRACTS, create_sources, dbt_compile, make_project

from synthdb import db
from synthdb.contract.drift import compare
from synthdb.contract.validate import validate_project


def _cli(settings: db.ConnectionSettings, project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "SYNTHDB_HOST": settings.host,
        "SYNTHDB_PORT": str(settings.port),
        "SYNTHDB_USER": settings.user,
        "SYNTHDB_DBNAME": settings.dbname,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "synthdb.cli", "validate", "--project-dir", str(project), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_update_then_drift(fresh_db: db.ConnectionSettings, tmp_path: Path) -> None:
    create_sources(fresh_db)
    project = make_project(tmp_path, {"good_contract": CONTRACTS["good_contract"]})
    dbt_compile(fresh_db, project)

    missing = _cli(fresh_db, project)
    assert missing.returncode == 2 and "validate --update" in missing.stderr  # no lock yet

    update = _cli(fresh_db, project, "--update")
    assert update.returncode == 0, update.stdout + update.stderr
    lock = yaml.safe_load((project / "synthdb.lock.yml").read_text())
    orders = {c["name"]: c for c in lock["sources"]["prod.orders"]["columns"]}
    assert (
        orders["amount"]["type"] == "numeric(10,2)" and orders["customer_id"]["nullable"] is False
    )

    clean = _cli(fresh_db, project)
    assert clean.returncode == 0, clean.stdout
    assert "OK: 1 contract(s)" in clean.stdout

    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        conn.execute("ALTER TABLE prod.orders ADD COLUMN email text")
    added = _cli(fresh_db, project)
    assert added.returncode == 1
    assert "DRIFT prod.orders.email: added" in added.stdout

    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE prod.orders ALTER COLUMN amount TYPE numeric(12,2);"
            " ALTER TABLE prod.orders ALTER COLUMN customer_id DROP NOT NULL;"
            " ALTER TABLE prod.customers RENAME COLUMN email TO mail;"
            " ALTER TABLE prod.orders DROP COLUMN note"
        )
    with db.connect(fresh_db) as conn:
        report = validate_project(project, conn=conn)
    found = {(d.relation, d.column, d.change) for d in report.drift}
    assert found == {
        ("prod.orders", "email", "added"),
        ("prod.orders", "amount", "retyped"),
        ("prod.orders", "customer_id", "nullability"),
        ("prod.orders", "note", "dropped"),
        ("prod.customers", "email", "renamed"),
    }
    assert not report.ok and not report.lint  # the contract itself is still clean

    # approving again clears the drift
    assert _cli(fresh_db, project, "--update").returncode == 0
    assert _cli(fresh_db, project).returncode == 0


def test_compare_missing_and_unlocked_tables() -> None:
    locked = {"s.a": [{"name": "x", "type": "integer", "nullable": True}]}
    issues = compare(locked, {}, ["s.a", "s.b"])
    assert [(i.relation, i.change) for i in issues] == [
        ("s.a", "missing_table"),
        ("s.b", "not_locked"),
    ]


def test_update_refuses_a_database_without_the_sources(
    fresh_db: db.ConnectionSettings, pg_server: db.ConnectionSettings, tmp_path: Path
) -> None:
    """Pointed at another database (say the SYNTHDB_* variables disagree with the dbt profile),
    ``--update`` must not approve a lock that records no columns for the contract's sources."""
    from dbtproject import scratch_database

    create_sources(fresh_db)
    project = make_project(tmp_path, {"good_contract": CONTRACTS["good_contract"]})
    dbt_compile(fresh_db, project)
    with scratch_database(pg_server) as elsewhere:
        update = _cli(elsewhere, project, "--update")
    assert update.returncode == 1, update.stdout + update.stderr
    assert "NOT updated" in update.stdout and "prod.orders" in update.stdout
    assert repr(elsewhere.dbname) in update.stdout
    assert not (project / "synthdb.lock.yml").exists()
    assert _cli(fresh_db, project, "--update").returncode == 0  # the right database approves


def test_update_reads_the_database_the_dbt_profile_names(
    fresh_db: db.ConnectionSettings, pg_server: db.ConnectionSettings, tmp_path: Path
) -> None:
    """A user's profile with its own connection (no SYNTHDB_* in it) is the database validate
    approves, whatever SYNTHDB_* say; ``--target`` picks another output of the same profile."""
    from dbtproject import scratch_database

    create_sources(fresh_db)
    project = make_project(tmp_path, {"good_contract": CONTRACTS["good_contract"]})
    dbt_compile(fresh_db, project)
    with scratch_database(pg_server) as elsewhere:
        def output(settings: db.ConnectionSettings) -> dict:
            return {"type": "synthdb", "host": settings.host, "port": settings.port,
                    "user": settings.user, "password": settings.password,
                    "dbname": settings.dbname, "schema": "out", "threads": 1}

        profiles = tmp_path / "user_profiles"
        profiles.mkdir()
        (profiles / "profiles.yml").write_text(yaml.safe_dump({"synthdb_test": {
            "target": "prod", "outputs": {"prod": output(fresh_db),
                                          "empty": output(elsewhere)}}}))
        # SYNTHDB_* point at the empty database; the profile names the one with the sources
        update = _cli(elsewhere, project, "--update", "--profiles-dir", str(profiles))
        assert update.returncode == 0, update.stdout + update.stderr
        assert "connected through profile 'synthdb_test' target 'prod'" in update.stdout
        assert "prod.orders" in yaml.safe_load((project / "synthdb.lock.yml").read_text())[
            "sources"]
        other = _cli(fresh_db, project, "--profiles-dir", str(profiles), "--target", "empty")
        assert other.returncode == 1, other.stdout + other.stderr
        assert "target 'empty'" in other.stdout and "missing_table" in other.stdout
    missing = _cli(fresh_db, project, "--profiles-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no profiles.yml there" in missing.stderr
