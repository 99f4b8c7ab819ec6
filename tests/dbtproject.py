"""Helpers for tests that run the real dbt against a real database.

A test gets its own copy of the demo dbt project (``examples/demo``: macros, profile, and its
models from the repository's ``models/``) in a temporary folder, pointed at its own database through the SYNTHDB_* variables, so tests
never touch the developer's embedded server or each other's releases. Every such project uses
the repository root as the dbt package ``synthdb``, installed the way ``dbt deps`` installs a
``local:`` package (a link in ``dbt_packages``), which saves a ``dbt deps`` call per project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
import yaml
from psycopg import sql

from synthdb import db

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
DEMO_MODELS = REPO / "models"  # the demo project's models (model-paths: ../../models)
DBT = str(Path(sys.executable).with_name("dbt"))

# The profile of every throwaway project: the synthdb adapter, reached through the SYNTHDB_*
# variables that DbtProject.env() sets, writing to schema ``out``.
PROFILE = """\
synthdb_test:
  target: t
  outputs:
    t:
      type: synthdb
      host: "{{ env_var('SYNTHDB_HOST') }}"
      port: "{{ env_var('SYNTHDB_PORT') | as_number }}"
      user: "{{ env_var('SYNTHDB_USER') }}"
      password: "{{ env_var('SYNTHDB_PASSWORD', '') }}"
      dbname: "{{ env_var('SYNTHDB_DBNAME') }}"
      schema: out
      threads: 1
"""


@contextmanager
def scratch_database(
    server: db.ConnectionSettings, name: str | None = None
) -> Iterator[db.ConnectionSettings]:
    """A new, empty database on ``server`` (a leftover of the same name is dropped first),
    dropped again afterwards; yields the settings to reach it."""
    name = name or f"t_{uuid.uuid4().hex[:12]}"

    def run(statement: str, database: str = name) -> None:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(database)))

    share = name + "_share"  # the release destination publish creates next to it
    for database in (name, share):
        run("DROP DATABASE IF EXISTS {} WITH (FORCE)", database)
    run("CREATE DATABASE {}")
    try:
        yield db.ConnectionSettings(server.host, server.port, server.user, server.password, name)
    finally:
        for database in (name, share):
            run("DROP DATABASE IF EXISTS {} WITH (FORCE)", database)


class Snapshot:
    """A scratch database and its release destination as they were at one moment, to be put
    back under their own names before each test that attacks that state.

    A real `dbt run` of a synthetic model takes 10-15 s; an attack test needs the staged table
    exactly as a run left it (not yet published, nobody has touched it). The copies are made
    with ``CREATE DATABASE ... TEMPLATE``, which copies the database's files: every row keeps
    the ``xmin`` of the run's transaction, the table keeps its oid, the audit keeps the run's
    fingerprint and the destination its releases, so a restored database is the run's own
    output, not a re-creation of it. Both databases are copied together because the audit's
    release ids and the destination's release table must agree. The database-level grants
    (publish locks the destination down) and comments are copied too; names stay the same, so
    what the audit recorded about the destination (its name) still holds.
    """

    def __init__(self, server: db.ConnectionSettings, settings: db.ConnectionSettings) -> None:
        self.server = server
        self.names = (settings.dbname, settings.dbname + "_share")
        self.suffix = "_snap" + uuid.uuid4().hex[:8]  # several snapshots of one database

    def _run(self, statement: str, *names: str) -> None:
        with psycopg.connect(self.server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))

    def _copy(self, source: str, target: str) -> None:
        """``target`` as a file copy of ``source`` (no session may be connected to it)."""
        with psycopg.connect(self.server.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (source,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(target)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)))
            grants = conn.execute(
                "SELECT a.privilege_type, a.grantee = 0, pg_get_userbyid(a.grantee) "
                "FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s "
                "AND a.grantee <> d.datdba", (source,)).fetchall()
            if grants:  # datacl set: the same grants, nothing else (PUBLIC's defaults go)
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(target)))
            for privilege, public, grantee in grants:
                conn.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                    sql.SQL(privilege), sql.Identifier(target),
                    sql.SQL("PUBLIC") if public else sql.Identifier(grantee)))
            comment = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM "
                                   "pg_database WHERE datname = %s", (source,)).fetchone()[0]
            if comment is not None:
                conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(target), sql.Literal(comment)))

    def take(self) -> None:
        for name in self.names:
            self._copy(name, name + self.suffix)

    def restore(self) -> None:
        for name in self.names:
            self._copy(name + self.suffix, name)

    def drop(self) -> None:
        for name in self.names:
            self._run("DROP DATABASE IF EXISTS {} WITH (FORCE)", name + self.suffix)


@contextmanager
def snapshot(server: db.ConnectionSettings,
             settings: db.ConnectionSettings) -> Iterator[Snapshot]:
    """A ``Snapshot`` of ``settings``' database and destination as they are now, dropped when
    the block ends."""
    taken = Snapshot(server, settings)
    taken.take()
    try:
        yield taken
    finally:
        taken.drop()


@dataclass
class FirstBuild:
    """A project right after its first passing ``dbt build``, for the tests of a module that
    each start from that release: the build runs once, each test gets it back (``copy``)."""

    project: DbtProject
    taken: Snapshot
    run: DbtRun

    def copy(self, folder: Path) -> DbtProject:
        """The databases put back as the build left them (``Snapshot``: the same rows, audit
        and releases, not a rebuild) and a copy of the project folder (models, target,
        evidence) in ``folder`` for the test to edit."""
        self.taken.restore()
        shutil.copytree(self.project.path, folder, symlinks=True)
        return DbtProject(folder, self.project.settings)


@contextmanager
def first_build(server: db.ConnectionSettings, name: str, folder: Path,
                prepare: Callable[[Path, db.ConnectionSettings], DbtProject],
                *build_args: str) -> Iterator[FirstBuild]:
    """``prepare(folder, settings)`` (source tables and project files) in a scratch database
    ``name``, one passing ``dbt build`` (with ``build_args``) and a snapshot right after it."""
    with scratch_database(server, name) as settings:
        project = prepare(folder, settings)
        run = project.dbt("build", *build_args)
        assert run.ok, run.output
        with snapshot(server, settings) as taken:
            yield FirstBuild(project, taken, run)


def share_of(settings: db.ConnectionSettings) -> db.ConnectionSettings:
    """The release destination of a scratch database (``<name>_share`` on the same server)."""
    from synthdb.release.destination import destination_settings

    return destination_settings(settings, env={})


@dataclass
class DbtRun:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class DbtProject:
    path: Path
    settings: db.ConnectionSettings

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "SYNTHDB_HOST": self.settings.host,
                "SYNTHDB_PORT": str(self.settings.port),
                "SYNTHDB_USER": self.settings.user,
                "SYNTHDB_PASSWORD": self.settings.password,
                "SYNTHDB_DBNAME": self.settings.dbname,
                "DBT_PROFILES_DIR": str(self.path),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "NO_COLOR": "1",
            }
        )
        env.update(extra or {})
        return env

    def dbt(self, *args: str, env: dict[str, str] | None = None) -> DbtRun:
        proc = subprocess.run(
            [DBT, "--no-use-colors", *args],
            cwd=self.path,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=900,
        )
        return DbtRun(proc.returncode, proc.stdout + proc.stderr)

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def edited(self, relative: str, *replacements: tuple[str, str]) -> EditedFile:
        """The project file ``relative`` with each (old, new) replaced, until the block ends."""
        return edited_file(self.path / relative, *replacements)


EditedFile = Iterator[Path]


@contextmanager
def edited_file(path: Path, *replacements: tuple[str, str]) -> EditedFile:
    """Replace each (old, new) in ``path`` for the duration of the block, then restore it.

    The attack and config tests change one line of a model or YAML file, run dbt, and must
    leave the project as it was for the next test, also when dbt or an assertion fails. Every
    ``old`` must occur in the file: an edit that silently matches nothing would turn the test
    into a run of the unchanged project that passes for the wrong reason.
    """
    original = path.read_text()
    text = original
    for old, new in replacements:
        assert old in text, f"{path.name}: the text to replace is not there: {old!r}"
        text = text.replace(old, new)
    path.write_text(text)
    try:
        yield path
    finally:
        path.write_text(original)


def install_synthdb_package(project: Path) -> None:
    """Install the repository root as the dbt package ``synthdb`` of ``project``, as
    ``dbt deps`` does for ``local:`` packages: a link ``dbt_packages/synthdb``."""
    link = project / "dbt_packages" / "synthdb"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(REPO, target_is_directory=True)
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")


def make_project(
    tmp: Path, settings: db.ConnectionSettings, with_demo_models: bool = True
) -> DbtProject:
    """A copy of the demo dbt project in ``tmp`` (demo models optional), with the package
    ``synthdb`` installed."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "profiles.yml", tmp / "profiles.yml")
    # The demo reads its models from the repository's models/ folder; the copy has them inside.
    project_yml = yaml.safe_load((DEMO / "dbt_project.yml").read_text())
    project_yml["model-paths"] = ["models"]
    (tmp / "dbt_project.yml").write_text(yaml.safe_dump(project_yml, sort_keys=False))
    shutil.copytree(DEMO / "macros", tmp / "macros", dirs_exist_ok=True)
    if with_demo_models:
        shutil.copytree(DEMO_MODELS, tmp / "models", dirs_exist_ok=True)
        shutil.copy(DEMO / "synthdb.lock.yml", tmp / "synthdb.lock.yml")
    else:
        (tmp / "models").mkdir(exist_ok=True)
    install_synthdb_package(tmp)
    return DbtProject(tmp, settings)


# 40,000 transactions: big enough for k = 10 on the demo's quasi-identifiers
DEMO_CUSTOMERS = 20_000


def prepare_demo(folder: Path, settings: db.ConnectionSettings) -> DbtProject:
    """The demo's source (``DEMO_CUSTOMERS`` customers, seed 7) in ``settings``' database and
    a copy of the demo project in ``folder`` reaching it (``first_build``'s ``prepare``)."""
    from synthdb.demo.source import load_demo_source

    with psycopg.connect(settings.conninfo()) as conn:
        load_demo_source(conn, customers=DEMO_CUSTOMERS, seed=7)
        conn.commit()
    return make_project(folder, settings)


def throwaway_project(
    path: Path,
    name: str,
    models: Mapping[str, str],
    *,
    policy_macros: Literal["root", "package"] | None = None,
    project_vars: Mapping[str, object] | None = None,
) -> Path:
    """A minimal dbt project in ``path`` with the shared ``PROFILE``; returns ``path``.

    ``models`` maps file names under ``models/`` (``"sources.yml"``, ``"x.sql"``) to their
    text. The policy macros (``macros/policy``) can be linked in two ways, because tests prove
    ``adapter.dispatch`` finds them from both places: ``"root"`` makes them the root project's
    macro path, ``"package"`` installs the repository root as the package ``synthdb``.
    It returns the folder rather than a ``DbtProject`` because a project's files do not depend
    on a database: wrap it as ``DbtProject(path, settings)`` for the database to run against.
    """
    (path / "models").mkdir(parents=True)
    config: dict[str, object] = {
        "name": name,
        "version": "0.1.0",
        "config-version": 2,
        "profile": "synthdb_test",
        "flags": {"send_anonymous_usage_stats": False},
    }
    if project_vars:
        config["vars"] = dict(project_vars)
    (path / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (path / "profiles.yml").write_text(PROFILE)
    for file_name, text in models.items():
        (path / "models" / file_name).write_text(textwrap.dedent(text))
    # a macro path must itself be the link: dbt does not follow links to sub-folders
    if policy_macros == "root":
        (path / "macros").symlink_to(REPO / "macros" / "policy")
    elif policy_macros == "package":
        install_synthdb_package(path)
    elif policy_macros is not None:
        raise ValueError(f"policy_macros must be 'root', 'package' or None, not {policy_macros!r}")
    return path


def create_people_source(settings: db.ConnectionSettings, schema: str,
                         id_column: str = "id", rows: int = 3000) -> None:
    """A seeded source table ``<schema>.people`` (uuid id, region, band, amount, joined) in a
    new schema: the user's table the package-level tests release. Seeded (setseed), so with the
    models' fixed seeds the leakage gate on these rows is deterministic, not a coin toss."""
    with psycopg.connect(settings.conninfo()) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL(
            "CREATE TABLE {}.people ({} uuid, region text, band text, amount numeric(10,2), "
            "joined date)").format(sql.Identifier(schema), sql.Identifier(id_column)))
        conn.execute("SELECT setseed(0.42)")
        conn.execute(sql.SQL("""INSERT INTO {}.people SELECT gen_random_uuid(),
            (ARRAY['north','south','east','west'])[1 + i % 4], (ARRAY['a','b','c'])[1 + i % 3],
            round((random() * 900 + 10)::numeric, 2), date '2024-01-01' + (i % 365)
            FROM generate_series(1, {}) i""").format(sql.Identifier(schema), sql.Literal(rows)))
        conn.commit()


def people_sources(schema: str) -> str:
    """A ``sources.yml`` declaring ``create_people_source``'s table with each column's class
    and policy (the id masked, region and band quasi-identifiers, amount sensitive), as a
    governed project writes it; the dbt source is named ``schema``."""
    return textwrap.dedent(f"""
        version: 2
        sources:
          - name: {schema}
            schema: {schema}
            tables:
              - name: people
                columns:
                  - {{name: id, meta: {{synthdb: {{class: direct_identifier, policy: mask}}}}}}
                  - {{name: region, meta: {{synthdb: {{class: quasi_identifier, policy: keep}}}}}}
                  - {{name: band, meta: {{synthdb: {{class: quasi_identifier, policy: keep}}}}}}
                  - {{name: amount, meta: {{synthdb: {{class: sensitive, policy: keep}}}}}}
                  - {{name: joined, meta: {{synthdb: {{class: other, policy: keep}}}}}}
        """)


def plain_sources(schema: str, *tables: str) -> str:
    """A ``sources.yml`` declaring ``tables`` of ``schema`` as dbt source ``schema``, without
    column metadata (the tests that need classes and policies write their own)."""
    listed = "".join(f"\n      - name: {table}" for table in tables)
    return (f"version: 2\nsources:\n  - name: {schema}\n    schema: {schema}\n"
            f"    tables:{listed}\n")
