"""Publish without a second digest (synthdb.release.unchanged), attacked on a real server and dbt.

The run records the id of the transaction that wrote every staged row; publish then proves the
rows unchanged from their ``xmin`` and skips the digest of its copy. Each attack here is what an
insider with the table's rights can do after a successful run: whatever it does, publish either
refuses (and the last release stays) or publishes rows whose digest is the one the run
measured. Every attack starts from a freshly built staged table (the run's own output, not yet
published or touched), so the untouched table would take the fast path and only the attack can
make the difference. The module makes that run once and puts its database and release
destination back before each attack (``dbtproject.Snapshot``: a file copy, so the rows keep the
run's ``xmin``) instead of running the model again for every test.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from dbtproject import share_of, snapshot
from psycopg import sql

from synthdb.release import destination, digest, pgio, unchanged

SCHEMA, NAME = "partner_demo_staging", "synthetic_transactions"
STAGING = f"{SCHEMA}.{NAME}"
PUBLISH = "partner_demo_transactions"
FAST = "unchanged since the run (row xmin)"
DIGESTED = "content digest of the copy"


def _one(conn, query, params=None):
    return conn.execute(query, params).fetchone()


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_release):
    """The demo right after its first build (conftest.demo_release), this module's copy."""
    return demo_release.copy(tmp_path_factory.mktemp("unchanged_project") / "project")


def _recorded(project) -> dict:
    """The fingerprint of the run that wrote the staged table now in place."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        return _one(conn, "SELECT fingerprint FROM synthdb_audit.runs WHERE "
                          "(fingerprint ->> 'oid')::bigint = %s::regclass::oid "
                          "ORDER BY finished_at DESC LIMIT 1", (STAGING,))[0]


def _release(project) -> tuple[int, dict, str]:
    """(version, content check, digest of the published table) of the latest release."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        version, check = _one(conn, "SELECT version, manifest -> 'content_check' FROM "
                                    "synthdb_audit.releases ORDER BY release_id DESC LIMIT 1")
    with psycopg.connect(share_of(project.settings).conninfo()) as conn:
        published = digest.content_digest(conn, "partner_demo", "transactions")[0]
    return version, check, published


@pytest.fixture(scope="module")
def staged_run(project, pg_server):
    """A new run of the synthetic model after the build, and a snapshot of the databases just
    after it: the fingerprint the run recorded, and the snapshot."""
    run = project.dbt("run", "-s", "synthetic_transactions", "--vars", "{synthdb_seed: 11}")
    assert run.ok, run.output
    recorded = _recorded(project)
    assert isinstance(recorded["writer_xid"], int), recorded  # the run proved it wrote all rows
    with snapshot(pg_server, project.settings) as taken:
        yield recorded, taken


@pytest.fixture()
def fresh(project, staged_run):
    """The staged table as the run wrote it (the databases put back as the run left them)."""
    recorded, taken = staged_run
    taken.restore()
    assert _recorded(project) == recorded
    return recorded


def _as_insider(project, *statements):
    with psycopg.connect(project.settings.conninfo()) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _publish(project):
    return project.dbt("run", "-s", PUBLISH)


def test_the_first_build_published_without_a_second_digest(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        check = _one(conn, "SELECT manifest -> 'content_check' FROM synthdb_audit.releases "
                           "ORDER BY release_id LIMIT 1")[0]
    assert check["method"] == FAST, check


def test_untouched_table_takes_the_fast_path_and_publishes_the_measured_rows(project, fresh):
    run = _publish(project)
    assert run.ok, run.output
    _version, check, published = _release(project)
    assert check["method"] == FAST, check  # the copy was not digested
    assert check["writer_xid"] == fresh["writer_xid"]
    assert published == fresh["digest"]  # and the copy holds exactly the measured rows


def _refused(project, *needles):
    before = _release(project)
    run = _publish(project)
    assert not run.ok, run.output
    assert "refusing to publish" in run.output, run.output
    for needle in needles:
        assert needle in run.output, run.output
    assert _release(project) == before  # the last release is untouched


def _published_measured_rows(project, fresh, method=None):
    run = _publish(project)
    assert run.ok, run.output
    _version, check, published = _release(project)
    assert published == fresh["digest"], check
    if method is not None:
        assert check["method"] == method, check
    return check


@pytest.mark.parametrize("statements", [
    [f"UPDATE {STAGING} SET amount = amount + 1 WHERE ctid = (SELECT min(ctid) FROM "
     f"{STAGING})"],
    [f"DELETE FROM {STAGING} WHERE ctid = (SELECT min(ctid) FROM {STAGING})"],
    [f"ALTER TABLE {STAGING} ALTER COLUMN amount TYPE {{amount_type}} USING amount * 2"],
    # the last column dropped and added again: no row is rewritten, every row reads the
    # default (or NULL) now, and the column list reads as before
    [f"ALTER TABLE {STAGING} DROP COLUMN {{last}}",
     f"ALTER TABLE {STAGING} ADD COLUMN {{last}} {{last_type}} DEFAULT {{value}}"],
    [f"ALTER TABLE {STAGING} DROP COLUMN {{last}}",
     f"ALTER TABLE {STAGING} ADD COLUMN {{last}} {{last_type}}"],
], ids=["update-one-value", "delete-one-row", "alter-type-doubling", "drop-add-default",
        "drop-add-null"])
def test_changed_rows_are_refused(project, fresh, statements):
    with psycopg.connect(project.settings.conninfo()) as conn:
        columns = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
            "attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (STAGING,)).fetchall()
        last, last_type = columns[-1]
        value = _one(conn, sql.SQL("SELECT quote_literal({}) FROM {} WHERE {} IS NOT NULL "
                                   "LIMIT 1").format(sql.Identifier(last), sql.SQL(STAGING),
                                                     sql.Identifier(last)))[0]
    names = {"amount_type": dict(columns)["amount"], "last": last, "last_type": last_type,
             "value": value}
    _as_insider(project, *(s.format(**names) for s in statements))
    _refused(project, "refusing to publish")
    with psycopg.connect(project.settings.conninfo()) as conn:
        assert [list(c) for c in columns] == [list(c) for c in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
            "attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (STAGING,)).fetchall()]  # the attack kept the names and types the run recorded


def test_same_content_rewritten_publishes_through_the_digest(project, fresh):
    """UPDATE x = x, DELETE + INSERT of the same row: new row versions with the same content.
    The fast proof fails, the digest of the copy matches: published, the measured rows."""
    first = f"(SELECT min(ctid) FROM {STAGING})"
    _as_insider(project,
                f"CREATE TEMP TABLE one AS SELECT * FROM {STAGING} WHERE ctid = {first}",
                f"DELETE FROM {STAGING} WHERE ctid = {first}",
                f"INSERT INTO {STAGING} SELECT * FROM one",
                f"UPDATE {STAGING} SET amount = amount WHERE ctid = {first}")
    check = _published_measured_rows(project, fresh, DIGESTED)
    assert any("written after the run" in why for why in check["why"]), check


def test_truncate_and_copy_freeze_of_the_same_rows_publishes_through_the_digest(project,
                                                                                 fresh):
    with psycopg.connect(project.settings.conninfo()) as conn:
        with conn.cursor().copy(f"COPY {STAGING} TO STDOUT (FORMAT binary)") as out:
            rows = b"".join(bytes(block) for block in out)
        conn.execute(f"TRUNCATE {STAGING}")
        with conn.cursor().copy(f"COPY {STAGING} FROM STDIN (FORMAT binary, FREEZE)") as into:
            into.write(rows)
        conn.commit()
    _published_measured_rows(project, fresh, DIGESTED)


def test_vacuum_full_and_cluster_keep_the_fast_path(project, fresh):
    """Maintenance rewrites the file, not the rows: their xmin stays the run's."""
    _as_insider(project, f"CREATE INDEX unchanged_idx ON {STAGING} (amount)")
    with psycopg.connect(project.settings.conninfo(), autocommit=True) as conn:
        conn.execute(f"VACUUM (FULL, FREEZE) {STAGING}")
        conn.execute(f"CLUSTER {STAGING} USING unchanged_idx")
    _as_insider(project, f"DROP INDEX {SCHEMA}.unchanged_idx")
    _published_measured_rows(project, fresh, FAST)


@pytest.mark.parametrize("writer", ["older", "future", "text"])
def test_a_doctored_writer_xid_falls_back_to_the_digest(project, fresh, writer):
    """An id 2^32 older has the same 32 bits (the rows would still match it; on this young test
    server it is below zero); one 2^31 in the future cannot have written them; a string is no
    id. None is trusted: the digest decides (here: unchanged rows, published)."""
    value = {"older": fresh["writer_xid"] - 2**32, "future": fresh["writer_xid"] + 2**31,
             "text": "1e9"}[writer]
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("UPDATE synthdb_audit.runs SET fingerprint = jsonb_set(fingerprint, "
                     "'{writer_xid}', %s::jsonb) WHERE (fingerprint ->> 'oid')::bigint = "
                     "%s::regclass::oid", (json.dumps(value), STAGING))
        conn.commit()
    check = _published_measured_rows(project, fresh, DIGESTED)
    assert check["why"], check


TYPED = ("public", "typed")


def _written_now(conn, **extra) -> dict:
    """What a run would record for public.typed (10 rows) written in ``conn``'s transaction,
    committed here."""
    writer = unchanged.writer_xid(conn, *TYPED)
    assert writer is not None
    oid = _one(conn, "SELECT 'public.typed'::regclass::oid")[0]
    conn.commit()
    return {"oid": oid, "writer_xid": writer, "rows": 10, **extra}


def _reasons_naming(conn, recorded: dict, needle: str) -> list[str]:
    """The reasons to digest public.typed that name ``needle``."""
    return [r for r in unchanged.reasons_to_digest(conn, recorded, TYPED, 10) if needle in r]


def test_the_proof_refuses_types_the_catalog_can_change(project):
    """An enum's RENAME VALUE changes what a row reads as without a new row version (shown
    here); enum, domain and reg* columns, a dropped column or one added with a default send
    publish to the digest, whose text shows the change."""
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("CREATE TYPE public.mood AS ENUM ('low', 'high')")
        conn.execute("CREATE DOMAIN public.amount_d AS numeric CHECK (VALUE >= 0)")
        conn.execute("CREATE TABLE public.typed (m public.mood, a public.amount_d, r regclass, "
                     "n int, gone int)")
        conn.execute("INSERT INTO public.typed SELECT 'low', 1, 'pg_class', g, g FROM "
                     "generate_series(1, 10) g")
        before = digest.content_digest(conn, *TYPED)
        recorded = _written_now(conn, digest=before[0])
        for column in ("'m'", "'a'", "'r'"):
            assert _reasons_naming(conn, recorded, column), column
        writer = recorded["writer_xid"]
        conn.execute("ALTER TYPE public.mood RENAME VALUE 'low' TO 'lowest'")
        conn.commit()
        assert _one(conn, "SELECT count(*) FROM public.typed WHERE xmin <> %s::text::xid8::xid",
                    (str(writer),))[0] == 0  # no row was rewritten ...
        assert digest.content_digest(conn, *TYPED)[0] != before[0]  # ... yet
        conn.execute("ALTER TABLE public.typed DROP COLUMN m, DROP COLUMN a, DROP COLUMN r")
        conn.commit()
        assert _reasons_naming(conn, recorded, "dropped")
        conn.execute("DROP TABLE public.typed")
        conn.execute("CREATE TABLE public.typed (n int)")
        conn.execute("INSERT INTO public.typed SELECT g FROM generate_series(1, 10) g")
        recorded = _written_now(conn)
        assert unchanged.reasons_to_digest(conn, recorded, TYPED, 10) == []
        conn.execute("ALTER TABLE public.typed ADD COLUMN extra int DEFAULT 7")
        conn.commit()
        assert _reasons_naming(conn, recorded, "'extra'")
        conn.execute("DROP TABLE public.typed")
        conn.execute("DROP DOMAIN public.amount_d")
        conn.execute("DROP TYPE public.mood")
        conn.commit()


def test_rows_written_by_another_transaction_or_a_savepoint_record_no_writer(project):
    with psycopg.connect(project.settings.conninfo()) as conn:
        conn.execute("CREATE TABLE public.w (n int)")
        conn.execute("INSERT INTO public.w VALUES (1)")
        conn.execute("SAVEPOINT s")
        conn.execute("INSERT INTO public.w VALUES (2)")
        conn.execute("RELEASE SAVEPOINT s")
        assert unchanged.writer_xid(conn, "public", "w") is None  # a subtransaction's row
        conn.execute("DELETE FROM public.w WHERE n = 2")
        assert unchanged.writer_xid(conn, "public", "w") is not None
        conn.commit()
        assert unchanged.writer_xid(conn, "public", "w") is None  # another transaction now
        conn.rollback()
        conn.execute("DROP TABLE public.w")
        conn.commit()


def test_the_copy_reads_only_the_checked_table(project):
    """A name that resolves to another table by the time the COPY runs (a schema renamed and
    recreated) yields no rows, so the count refuses it; the checked table's rows all copy."""
    src = psycopg.connect(project.settings.conninfo())
    dst = psycopg.connect(project.settings.conninfo())
    try:
        src.execute("CREATE TABLE public.pinned AS SELECT g AS n FROM generate_series(1, 5) g")
        src.execute("CREATE TABLE public.other AS SELECT g AS n FROM generate_series(1, 5) g")
        columns = pgio.relation_columns(src, "public", "pinned")
        pinned = _one(src, "SELECT 'public.pinned'::regclass::oid")[0]
        dst.execute("CREATE SCHEMA IF NOT EXISTS copies")
        assert destination.create_copy(src, ("public", "pinned"), dst, ("copies", "a"), columns,
                                       table_oid=pinned) == 5
        assert destination.create_copy(src, ("public", "other"), dst, ("copies", "b"), columns,
                                       table_oid=pinned) == 0
        # an = on oid that always holds, first in the session's search_path: the pin is
        # pg_catalog's operator all the same
        src.execute("CREATE SCHEMA hijack")
        src.execute("CREATE FUNCTION hijack.always(oid, oid) RETURNS boolean LANGUAGE sql "
                    "IMMUTABLE AS 'SELECT true'")
        src.execute("CREATE OPERATOR hijack.= (LEFTARG = oid, RIGHTARG = oid, "
                    "FUNCTION = hijack.always)")
        src.execute("SET LOCAL search_path = hijack, pg_catalog")
        assert _one(src, "SELECT 1::oid = 2::oid")[0] is True
        assert destination.create_copy(src, ("public", "other"), dst, ("copies", "c"), columns,
                                       table_oid=pinned) == 0
    finally:
        src.rollback()
        dst.rollback()
        src.close()
        dst.close()
