"""Attacks on the owner's side of a release: approve, export, budget, key (session 10).

The engineer may own the source database and the destination (``<db>_share``): a role with
CREATEDB that publishes creates the destination itself, and whoever created the source owns it.
A database's owner may ``ALTER DATABASE ... SET search_path = <own schema>, pg_catalog`` (or
``SET role``, ``SET extra_float_digits``), which reaches every role that connects there
afterwards — the owner (privacy officer) running ``synthdb approve`` or ``synthdb export``
included — and ``ALTER ROLE <self> SET search_path`` reaches the engineer's own dbt sessions.
Where the engineer may only create schemas, one named like the approver's login is in the
default search_path. A function or operator of theirs there answers the owner's reads and runs
with the owner's rights. Each attack below changed an outcome on main before session 10's
fixes (run from a frozen copy): approve granted a version nobody approved, export wrote a
signed bundle of unapproved rows or of rounded numbers, a trigger of the engineer's ran as the
approver, the budget ledger let a run overspend and showed the owner budget that was spent,
and ``synthdb key set`` handed the engineer a pseudonymisation key or a key store of their own.
The release is built once per module (dbt build of one small synthetic model, three publishes);
the budget and key tests use a fresh database after `synthdb roles setup` each.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
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

from synthdb import db
from synthdb.cli import main
from synthdb.governance import signing

ENGINEER, ENGINEER_PASSWORD = "dest_engineer", "dest-engineer-pw-1"
RECIPIENT, ROLE = "destx", "destx_reader"
SOURCE_DB, BUDGET_DB = "dest_attacks", "dest_budget"
OWN = "hijack"  # the engineer's schema, first in the search_path they set

SOURCES = people_sources("dsrc")
CONTRACT = """{{ config(materialized='view', schema='dest_contracts', tags=['synthdb_contract']) }}
select {{ synthdb.mask_uuid('id') }} as ref, region, band, amount::double precision as amount,
    joined
from {{ source('dsrc', 'people') }}
"""
SYNTHETIC = """{{ config(materialized='synthetic', schema='destx_staging',
    synth={'source': 'dest_contract', 'seed': 5, 'columns': {'ref': {'method': 'mock'}},
           'privacy': {'quasi_identifiers': ['region', 'band'], 'k': 5}}) }}
-- depends_on: {{ ref('dest_contract') }}
select * from {{ this }}
"""


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


def _as_engineer(settings: db.ConnectionSettings, dbname: str) -> psycopg.Connection:
    return psycopg.connect(settings.conninfo(user=ENGINEER, password=ENGINEER_PASSWORD,
                                             dbname=dbname), autocommit=True)


def _engineer_role(server: db.ConnectionSettings) -> None:
    """A plain LOGIN role: no superuser, no CREATEROLE (owning a database needs nothing)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        if not _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (ENGINEER,)):
            conn.execute(f"CREATE ROLE {ENGINEER} LOGIN PASSWORD '{ENGINEER_PASSWORD}'")


@contextlib.contextmanager
def hijacked(settings: db.ConnectionSettings, dbname: str, *definitions: str,
             path_of: str | None = "DATABASE") -> Iterator[None]:
    """The engineer's schema ``hijack`` in ``dbname`` with ``definitions``, first in the
    search_path of every session there (``path_of`` DATABASE: ``ALTER DATABASE``, as its
    owner), of the engineer's own sessions (ROLE: ``ALTER ROLE``) or of none (None); all
    undone afterwards. ``hijack.caught`` records who ran
    a trap of theirs: ``nextval`` of ``hijack.calls``, which a rollback does not undo."""
    who = sql.SQL(f"{path_of} {{}}").format(
        sql.Identifier(dbname if path_of == "DATABASE" else ENGINEER))
    with _as_engineer(settings, dbname) as conn:
        conn.execute(f"CREATE SCHEMA {OWN}")
        conn.execute(f"GRANT USAGE ON SCHEMA {OWN} TO PUBLIC")
        conn.execute(f"CREATE SEQUENCE {OWN}.calls")
        conn.execute(f"GRANT USAGE ON SEQUENCE {OWN}.calls TO PUBLIC")
        for statement in definitions:
            conn.execute(statement)
        if path_of:
            conn.execute(sql.SQL("ALTER {} SET search_path = {}, pg_catalog").format(
                who, sql.Identifier(OWN)))
    try:
        yield
    finally:
        with _as_engineer(settings, dbname) as conn:
            if path_of:
                conn.execute(sql.SQL("ALTER {} RESET search_path").format(who))
            conn.execute(f"DROP SCHEMA {OWN} CASCADE")


def calls(settings: db.ConnectionSettings, dbname: str) -> int:
    """How often a trap of the engineer's ran in ``dbname`` (committed or not)."""
    with _as_engineer(settings, dbname) as conn:
        value, called = _one(conn, f"SELECT last_value, is_called FROM {OWN}.calls")
        return value if called else 0


def trap(name: str, args: str, answer: str) -> str:
    """``hijack.<name>(<args>)``: counts its call, then returns ``answer``."""
    return (f"CREATE FUNCTION {OWN}.{name}({args}) RETURNS text LANGUAGE plpgsql AS $$BEGIN "
            f"PERFORM pg_catalog.nextval('{OWN}.calls'); RETURN {answer}; END$$")


@pytest.fixture(scope="module")
def released(tmp_path_factory, pg_server):
    """One synthetic model built by dbt, published three times to ``destx`` with approval
    required (same run, versions 1-3); v1 was approved while it was live, v2 and v3 wait.
    The engineer then owns the source and the destination database."""
    from synthdb.release.publish import PublishRequest, run_publish

    _engineer_role(pg_server)
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
    with scratch_database(pg_server, SOURCE_DB) as settings:
        create_people_source(settings, "dsrc")
        proj = make_project(tmp_path_factory.mktemp("dest_project"), settings,
                            with_demo_models=False)
        proj.write("models/sources.yml", SOURCES)
        proj.write("models/dest_contract.sql", CONTRACT)
        proj.write("models/destx_synthetic.sql", SYNTHETIC)
        if (REPO / "synthdb" / "release" / "contract_gate.py").exists():
            assert proj.dbt("compile").ok  # synthesis checks the contract against the lock
            lock = subprocess.run([str(Path(sys.executable).with_name("synthdb")), "validate",
                                   "--update"], cwd=proj.path, env=proj.env(),
                                  capture_output=True, text=True, timeout=300)
            assert lock.returncode == 0, lock.stdout + lock.stderr
        run = proj.dbt("build")
        assert run.ok, run.output
        request = PublishRequest(
            model="destx_people", staging=("destx_staging", "destx_synthetic"),
            target=(RECIPIENT, "people"), recipient=RECIPIENT, role=ROLE,
            metadata={"purpose": "destination attacks"}, approval_required=True,
            protected_schemas=["dsrc", "dest_contracts"], project_root=str(proj.path))
        with pytest.MonkeyPatch.context() as env:
            for key, value in proj.env().items():
                if key.startswith("SYNTHDB_"):
                    env.setenv(key, value)
            env.chdir(proj.path)
            assert run_publish(settings, request)["version"] == 1
            assert main(["approve", f"{RECIPIENT}/people/v1", "--ticket", "CAB-1",
                         "--by", "Pat Officer"]) == 0
            assert run_publish(settings, request)["version"] == 2
            assert run_publish(settings, request)["version"] == 3
        with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
            for dbname in (settings.dbname, share_of(settings).dbname):
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(dbname), sql.Identifier(ENGINEER)))
        yield proj


@pytest.fixture()
def cli(released, monkeypatch):
    """The synthdb CLI in-process, as the owner (superuser) runs it in the project folder."""
    for key, value in released.env().items():
        if key.startswith("SYNTHDB_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    monkeypatch.chdir(released.path)
    return lambda *argv: main(list(argv))


def _readable(project) -> bool:
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        return _one(conn, "SELECT pg_catalog.has_table_privilege(%s, %s, 'SELECT')",
                    (ROLE, f"{RECIPIENT}.people"))[0]


def test_approve_cannot_be_told_an_older_version_is_live(released, cli, capsys):
    """The destination's owner lends approve an ``obj_description`` that reports the table's
    comment with ``version: 2`` while it holds v3 (same run, so the digest agrees): approving
    v2 granted SELECT on v3's rows, which nobody approved, and ran the engineer's function as
    the approver. Approve now reads the destination with pg_catalog first: refused, no grant."""
    share = share_of(released.settings)
    older = trap("obj_description", "oid, name",
                 "(pg_catalog.obj_description($1, $2)::jsonb || '{\"version\": 2}')::text")
    assert not _readable(released)
    with hijacked(released.settings, share.dbname, older):
        with psycopg.connect(share.conninfo()) as conn:  # the hijack works in a session
            assert _one(conn, "SELECT obj_description(%s::regclass, 'pg_class')::jsonb "
                              "->> 'version'", (f"{RECIPIENT}.people",))[0] == "2"
            conn.rollback()
        capsys.readouterr()
        code = cli("approve", f"{RECIPIENT}/people/v2", "--ticket", "CAB-2", "--by", "Eve")
        err = capsys.readouterr().err
        ran = calls(released.settings, share.dbname)
    assert code == 2 and "a newer version replaced it" in err, err
    assert not _readable(released)
    assert ran == 1  # the session check above only


def test_approve_ignores_a_schema_named_after_the_approver(released, cli, capsys):
    """No ALTER at all: the default search_path is ``"$user", public``, and CREATE on the
    destination (which `synthdb roles setup` grants the engineer) is enough to create a schema
    named like the approver's login. pg_catalog is searched first, but an ``obj_description(oid,
    text)`` there is a better match for ``obj_description(c.oid, 'pg_class')`` than
    pg_catalog's ``(oid, name)`` (an unknown literal prefers text), so it answered approve's
    live-version read: v2 was approved while v3 was live. Refused now."""
    share = share_of(released.settings)
    approver = sql.Identifier(released.settings.user)
    with _as_engineer(released.settings, share.dbname) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(approver))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO PUBLIC").format(approver))
        conn.execute(sql.SQL(
            "CREATE FUNCTION {}.obj_description(oid, text) RETURNS text LANGUAGE sql AS "
            "$$SELECT (pg_catalog.obj_description($1, $2::name)::jsonb "
            "|| '{{\"version\": 2}}')::text$$").format(approver))
    try:
        with psycopg.connect(share.conninfo()) as conn:  # the hijack works in a session
            assert _one(conn, "SELECT obj_description(%s::regclass, 'pg_class')::jsonb "
                              "->> 'version'", (f"{RECIPIENT}.people",))[0] == "2"
        capsys.readouterr()
        code = cli("approve", f"{RECIPIENT}/people/v2", "--ticket", "CAB-5", "--by", "Eve")
        err = capsys.readouterr().err
    finally:
        with _as_engineer(released.settings, share.dbname) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(approver))
    assert code == 2 and "a newer version replaced it" in err, err
    assert not _readable(released)


def test_export_cannot_be_told_an_unapproved_release_is_approved(released, cli, capsys):
    """The source database's owner lends export a ``=`` on bigint that always holds, so the
    approvals join matches v1's approval row for any release: export wrote a signed bundle of
    v3, which awaits approval. Export now reads the audit schema with pg_catalog first:
    refused as not approved, the refusal logged, no bundle."""
    always = (f"CREATE FUNCTION {OWN}.always(bigint, bigint) RETURNS boolean LANGUAGE sql "
              "IMMUTABLE AS 'SELECT true'",
              f"CREATE OPERATOR {OWN}.= (LEFTARG = bigint, RIGHTARG = bigint, "
              f"FUNCTION = {OWN}.always)")
    out = released.path / "bundles" / "unapproved"
    with hijacked(released.settings, SOURCE_DB, *always):
        with psycopg.connect(released.settings.conninfo()) as conn:
            assert _one(conn, "SELECT 1::bigint = 2::bigint")[0] is True
        capsys.readouterr()
        code = cli("export", f"{RECIPIENT}/people/v3", "--ticket", "T-3", "--ttl", "1d",
                   "--out", str(out), "--key-file", str(released.path / "key" / "k"))
        err = capsys.readouterr().err
    assert code == 2 and "requires approval" in err, err
    assert not out.exists() or not any(out.iterdir())
    with psycopg.connect(released.settings.conninfo()) as conn:
        logged = _one(conn, "SELECT count(*) FROM synthdb_audit.downloads WHERE ticket = 'T-3' "
                            "AND action = 'export_refused'")[0]
    assert logged == 1


def test_approve_and_export_never_run_the_destination_owners_functions(released, cli, capsys):
    """A trap in the destination (``obj_description``, ``shobj_description``: what approve's
    live-version read and role checks call) records every caller: with the owner's
    connections resolving in pg_catalog, neither export of the approved v1 (refused: v3 is
    live) nor ``recipient add-user`` ever calls it, so nothing of the engineer's runs
    with the owner's rights."""
    share = share_of(released.settings)
    traps = [trap(name, "oid, name", f"pg_catalog.{name}($1, $2)")
             for name in ("obj_description", "shobj_description")]
    with hijacked(released.settings, share.dbname, *traps):
        with psycopg.connect(share.conninfo()) as conn:  # the trap works in a session
            conn.execute("SELECT shobj_description(0, 'pg_authid')")
        assert calls(released.settings, share.dbname) == 1
        capsys.readouterr()
        assert cli("export", f"{RECIPIENT}/people/v1", "--ticket", "T-4", "--ttl", "1d",
                   "--out", str(released.path / "bundles" / "old"), "--key-file",
                   str(released.path / "key" / "k")) == 2
        assert "now holds v3" in capsys.readouterr().err
        assert cli("recipient", "add-user", RECIPIENT, "dest_ann") == 0
        ran = calls(released.settings, share.dbname)
    assert ran == 1


def test_approve_refuses_to_run_a_trigger_on_the_destinations_history(released, cli, capsys):
    """Code attached to a table runs whoever writes it, whatever the search_path: when the
    engineer owns ``synthdb_share`` and its ``releases`` (they created the destination, and
    `synthdb roles setup` has not run since), a trigger of theirs on it ran with the approver's rights when
    approve wrote ``approved_at``. Approve now refuses, naming the trigger: nothing approved,
    nothing granted, the trigger never ran."""
    share = share_of(released.settings)
    history = "synthdb_share.releases"
    count = (f"CREATE FUNCTION {OWN}.tg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
             f"PERFORM pg_catalog.nextval('{OWN}.calls'); RETURN NEW; END$$",
             f"CREATE TRIGGER approver_rights BEFORE UPDATE ON {history} FOR EACH ROW "
             f"EXECUTE FUNCTION {OWN}.tg()")
    with psycopg.connect(share.conninfo(), autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA synthdb_share OWNER TO {ENGINEER}")
        conn.execute(f"ALTER TABLE {history} OWNER TO {ENGINEER}")
    try:
        with hijacked(released.settings, share.dbname, *count, path_of=None):
            capsys.readouterr()
            code = cli("approve", f"{RECIPIENT}/people/v3", "--ticket", "CAB-6", "--by", "Pat")
            err = capsys.readouterr().err
            ran = calls(released.settings, share.dbname)
    finally:
        with psycopg.connect(share.conninfo(), autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {history} OWNER TO {released.settings.user}")
            conn.execute(f"ALTER SCHEMA synthdb_share OWNER TO {released.settings.user}")
    assert code == 2 and "trigger approver_rights" in err, err
    assert ran == 0 and not _readable(released)
    with psycopg.connect(released.settings.conninfo()) as conn:
        assert _one(conn, "SELECT count(*) FROM synthdb_audit.approvals WHERE ticket = "
                          "'CAB-6'")[0] == 0


def test_export_writes_floats_exactly_whatever_the_database_says(released, cli):
    """The destination's owner may ``ALTER DATABASE ... SET extra_float_digits = -15``: the
    export's COPY rendered every double rounded to one significant digit, so the signed bundle
    held other numbers than the release. Export reads under the digest's output settings
    now: the bundle's doubles are the table's, bit for bit."""
    import pyarrow.parquet as pq

    share = share_of(released.settings)
    cli("approve", f"{RECIPIENT}/people/v3", "--ticket", "CAB-7", "--by", "Pat")
    assert _readable(released)
    with psycopg.connect(share.conninfo()) as conn:
        cur = conn.cursor(binary=True)  # doubles as stored, whatever the text settings
        stored = sorted(r[0] for r in cur.execute(f"SELECT amount FROM {RECIPIENT}.people"))
    out = released.path / "bundles" / "floats"
    with hijacked(released.settings, share.dbname, path_of=None):
        with _as_engineer(released.settings, share.dbname) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} SET extra_float_digits = -15").format(
                sql.Identifier(share.dbname)))
        try:
            with psycopg.connect(share.conninfo()) as conn:  # the setting reaches the owner
                rounded = [r[0] for r in conn.execute(
                    f"SELECT amount::text FROM {RECIPIENT}.people")]
            assert sorted(float(x) for x in rounded) != stored
            assert cli("export", f"{RECIPIENT}/people/v3", "--ticket", "T-7", "--ttl", "1d",
                       "--out", str(out), "--key-file", str(released.path / "key" / "k")) == 0
        finally:
            with _as_engineer(released.settings, share.dbname) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} RESET extra_float_digits").format(
                    sql.Identifier(share.dbname)))
    exported = sorted(pq.read_table(out / "data.parquet").column("amount").to_pylist())
    assert exported == stored


@pytest.fixture()
def managed_budget(pg_server):
    """`synthdb roles setup` for the engineer on a new source database the engineer owns,
    then a source-wide budget of 1.0 on ``public.people``, set by the owner."""
    _engineer_role(pg_server)
    with scratch_database(pg_server, BUDGET_DB) as owner:
        with psycopg.connect(owner.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TABLE public.people (id int)")
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(BUDGET_DB), sql.Identifier(ENGINEER)))
        with pytest.MonkeyPatch.context() as env:
            for key in ("host", "port", "user", "password", "dbname"):
                env.setenv("SYNTHDB_" + key.upper(), str(getattr(owner, key)))
            assert main(["roles", "setup", "--engineer", ENGINEER]) == 0
            assert main(["budget", "set", "public.people", "1.0"]) == 0
            yield owner


def _reserve(owner: db.ConnectionSettings, run_id: str, epsilon: float) -> dict:
    """What the engineer's run does before reading a row: record its spend or be refused."""
    from synthdb.release import ledger

    with _as_engineer(owner, BUDGET_DB) as conn:
        conn.autocommit = False
        conn.execute("INSERT INTO synthdb_audit.runs (run_id, model) VALUES (%s, 'm')",
                     (run_id,))
        conn.commit()
        return ledger.reserve(conn, "synthdb_audit", run_id, "public.people", None, epsilon)


ZERO_SUM = (f"CREATE FUNCTION {OWN}.nothing(double precision, double precision) RETURNS "
            "double precision LANGUAGE sql IMMUTABLE AS 'SELECT 0::double precision'",
            f"CREATE AGGREGATE {OWN}.sum(double precision) (SFUNC = {OWN}.nothing, "
            "STYPE = double precision, INITCOND = '0')")


def _spends(owner: db.ConnectionSettings) -> list[str]:
    with psycopg.connect(owner.conninfo()) as conn:
        return [r[0] for r in conn.execute(
            "SELECT run_id FROM synthdb_audit.budget_spend ORDER BY run_id")]


def test_a_run_cannot_overspend_with_a_sum_of_the_engineers_own(managed_budget):
    """A ``sum(double precision)`` of the engineer's own that always answers 0, first in the
    engineer's role search_path (no privilege needed): the ledger found nothing spent and let
    a second run spend 0.8 of a budget of 1.0 that already had 0.8 spent. The reservation
    sums in pg_catalog now: refused, nothing recorded."""
    from synthdb.errors import ConfigError

    assert _reserve(managed_budget, "r1", 0.8)["remaining"] == pytest.approx(0.2)
    with hijacked(managed_budget, BUDGET_DB, *ZERO_SUM, path_of="ROLE"):
        with _as_engineer(managed_budget, BUDGET_DB) as conn:  # the hijack works in a session
            assert _one(conn, "SELECT sum(x) FROM (VALUES (0.8::float8)) v(x)")[0] == 0
        with pytest.raises(ConfigError, match="exceeded: spent 0.8"):
            _reserve(managed_budget, "r2", 0.8)
    assert _spends(managed_budget) == ["r1"]


def test_budget_show_counts_every_spend_whatever_the_search_path(managed_budget, capsys):
    """The same ``sum``, first in the search_path of the source database (the engineer owns
    it): ``synthdb budget show``, run by the owner, said the whole budget was left after 0.8
    of 1.0 was spent. It reads in pg_catalog now: 0.2."""
    _reserve(managed_budget, "r1", 0.8)
    with hijacked(managed_budget, BUDGET_DB, *ZERO_SUM):
        with psycopg.connect(managed_budget.conninfo()) as conn:  # the owner's session
            assert _one(conn, "SELECT sum(x) FROM (VALUES (0.8::float8)) v(x)")[0] == 0
        capsys.readouterr()
        assert main(["budget", "show", "public.people"]) == 0
        shown = capsys.readouterr().out
    assert "remaining epsilon 0.2" in shown, shown


def test_the_owners_key_commands_lend_the_engineer_nothing(managed_budget, capsys):
    """A ``=`` on text of the engineer's own, first in the search_path of the source database
    they own, copies every pseudonymisation key it can read into a table of theirs: run by
    ``synthdb key set`` (the owner, the only role that reads ``synthdb_keys.keys``), it stole
    the first key while the second was stored. The key commands read in pg_catalog now:
    nothing copied, the trap never called."""
    steal = (
        f"CREATE TABLE {OWN}.loot (name text, pad bytea)",
        f"GRANT INSERT ON {OWN}.loot TO PUBLIC",
        f"CREATE FUNCTION {OWN}.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN "
        f"PERFORM pg_catalog.nextval('{OWN}.calls'); "
        f"BEGIN INSERT INTO {OWN}.loot SELECT name, inner_pad FROM synthdb_keys.keys; "
        "EXCEPTION WHEN undefined_table OR insufficient_privilege THEN NULL; END; "
        "RETURN $1 OPERATOR(pg_catalog.=) $2; END$$",
        f"CREATE OPERATOR {OWN}.= (LEFTARG = text, RIGHTARG = text, FUNCTION = {OWN}.eq)")
    assert main(["key", "set", "first"]) == 0
    with hijacked(managed_budget, BUDGET_DB, *steal):
        with psycopg.connect(managed_budget.conninfo()) as conn:  # the hijack works in a session
            assert _one(conn, "SELECT 'a'::text = 'a'::text")[0] is True
            conn.rollback()  # (it copied the first key: not kept)
        before = calls(managed_budget, BUDGET_DB)
        assert main(["key", "set", "second"]) == 0
        assert main(["key", "list"]) == 0
        with _as_engineer(managed_budget, BUDGET_DB) as conn:
            stolen = conn.execute(f"SELECT name FROM {OWN}.loot").fetchall()
        ran = calls(managed_budget, BUDGET_DB) - before
    assert "first" in capsys.readouterr().out
    assert stolen == [] and ran == 0, (stolen, ran)


def test_the_owners_commands_run_as_the_owner(managed_budget):
    """A database default for ``role`` (``ALTER DATABASE ... SET role = <engineer>``, which
    its owner may set) makes every session of a member of that role start as the engineer,
    and a superuser is a member of every role. ``synthdb key set`` then created the key store
    as the engineer, who owned it and could read every key. The owner's connections drop any
    such role (``SET ROLE NONE``) along with the search_path: the store is the owner's."""
    with _as_engineer(managed_budget, BUDGET_DB) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET role = {}").format(
            sql.Identifier(BUDGET_DB), sql.Identifier(ENGINEER)))
    try:
        with psycopg.connect(managed_budget.conninfo()) as conn:  # the hijack works
            assert _one(conn, "SELECT current_user")[0] == ENGINEER
        code = main(["key", "set", "first"])
    finally:
        with _as_engineer(managed_budget, BUDGET_DB) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RESET role").format(
                sql.Identifier(BUDGET_DB)))
    with psycopg.connect(managed_budget.conninfo()) as conn:
        store = _one(conn, "SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class "
                           "WHERE oid = pg_catalog.to_regclass('synthdb_keys.keys')")
    assert code == 0 and store == (managed_budget.user,), store


def test_roles_setup_takes_over_a_destination_the_engineer_made(pg_server):
    """The engineer published first with CREATEDB, so they own ``<db>_share``, ``synthdb_share``
    and its ``releases``; `synthdb roles setup` used to adopt them as they were, leaving the
    engineer ALTER DATABASE on the destination and UPDATE/DELETE of the recipients' history
    (the set-up promises SELECT, INSERT only). It takes them over now."""
    _engineer_role(pg_server)
    with scratch_database(pg_server, "dest_adopt") as owner:
        share = share_of(owner)
        with psycopg.connect(owner.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(share.dbname), sql.Identifier(ENGINEER)))
        with _as_engineer(owner, share.dbname) as conn:  # what their own publish created
            conn.execute("CREATE SCHEMA synthdb_share")
            conn.execute("CREATE TABLE synthdb_share.releases (release_id bigint PRIMARY KEY, "
                         "approved_at timestamptz)")
            conn.execute("INSERT INTO synthdb_share.releases VALUES (1, NULL)")
        with pytest.MonkeyPatch.context() as env:
            for key in ("host", "port", "user", "password", "dbname"):
                env.setenv("SYNTHDB_" + key.upper(), str(getattr(owner, key)))
            assert main(["roles", "setup", "--engineer", ENGINEER]) == 0
        with _as_engineer(owner, share.dbname) as conn:
            for statement in ("DELETE FROM synthdb_share.releases",
                              "UPDATE synthdb_share.releases SET approved_at = now()",
                              sql.SQL("ALTER DATABASE {} SET search_path = public").format(
                                  sql.Identifier(share.dbname))):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            assert _one(conn, "SELECT count(*) FROM synthdb_share.releases")[0] == 1
