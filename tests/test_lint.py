"""The lineage lint catches contracts that leak identifiers, on a real ``dbt compile``.

One throwaway dbt project (policy macros in the *root* project, via a symlink, so this also
proves dispatch works there) holds a clean contract and one contract per broken rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dbtproject import DbtProject, scratch_database, throwaway_project

from synthdb import db
from synthdb.contract.lint import LintIssue, lint_project
from synthdb.contract.manifest import load_manifest
from synthdb.contract.validate import validate_project
from synthdb.release import keys

SOURCES = """
version: 2
sources:
  - name: prod
    schema: prod
    tables:
      - name: customers
        columns:
          - name: customer_id
            meta: {synthdb: {class: direct_identifier, policy: mask}}
          - name: email
            meta: {synthdb: {class: direct_identifier, policy: drop}}
          - name: birth_date
            meta: {synthdb: {class: quasi_identifier, policy: generalize}}
          - name: region
            meta: {synthdb: {class: quasi_identifier, policy: keep}}
          - name: income
            meta: {synthdb: {class: sensitive, policy: generalize}}
      - name: orders
        columns:
          - name: order_id
            meta: {synthdb: {class: direct_identifier, policy: drop}}
          - name: customer_id
            meta: {synthdb: {class: direct_identifier, policy: mask}}
          - name: amount
            meta: {synthdb: {class: other, policy: synthesize}}
          - name: ordered_at
            meta: {synthdb: {class: quasi_identifier, policy: generalize}}
"""

CONTRACTS = {
    # clean: every identifier masked, every 'generalize' column generalized, join on a key
    "good_contract": """
        {{ config(materialized='view', tags=['synthdb_contract']) }}
        with recent as (
            select customer_id, amount, ordered_at from {{ source('prod', 'orders') }}
            where ordered_at > date '2020-01-01'
        )
        select
            {{ mask_uuid('r.customer_id') }} as customer_ref,
            {{ age_band('c.birth_date', "date '2025-01-01'") }} as age_band,
            c.region as region,
            {{ top_code('c.income', 200000) }} as income,
            {{ coarsen_date('r.ordered_at', 'month') }} as order_month,
            {{ coarsen_date('r.ordered_at', 'day') }} as order_day,
            {{ coarsen_date('r.ordered_at', 'hour') }} as order_hour,
            r.amount as amount
        from recent as r
        join {{ source('prod', 'customers') }} as c on c.customer_id = r.customer_id
    """,
    "leaky_contract": """
        {{ config(materialized='view', meta={'synthdb': {'contract': true}}) }}
        select o.customer_id as customer_id, o.amount as amount
        from {{ source('prod', 'orders') }} as o
    """,
    "hidden_leak": """
        {{ config(materialized='view', tags=['synthdb_contract']) }}
        with x as (select customer_id || '' as cid, email from {{ source('prod', 'customers') }})
        select {{ redact('x.email') }} || x.cid as token from x
    """,
    "star_contract": """
        {{ config(materialized='view', tags=['synthdb_contract']) }}
        select * from {{ source('prod', 'orders') }}
    """,
    "raw_quasi": """
        {{ config(materialized='view', tags=['synthdb_contract']) }}
        select c.birth_date as birth_date, {{ bucket('c.income', width=10000) }} as income_band
        from {{ source('prod', 'customers') }} as c
    """,
    "pseudo_contract": """
        {{ config(materialized='view', tags=['synthdb_contract']) }}
        select {{ pseudonymize('o.customer_id', 'k') }} as customer_key,
               count(*) as orders
        from {{ source('prod', 'orders') }} as o
        where o.note is not null
        group by 1
    """,
    # not a contract: never linted even though it passes identifiers through
    "internal_model": """
        {{ config(materialized='view') }}
        select * from {{ source('prod', 'customers') }}
    """,
}


def make_project(root: Path, contracts: dict[str, str], sources: str = SOURCES) -> Path:
    """The lint project in ``root/project``, policy macros in its root macro path."""
    models = {"sources.yml": sources, **{f"{name}.sql": body for name, body in contracts.items()}}
    return throwaway_project(
        root / "project", "lint_check", models, policy_macros="root"
    )


def create_sources(settings: db.ConnectionSettings) -> None:
    with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA prod;"
            " CREATE TABLE prod.customers (customer_id int PRIMARY KEY, email text,"
            "   birth_date date, region text, income numeric);"
            " CREATE TABLE prod.orders (order_id int PRIMARY KEY, customer_id int NOT NULL,"
            "   amount numeric(10,2), ordered_at timestamp, note text)"
        )
        keys.set_key(conn, "k")  # pseudo_contract's pseudonymize('...', 'k') needs the store


def dbt_compile(settings: db.ConnectionSettings, project: Path) -> None:
    run = DbtProject(project, settings).dbt("compile")
    assert run.ok, run.output[-6000:]


@pytest.fixture(scope="module")
def compiled(
    pg_server: db.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[db.ConnectionSettings, Path]]:
    """One database and one ``dbt compile`` for the whole module (dbt costs seconds)."""
    with scratch_database(pg_server) as settings:
        create_sources(settings)
        project = make_project(tmp_path_factory.mktemp("lint"), CONTRACTS)
        dbt_compile(settings, project)
        yield settings, project


def _by_model(issues: list[LintIssue]) -> dict[str, list[LintIssue]]:
    out: dict[str, list[LintIssue]] = {}
    for issue in issues:
        out.setdefault(issue.model, []).append(issue)
    return out


def test_lint_rules_on_compiled_contracts(compiled) -> None:
    settings, project = compiled
    manifest = load_manifest(project / "target" / "manifest.json")
    assert {c.name for c in manifest.contracts} == set(CONTRACTS) - {"internal_model"}
    with db.connect(settings) as conn:
        report = validate_project(project, conn=conn, check_drift=False)
    issues = _by_model(report.lint)

    assert "good_contract" not in issues, [i.line() for i in issues.get("good_contract", [])]

    leaky = {(i.column, i.rule) for i in issues["leaky_contract"]}
    assert leaky == {("customer_id", "direct_identifier_unmasked")}
    assert "prod.orders.customer_id" in issues["leaky_contract"][0].message

    # masking one column of a concatenation does not mask the other
    hidden = {(i.column, i.rule) for i in issues["hidden_leak"]}
    assert hidden == {("token", "direct_identifier_unmasked")}
    assert "prod.customers.customer_id" in issues["hidden_leak"][0].message

    assert [i.rule for i in issues["star_contract"]] == ["select_star"]

    raw = {(i.column, i.rule) for i in issues["raw_quasi"]}
    assert raw == {("birth_date", "quasi_identifier_not_generalized")}

    pseudo = {(i.column, i.rule, i.severity) for i in issues["pseudo_contract"]}
    assert pseudo == {
        ("prod.orders.note", "unclassified_column", "error"),  # read in WHERE only
        ("customer_key", "linkable_pseudonym", "warning"),
    }
    assert not report.ok
    lines = report.lines()
    assert any(
        line.startswith("LINT leaky_contract.customer_id: direct_identifier_unmasked")
        for line in lines
    )


def test_lint_without_database_uses_yaml_columns(compiled) -> None:
    _, project = compiled
    manifest = load_manifest(project / "target" / "manifest.json")
    issues = _by_model(lint_project(manifest))
    assert "good_contract" not in issues
    assert {i.rule for i in issues["leaky_contract"]} == {"direct_identifier_unmasked"}
    # 'note' is not in the YAML, so offline it cannot even be resolved
    assert {i.rule for i in issues["pseudo_contract"]} == {"unresolved_column"}
