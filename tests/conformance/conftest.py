"""dbt's adapter conformance suite (``dbt-tests-adapter``) against ``type: synthdb``.

dbt's own fixtures (the ``project`` fixture and the rest) are imported here, so they exist only
for this folder and cannot clash with the suite's fixtures in ``tests/conftest.py``. The
profile points at a database of its own on the suite's PostgreSQL server (``pg_server``); each
test class gets its own schema in it (dbt's ``unique_schema``), and dbt's logs go to the run's
temporary folder, not the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dbt.tests.fixtures.project import *  # noqa: F403 (dbt's fixtures, for this folder only)
from dbtproject import scratch_database

from synthdb import db


@pytest.fixture(scope="session")
def conformance_db(pg_server: db.ConnectionSettings) -> Iterator[db.ConnectionSettings]:
    """One database for the whole conformance suite, dropped afterwards."""
    with scratch_database(pg_server, "synthdb_conformance") as settings:
        yield settings


@pytest.fixture(scope="class")
def dbt_profile_target(conformance_db: db.ConnectionSettings) -> dict[str, object]:
    """dbt's profile target for the suite: the synthdb adapter, not stock postgres."""
    return {
        "type": "synthdb",
        "threads": 1,
        "host": conformance_db.host,
        "port": conformance_db.port,
        "user": conformance_db.user,
        "pass": conformance_db.password,
        "dbname": conformance_db.dbname,
    }


@pytest.fixture(scope="class")
def logs_dir(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[str]:
    """dbt's log folder of one test class, in the run's temporary folder."""
    import os

    path = Path(tmp_path_factory.mktemp("dbt_logs")) / prefix
    os.environ["DBT_LOG_PATH"] = str(path)
    yield str(path)
    del os.environ["DBT_LOG_PATH"]
