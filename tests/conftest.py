"""Shared fixtures: a real PostgreSQL server (embedded, started here) for the whole session.

Set ``SYNTHDB_TEST_HOST`` (and ``_PORT``/``_USER``/``_PASSWORD``) to run the suite against an
existing server instead. Nothing is mocked: if no server can be started, the fixture errors.

Every run gets a base temporary folder of its own (unless ``--basetemp`` names one): pytest's
default ``/tmp/pytest-of-<user>/`` is shared by all runs of one user, and its cleanup of old
folders removed the data directory of another run's live PostgreSQL (issue 11, item 12).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthdb import db

_OWN_BASETEMP = "_synthdb_own_basetemp"


def pytest_configure(config: pytest.Config) -> None:
    """Give this run a unique base temporary folder when none was given."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        base = tempfile.mkdtemp(prefix="synthdb-pytest-")
        config.option.basetemp = base
        setattr(config, _OWN_BASETEMP, base)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the run's own folder after a green run (kept after a failure, for inspection)."""
    base = getattr(session.config, _OWN_BASETEMP, None)
    if base and exitstatus == 0:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[db.ConnectionSettings]:
    """Connection settings of a running PostgreSQL server (maintenance database)."""
    host = os.environ.get("SYNTHDB_TEST_HOST")
    if host:
        yield db.ConnectionSettings(
            host=host,
            port=int(os.environ.get("SYNTHDB_TEST_PORT", "5432")),
            user=os.environ.get("SYNTHDB_TEST_USER", "postgres"),
            password=os.environ.get("SYNTHDB_TEST_PASSWORD", ""),
            dbname="postgres",
        )
        return
    home = Path(tmp_path_factory.mktemp("pg", numbered=True))
    settings = db.start_embedded(home)
    try:
        yield settings
    finally:
        db.stop_embedded(home)


@pytest.fixture()
def fresh_db(pg_server: db.ConnectionSettings) -> Iterator[db.ConnectionSettings]:
    """A new, empty database for one test, dropped afterwards."""
    from dbtproject import scratch_database

    with scratch_database(pg_server) as settings:
        yield settings


@pytest.fixture(scope="module")
def first_release(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  pg_server: db.ConnectionSettings):
    """The module's project after one passing ``dbt build``, built once for the module
    (dbtproject.first_build). The module names its scratch database and the function that
    writes its source tables and project files: ``FIRST_BUILD = (name, prepare)``."""
    from dbtproject import first_build

    name, prepare = request.module.FIRST_BUILD
    with first_build(pg_server, name, tmp_path_factory.mktemp(name) / "project",
                     prepare) as built:
        yield built


@pytest.fixture()
def released_project(first_release, tmp_path: Path):
    """The module's project right after its first build, for one test to build on: the
    databases put back from the snapshot (not rebuilt) and a copy of the project folder."""
    return first_release.copy(tmp_path / "project")


@pytest.fixture(scope="session")
def demo_release(tmp_path_factory: pytest.TempPathFactory, pg_server: db.ConnectionSettings):
    """The demo after one passing ``dbt build`` (seed 11), built once for the session: the
    modules that attack or rebuild it (gate attacks, publish without a second digest, the
    end-to-end release) each take their own copy (``FirstBuild.copy``: the databases put back
    from the snapshot, a copy of the project folder) instead of loading and building it again."""
    from dbtproject import first_build, prepare_demo

    with first_build(pg_server, "demo_release", tmp_path_factory.mktemp("demo_release") /
                     "project", prepare_demo, "--vars", "{synthdb_seed: 11}") as built:
        yield built
