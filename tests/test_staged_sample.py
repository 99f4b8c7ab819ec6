"""The leakage stage's sample of the staged rows (synthdb.release.training.sample_table).

It replaced ``ORDER BY random() LIMIT n`` over the whole table by a seeded Bernoulli pass and a
random order of the few survivors. Checked on real rows: exact size, seeded (same seed, same
rows; another seed, other rows), uniform (every stretch of the table represented in
proportion), and the fallback when the Bernoulli pass keeps too few rows.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from synthdb import db
from synthdb.release import pgio, training

ROWS = 200_000
COLUMNS = [pgio.PgColumn("id", "integer", "N", True), pgio.PgColumn("tag", "text", "S", True)]
TABLE = sql.SQL("public.staged")


@pytest.fixture()
def conn(fresh_db: db.ConnectionSettings):
    with psycopg.connect(fresh_db.conninfo()) as c:
        c.execute("CREATE TABLE public.staged AS SELECT i AS id, 't' || (i % 3) AS tag "
                  f"FROM generate_series(1, {ROWS}) i")  # physical order = id order
        c.commit()
        yield c


def test_sample_is_exact_seeded_and_uniform(conn) -> None:
    first = training.sample_table(conn, TABLE, COLUMNS, 5000, ROWS, seed=11)
    again = training.sample_table(conn, TABLE, COLUMNS, 5000, ROWS, seed=11)
    other = training.sample_table(conn, TABLE, COLUMNS, 5000, ROWS, seed=12)
    assert len(first) == 5000 and first["id"].is_unique
    assert first["id"].tolist() == again["id"].tolist()
    assert len(set(first["id"]) & set(other["id"])) < 500  # ~125 expected by chance
    # Uniform over the table: each tenth of it (in physical order) holds ~500 of the 5,000.
    per_tenth = (first["id"] - 1) // (ROWS // 10)
    assert per_tenth.value_counts().between(400, 600).all() and per_tenth.nunique() == 10
    # The order is random too (the metrics may cut it further): not sorted by position.
    assert not first["id"].is_monotonic_increasing


def test_too_few_survivors_fall_back_to_the_full_draw(conn) -> None:
    # A row count ten times too high makes the Bernoulli pass keep ~1/10 of what it needs.
    sample = training.sample_table(conn, TABLE, COLUMNS, 5000, 10 * ROWS, seed=3)
    assert len(sample) == 5000 and sample["id"].is_unique
    small = training.sample_table(conn, TABLE, COLUMNS, 5000, 6000, seed=3)  # no pre-pass
    assert len(small) == 5000
    assert len(training.sample_table(conn, TABLE, COLUMNS, ROWS + 5, ROWS, seed=3)) == ROWS
