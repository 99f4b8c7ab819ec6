"""The dbt package ``synthdb`` (the repository root) as another project sees it.

A project with the package installed (as ``dbt deps`` installs a ``local:`` package) gets the
policy macros as ``synthdb.<macro>`` and the generic tests as ``synthdb.k_anonymity`` etc.,
without a ``dispatch:`` block, and none of the demo's models or sources. Parsing it warns
about nothing of the package's (a YAML patch for a macro that does not exist used to warn on
every parse). The adapter finds its include project through ``importlib.resources``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbtproject import DbtProject, throwaway_project

import synthdb
from synthdb import db
from synthdb.dbt_plugin.include_path import REQUIRED, include_path

MODEL = """
{{ config(materialized='table') }}
select
    {{ synthdb.coarsen_date("date '2024-05-17'", 'month') }} as m,
    {{ synthdb.top_code('x', 10) }} as capped,
    {{ synthdb.bucket('x', width=5) }} as band
from (select 12 as x) s
"""

TESTS = """
version: 2
models:
  - name: uses_package
    data_tests:
      - synthdb.k_anonymity: {arguments: {quasi_identifiers: [m], k: 1}}
      - synthdb.rare_categories: {arguments: {columns: [band], min_count: 1}}
      - synthdb.no_leakage
"""


@pytest.fixture(scope="module")
def package_project(
    tmp_path_factory: pytest.TempPathFactory, pg_server: db.ConnectionSettings
) -> DbtProject:
    path = throwaway_project(
        tmp_path_factory.mktemp("package_user") / "project",
        "package_user",
        {"uses_package.sql": MODEL, "schema.yml": TESTS},
        policy_macros="package",
    )
    return DbtProject(path, pg_server)


def test_macros_and_tests_come_from_the_package_and_nothing_else(
    package_project: DbtProject,
) -> None:
    run = package_project.dbt("parse", "--no-partial-parse")
    assert run.ok, run.output[-4000:]
    assert "Found patch for macro" not in run.output
    manifest = json.loads((package_project.path / "target" / "manifest.json").read_text())
    # the demo's models and sources (the repository's models/) are not part of the package:
    # not even parsed as disabled nodes
    assert {n["package_name"] for n in manifest["nodes"].values()} == {"package_user"}
    assert manifest["sources"] == {}
    assert not manifest.get("disabled")
    package_macros = {m["name"] for m in manifest["macros"].values()
                      if m["package_name"] == "synthdb"}
    assert {"coarsen_date", "top_code", "bucket", "test_k_anonymity", "test_rare_categories",
            "test_no_leakage", "synthdb_stored_failures"} <= package_macros
    # every macro a project calls is documented in the package's YAML (the adapter-specific
    # implementations behind dispatch are documented by their dispatching macro)
    undocumented = sorted(
        m["name"] for m in manifest["macros"].values()
        if m["package_name"] == "synthdb" and "__" not in m["name"] and not m["description"]
    )
    assert undocumented == []
    tests = {n["test_metadata"]["name"]: n["depends_on"]["macros"]
             for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    assert tests["k_anonymity"][0] == "macro.synthdb.test_k_anonymity"
    assert tests["no_leakage"][0] == "macro.synthdb.test_no_leakage"


def test_prefixed_policy_macros_compile_without_a_dispatch_block(
    package_project: DbtProject,
) -> None:
    """``synthdb.<macro>`` compiles, dispatching to the ``postgres__`` versions; the generic
    tests' helpers resolve from the package (they are called as ``synthdb.<helper>``)."""
    assert "dispatch" not in (package_project.path / "dbt_project.yml").read_text()
    run = package_project.dbt("compile")
    assert run.ok, run.output[-4000:]
    compiled = package_project.path / "target" / "compiled" / "package_user" / "models"
    sql = (compiled / "uses_package.sql").read_text()
    assert "date_trunc('month'" in sql and "synthdb:policy=coarsen_date" in sql
    assert "::text" in sql  # postgres__bucket_width_label, not the portable default
    leakage = next((compiled / "schema.yml").glob("synthdb_no_leakage_*.sql")).read_text()
    assert "stored verdict" in leakage


def test_include_project_is_found_through_the_installed_package() -> None:
    """The include project is the one of the imported ``synthdb`` (editable: the source tree;
    a wheel: site-packages, see test_wheel_project.py), not a path next to the adapter."""
    root = Path(include_path())
    assert root == Path(synthdb.__file__).resolve().parent / "dbt_plugin" / "include"
    assert all((root / name).is_file() for name in REQUIRED)


def test_package_path_of_a_source_checkout_is_the_repository_root() -> None:
    """From a checkout (editable install) the dbt package is the repository root itself; the
    wheel's own copy is checked in test_wheel_project.py."""
    from synthdb.cli import main
    from synthdb.dbt_package_path import dbt_package_path

    assert dbt_package_path() == Path(synthdb.__file__).resolve().parent.parent
    assert main(["package-path"]) == 0
