"""synthdb as a new user gets it: a wheel, a fresh venv, their own dbt project elsewhere.

The test builds a wheel from the repository's sources, installs it (not editable) into a fresh
venv, writes a small dbt project in the run's temporary folder (outside the repository) with
its own generated source data, installs the dbt package ``synthdb`` with one ``packages.yml``
entry (the copy inside the installed wheel, found by ``synthdb package-path``) and runs that venv's ``dbt deps`` and ``dbt build``: two ordinary models with an enforced
contract, a share contract, a synthetic model carrying the three synthdb tests (called as
``synthdb.k_anonymity`` etc.) and a publish model with ``grants`` and an enforced contract. It
then checks the release and that the recipient role can read it, and that ``dbt debug`` stops
loudly when the installation lacks the adapter's include project.

Slow (a venv install, about 1.5 minutes with a warm pip cache, plus a real build); the install
time is printed (``-s``) and written to ``install_seconds.txt`` in the test's folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from dbtproject import (
    PROFILE,
    REPO,
    create_people_source,
    edited_file,
    scratch_database,
    share_of,
)
from psycopg import sql

from synthdb import db

RECIPIENT = "wheelco"
ROLE = "wheelco_reader"
BI_ROLE = "wheel_bi_reader"  # an extra reader given by dbt's own `grants` config

# The files a wheel is built from (the sdist's content): the package, its build configuration.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "dbt_project.yml")

SOURCES = """
version: 2
sources:
  - name: shop
    schema: shop
    tables:
      - name: people
        columns:
          - {name: person_id, meta: {synthdb: {class: direct_identifier, policy: mask}}}
          - {name: region, meta: {synthdb: {class: quasi_identifier, policy: keep}}}
          - {name: band, meta: {synthdb: {class: quasi_identifier, policy: keep}}}
          - {name: amount, meta: {synthdb: {class: sensitive, policy: keep}}}
          - {name: joined, meta: {synthdb: {class: other, policy: keep}}}
"""

# Two ordinary models with an enforced dbt contract (a table and a view).
REGION_TOTALS = """
{{ config(materialized='table', contract={'enforced': true}) }}
select region, count(*)::bigint as people,
    sum({{ synthdb.top_code('amount', 800) }})::numeric(14,2) as amount
from {{ source('shop', 'people') }}
group by region
"""
MONTHLY_JOINS = """
{{ config(materialized='view', contract={'enforced': true}) }}
select {{ synthdb.coarsen_date('joined', 'month') }} as joined_month, count(*)::bigint as people
from {{ source('shop', 'people') }}
group by 1
"""
SHARE_CONTRACT = """
{{ config(materialized='view', schema='share_contracts', tags=['synthdb_contract']) }}
select
    {{ synthdb.mask_uuid('person_id') }} as person_ref,
    region,
    band,
    amount,
    joined
from {{ source('shop', 'people') }}
"""
SYNTHETIC = """
{{ config(materialized='synthetic', schema='wheelco_staging', synth={
    'source': 'contract_people', 'seed': 5, 'columns': {'person_ref': {'method': 'mock'}},
    'privacy': {'quasi_identifiers': ['region', 'band'], 'k': 5}}) }}
-- depends_on: {{ ref('contract_people') }}
select * from {{ this }}
"""
PUBLISH = f"""
{{{{ config(materialized='publish', schema='{RECIPIENT}', alias='people',
    grants={{'select': ['{BI_ROLE}']}},
    contract={{'enforced': true}},
    publish={{'from': 'synthetic_people', 'recipient': '{RECIPIENT}', 'role': '{ROLE}',
             'owner': 'data@example.com', 'purpose': 'wheel install test',
             'retention': 'P30D', 'licence': 'test only'}}) }}}}
-- depends_on: {{{{ ref('synthetic_people') }}}}
select * from {{{{ this }}}}
"""
SCHEMA = """
version: 2
models:
  - name: region_totals
    columns:
      - {name: region, data_type: text}
      - {name: people, data_type: bigint}
      - {name: amount, data_type: "numeric(14,2)"}
  - name: monthly_joins
    columns:
      - {name: joined_month, data_type: date}
      - {name: people, data_type: bigint}
  - name: synthetic_people
    data_tests:
      - synthdb.k_anonymity: {arguments: {quasi_identifiers: [region, band], k: 5}}
      - synthdb.rare_categories: {arguments: {columns: [region, band], min_count: 10}}
      - synthdb.no_leakage
  - name: wheelco_people
    columns:
      - {name: person_ref, data_type: uuid}
      - {name: region, data_type: text}
      - {name: band, data_type: text}
      - {name: amount, data_type: "numeric(10,2)"}
      - {name: joined, data_type: date}
"""


@dataclass
class Venv:
    path: Path
    install_seconds: float
    dbt_package: str  # what `synthdb package-path` prints in this venv

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _tail(proc: subprocess.CompletedProcess, n: int = 6000) -> str:
    return (proc.stdout + proc.stderr)[-n:]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv with the synthdb wheel installed the way a user installs it."""
    root = Path(tmp_path_factory.mktemp("wheel"))
    src = root / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy(REPO / name, src / name)
    for folder in ("synthdb", "macros"):
        shutil.copytree(REPO / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = root / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(src)],
                 cwd=root)
    assert built.returncode == 0, _tail(built)
    (wheel,) = dist.glob("synthdb-*.whl")
    path = root / "venv"
    start = time.perf_counter()
    made = _run([sys.executable, "-m", "venv", str(path)], cwd=root)
    assert made.returncode == 0, _tail(made)
    installed = _run([str(path / "bin" / "pip"), "install", str(wheel)], cwd=root, timeout=1800)
    seconds = time.perf_counter() - start
    assert installed.returncode == 0, _tail(installed)
    (root / "install_seconds.txt").write_text(f"{seconds:.1f}\n")
    print(f"\nfresh venv + non-editable install of {wheel.name}: {seconds:.1f} s")
    located = _run([str(path / "bin" / "synthdb"), "package-path"], cwd=root)
    assert located.returncode == 0, _tail(located)
    return Venv(path, seconds, located.stdout.strip())


@pytest.fixture(scope="module")
def database(pg_server: db.ConnectionSettings) -> Iterator[db.ConnectionSettings]:
    """A scratch database with the user's source table ``shop.people`` (3000 rows)."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        for role in (ROLE, BI_ROLE):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(BI_ROLE)))
    try:
        with scratch_database(pg_server, "wheel_user") as settings:
            create_people_source(settings, "shop", id_column="person_id")
            yield settings
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
            for role in (ROLE, BI_ROLE):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _write_project(path: Path) -> None:
    files = {
        "dbt_project.yml": """
            name: wheel_user
            version: "1.0.0"
            config-version: 2
            profile: synthdb_test
            flags: {send_anonymous_usage_stats: false}
        """,
        # the only thing the project needs to get synthdb's macros and tests: one entry, the
        # copy of the dbt package inside the installed wheel (`synthdb package-path`), so no
        # checkout of the repository is involved
        "packages.yml": """
            packages:
              - local: "{{ env_var('SYNTHDB_DBT_PACKAGE') }}"
        """,
        # settings from SYNTHDB_* variables, as in the demo: dbt and the synthdb CLI
        # (`synthdb validate`) then reach the same database
        "profiles.yml": PROFILE,
        "models/sources.yml": SOURCES,
        "models/schema.yml": SCHEMA,
        "models/region_totals.sql": REGION_TOTALS,
        "models/monthly_joins.sql": MONTHLY_JOINS,
        "models/contract_people.sql": SHARE_CONTRACT,
        "models/synthetic_people.sql": SYNTHETIC,
        "models/wheelco_people.sql": PUBLISH,
    }
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())


@dataclass
class UserProject:
    path: Path
    venv: Venv
    settings: db.ConnectionSettings

    def env(self) -> dict[str, str]:
        """The environment of a user's shell with only the fresh venv active."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SYNTHDB_", "DBT_", "PYTHON", "VIRTUAL_ENV"))}
        env.update({"PATH": f"{self.venv.path / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                    "VIRTUAL_ENV": str(self.venv.path), "DBT_PROFILES_DIR": str(self.path),
                    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1",
                    "SYNTHDB_HOST": self.settings.host, "SYNTHDB_PORT": str(self.settings.port),
                    "SYNTHDB_USER": self.settings.user,
                    "SYNTHDB_PASSWORD": self.settings.password,
                    "SYNTHDB_DBNAME": self.settings.dbname,
                    "SYNTHDB_DBT_PACKAGE": self.venv.dbt_package})
        return env

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return _run([self.venv.bin(tool), *args], cwd=self.path, env=self.env())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, venv: Venv,
          database: db.ConnectionSettings) -> tuple[UserProject, subprocess.CompletedProcess]:
    """The user's project after ``dbt deps``, ``dbt compile``, ``synthdb validate --update``
    (approve the source schemas) and ``dbt build``."""
    path = Path(tmp_path_factory.mktemp("user_project"))
    assert not path.resolve().is_relative_to(REPO)
    _write_project(path)
    project = UserProject(path, venv, database)
    try:
        deps = project.run("dbt", "deps")
        assert deps.returncode == 0, _tail(deps)
        compiled = project.run("dbt", "compile")
        assert compiled.returncode == 0, _tail(compiled)
        approved = project.run("synthdb", "validate", "--update")
        assert approved.returncode == 0, _tail(approved)
        assert "shop.people" in (path / "synthdb.lock.yml").read_text()
        return project, project.run("dbt", "build")
    finally:
        # every command used the test's server; an embedded one here would be a stray
        stray = path / ".synthdb"
        if stray.exists():
            db.stop_embedded(stray)
        assert not stray.exists(), "a command started an embedded server in the project"


def test_the_wheel_is_a_plain_install(venv: Venv) -> None:
    """synthdb and the adapter are imported from the venv's site-packages, not the repository."""
    probe = _run([venv.bin("python"), "-c",
                  "import synthdb, dbt.adapters.synthdb as a; print(synthdb.__file__);"
                  " print(a.INCLUDE_PATH)"], cwd=venv.path)
    assert probe.returncode == 0, _tail(probe)
    module, include = probe.stdout.split()
    for path in (module, include):
        assert Path(path).is_relative_to(venv.path) and "site-packages" in path
    assert (Path(include) / "macros" / "materializations" / "publish.sql").is_file()
    # the dbt package travels in the wheel, byte for byte the repository's macros
    package = Path(venv.dbt_package)
    assert package.is_relative_to(venv.path) and "site-packages" in str(package)
    shipped = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    source = {p.relative_to(REPO): p.read_bytes()
              for p in [REPO / "dbt_project.yml", *(REPO / "macros").rglob("*")] if p.is_file()}
    assert shipped == source
    assert not list((venv.path / "lib").glob("python*/site-packages/__editable__*"))


def test_user_project_builds_and_releases(built: tuple[UserProject, subprocess.CompletedProcess]
                                          ) -> None:
    project, run = built
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    assert "Found patch for macro" not in output
    # the package brought no demo models or sources into the user's project
    assert "partner_demo" not in output and "prod.transactions" not in output
    with psycopg.connect(project.settings.conninfo()) as conn:
        release = conn.execute(
            "SELECT published_relation, version FROM synthdb_audit.releases"
            " WHERE published_relation LIKE %s ORDER BY release_id DESC LIMIT 1",
            (f"%{RECIPIENT}.people",)).fetchone()
        assert release is not None, output[-4000:]
        relation, version = release
        assert version == 1
        schema, table = relation.split(".", 1)
    # the release lands in the destination database (<db>_share), not next to the source
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        # the recipient's role reads the release
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(ROLE)))
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
        conn.execute("RESET ROLE")
        assert rows > 0
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table))]
        assert columns == ["person_ref", "region", "band", "amount", "joined"]
    with psycopg.connect(project.settings.conninfo()) as conn:
        # the two ordinary models with enforced contracts were built as declared
        types = dict(conn.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
            " WHERE table_name IN ('region_totals', 'monthly_joins')").fetchall())
        assert types["region_totals.people"] == "bigint"
        assert types["monthly_joins.joined_month"] == "date"


def test_dbt_debug_fails_loudly_without_the_include_project(
    built: tuple[UserProject, subprocess.CompletedProcess],
) -> None:
    """A broken installation (the adapter's include project missing) stops ``dbt debug`` with
    a message naming the missing files, instead of 'All checks passed!'."""
    project, _ = built
    (include,) = project.venv.path.glob("lib/python*/site-packages/synthdb/dbt_plugin/include")
    hidden = include.with_name("include_hidden")
    include.rename(hidden)
    try:
        debug = project.run("dbt", "debug")
    finally:
        hidden.rename(include)
    output = debug.stdout + debug.stderr
    assert debug.returncode != 0, output[-4000:]
    assert "cannot load its include project" in output
    assert "macros/materializations/synthetic.sql" in output
    assert "All checks passed" not in output


def _release_state(project: UserProject) -> tuple[int, int]:
    """(number of recorded releases, rows of the published table)."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        releases = conn.execute("SELECT count(*) FROM synthdb_audit.releases").fetchone()[0]
        (relation,) = conn.execute("SELECT published_relation FROM synthdb_audit.releases"
                                   " ORDER BY release_id DESC LIMIT 1").fetchone()
        schema, table = relation.split(".", 1)
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
    return releases, rows


def test_grants_config_reaches_the_release(
    built: tuple[UserProject, subprocess.CompletedProcess],
) -> None:
    """dbt's ``grants`` on the publish model: the extra role reads the release too."""
    project, run = built
    assert run.returncode == 0, _tail(run)
    with psycopg.connect(project.settings.conninfo()) as conn:
        (relation,) = conn.execute("SELECT published_relation FROM synthdb_audit.releases"
                                   " ORDER BY release_id DESC LIMIT 1").fetchone()
        schema = relation.split(".", 1)[0]
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        for role in (ROLE, BI_ROLE):
            assert conn.execute(
                "SELECT has_table_privilege(%s, %s, 'SELECT'), "
                "has_schema_privilege(%s, %s, 'USAGE')",
                (role, relation, role, schema)).fetchone() == (True, True), role


def test_contract_mismatch_fails_the_build_and_keeps_the_release(
    built: tuple[UserProject, subprocess.CompletedProcess],
) -> None:
    """An enforced contract on the publish model that does not match (a wrong type, a missing
    column) fails with dbt's contract error; the published release is untouched."""
    project, run = built
    assert run.returncode == 0, _tail(run)
    before = _release_state(project)
    with edited_file(project.path / "models" / "schema.yml",
                     ('{name: amount, data_type: "numeric(10,2)"}', "{name: amount, data_type: text}"),
                     ("      - {name: joined, data_type: date}\n", "")):
        failed = project.run("dbt", "build", "-s", "wheelco_people")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-4000:]
    assert "contract" in output and "amount" in output and "joined" in output
    assert _release_state(project) == before
