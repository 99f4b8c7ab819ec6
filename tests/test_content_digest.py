"""The content digest's definition (synthdb.release.digest, version 2), checked on real rows.

A table large enough to break the old one-level digest (> 33.5M rows, one 1 GB ``bytea``)
takes too long to build here, so the properties are tested instead: the SQL digest equals an
independent computation in Python of the two-level definition (so each bucket's value is
1/65,536 of the old single value), it ignores row order, it changes with one edited value and
counts duplicates, and a digest recorded under the old definition is refused, not compared.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import psycopg
import pytest

from synthdb import db
from synthdb.release import digest


def _two_level(row_texts: list[str]) -> str:
    """The version-2 definition written out in Python, independently of the SQL."""
    buckets: dict[int, list[bytes]] = defaultdict(list)
    for text in row_texts:
        h = hashlib.sha256(text.encode()).digest()
        buckets[h[0] * 256 + h[1]].append(h)
    top = b"".join(hashlib.sha256(b"".join(sorted(buckets[b]))).digest()
                   for b in sorted(buckets))
    return hashlib.sha256(top).hexdigest()


@pytest.fixture()
def conn(fresh_db: db.ConnectionSettings):
    with psycopg.connect(fresh_db.conninfo()) as c:
        c.execute("CREATE TABLE public.t (id int, label text, at timestamptz, x float8)")
        # 6,000 rows: ~270 of the 65,536 buckets hold two or more rows, so the sort inside
        # a bucket is exercised; some rows are exact duplicates.
        c.execute("INSERT INTO public.t SELECT i % 5000, 'v' || (i % 7), "
                  "'2024-01-01'::timestamptz + i * interval '1 hour', i / 3.0 "
                  "FROM generate_series(1, 6000) i")
        c.commit()
        yield c


def _digest(conn, name: str = "t") -> tuple[str, int]:
    return digest.content_digest(conn, "public", name)


def test_sql_digest_is_the_two_level_definition(conn) -> None:
    got, rows = _digest(conn)
    conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1")
    texts = [r[0] for r in conn.execute("SELECT ROW(t.*)::text FROM public.t AS t")]
    assert rows == 6000 and got == _two_level(texts)
    per_bucket = conn.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM (SELECT sha256(convert_to(ROW(t.*)::text, "
        "'UTF8')) h FROM public.t t) r GROUP BY get_byte(h, 0), get_byte(h, 1)) b").fetchone()[0]
    assert per_bucket >= 2  # buckets with several rows were part of the comparison
    conn.execute("CREATE TABLE public.e (a int)")  # no rows: SHA-256 of nothing
    assert _digest(conn, "e") == (hashlib.sha256(b"").hexdigest(), 0)


def test_parallel_workers_hash_the_rows_and_the_digest_is_the_same(conn) -> None:
    """The digest runs with parallel costs (``DIGEST_PLAN_SETTINGS``): workers render and hash
    the rows, the leader sorts them. The plan must not change the value: the parallel digest
    equals the one computed with parallel workers switched off, and the independent one."""
    conn.execute("SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")
    conn.execute("SET parallel_leader_participation = off")  # the workers hash every row
    settings = {**digest.READ_SETTINGS, **digest.DIGEST_PLAN_SETTINGS}
    with conn.transaction():
        for key, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, true)", (key, value))
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF) " + digest.DIGEST_SELECT.format(table="public.t")))
    assert "Workers Launched: 2" in plan and "Parallel Seq Scan" in plan, plan
    parallel = _digest(conn)
    conn.execute("SET max_parallel_workers_per_gather = 0")
    assert _digest(conn) == parallel
    conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1")
    texts = [r[0] for r in conn.execute("SELECT ROW(t.*)::text FROM public.t AS t")]
    assert parallel == (_two_level(texts), 6000)


def test_order_edit_and_duplicates(conn) -> None:
    first = _digest(conn)
    conn.execute("CREATE TABLE public.shuffled AS SELECT * FROM public.t ORDER BY md5(x::text)")
    assert _digest(conn, "shuffled") == first  # same rows, another physical order
    conn.execute("UPDATE public.shuffled SET x = x + 1e-9 WHERE id = 4321")  # one value
    assert _digest(conn, "shuffled")[0] != first[0]
    conn.rollback()
    conn.execute("CREATE TABLE public.dup AS SELECT * FROM public.t")
    conn.execute("INSERT INTO public.dup SELECT * FROM public.t WHERE id = 17 LIMIT 1")
    assert _digest(conn, "dup")[0] != first[0]  # a duplicate row counts
    # Same set of distinct rows, other multiplicities: {a, a, b} is not {a, b, b}.
    conn.execute("CREATE TABLE public.m1 (v int); CREATE TABLE public.m2 (v int)")
    conn.execute("INSERT INTO public.m1 VALUES (1), (1), (2); INSERT INTO public.m2 VALUES (1), (2), (2)")
    assert _digest(conn, "m1")[0] != _digest(conn, "m2")[0]
    assert _digest(conn, "m1")[1] == _digest(conn, "m2")[1] == 3


def test_digest_of_an_older_definition_is_refused_not_compared(conn) -> None:
    now = digest.fingerprint(conn, "public", "t")
    assert now is not None and now.digest_version == digest.DIGEST_VERSION == 2
    recorded = now.as_dict()
    assert digest.content_problems(recorded, now) == []
    old = {k: v for k, v in recorded.items() if k != "digest_version"}  # before version 2
    problems = digest.content_problems(old, now)
    assert len(problems) == 1 and "definition version 1" in problems[0]
    assert "rebuild the model" in problems[0] and "roles setup" in problems[0]


def test_require_content_refuses_another_digest(conn) -> None:
    from synthdb.errors import GateError
    from synthdb.release import verdicts

    now = digest.fingerprint(conn, "public", "t")
    verdicts.require_content(now.as_dict(), now, "p", "r1")  # the same content: no refusal
    edited = {**now.as_dict(), "digest": "0" * 64}
    with pytest.raises(GateError, match="no longer holds what run r1 measured: its rows changed"):
        verdicts.require_content(edited, now, "p", "r1", label="public.t")
