"""The policy macros (macros/policy/) give the right values on a real database through real dbt.

One throwaway dbt project is built per module and ``dbt run`` is invoked once (each dbt call
costs seconds). The macros are installed there as a *package* named ``synthdb`` (in
``dbt_packages``, its macro path a link to macros/policy), and the profile uses ``type: synthdb``, so the run also proves that
``adapter.dispatch(..., 'synthdb')`` finds the ``postgres__`` versions through the plugin's
postgres dependency (the ``default__`` versions of ``mask_uuid``/``add_noise`` raise).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import date, datetime

import psycopg
import pytest
from dbtproject import DbtProject, scratch_database, throwaway_project
from psycopg import sql

from synthdb import db
from synthdb.release import keys

SHORT_KEY = "k3y'with quote 16+"
LONG_KEY = "L" * 100  # longer than the 64-byte HMAC block: hashed first

EDGE_MODEL = """
{{ config(materialized='table') }}
select
    id,
    {{ synthdb.age_band('birth_date', as_of="'2024-06-30'") }} as age_band,
    {{ synthdb.age_band('birth_date', as_of="'2024-06-30'", width=5, top=87) }} as age_band_5,
    {{ synthdb.top_code('amount', 1000) }} as amount_top,
    {{ synthdb.bottom_code('amount', 0) }} as amount_bottom,
    {{ synthdb.bucket('amount', width=100) }} as amount_w100,
    {{ synthdb.bucket('amount', edges=[0, 100, 1000]) }} as amount_edges,
    {{ synthdb.coarsen_date('ts', 'week') }} as ts_week,
    {{ synthdb.coarsen_date('ts', 'month') }} as ts_month,
    {{ synthdb.coarsen_date('ts', 'quarter') }} as ts_quarter,
    {{ synthdb.coarsen_date('ts', 'year') }} as ts_year,
    {{ synthdb.coarsen_date('ts', 'day') }} as ts_day,
    {{ synthdb.coarsen_date('ts', 'hour') }} as ts_hour,
    {{ synthdb.collapse_rare('category', 2) }} as category,
    {{ synthdb.collapse_rare('category', 2, other="It's rare") }} as category_q,
    {{ synthdb.mask_uuid('id') }} as id_masked,
    {{ synthdb.mask_uuid('email') }} as email_masked,
    {{ synthdb.pseudonymize('email', 'pkey_short') }} as email_pseudo,
    {{ synthdb.pseudonymize('email', 'pkey_long') }} as email_pseudo_long,
    {{ synthdb.redact('email') }} as email_redacted,
    {{ synthdb.generalize_zip('zip', 3) }} as zip3,
    {{ synthdb.add_noise('amount', 0) }} as amount_noise0
from {{ source('src', 'people') }}
"""

NOISE_MODEL = """
{{ config(materialized='table') }}
select
    g as id,
    {{ synthdb.mask_uuid() }} as token,
    {{ synthdb.add_noise('100', 2.0) }} as laplace,
    {{ synthdb.add_noise('100', 2.0, distribution='gaussian') }} as gaussian,
    {{ synthdb.add_noise('100', 2.0, distribution='uniform') }} as uniform
from generate_series(1, 2000) as g
"""

SOURCES = """
version: 2
sources:
  - name: src
    schema: src
    tables:
      - name: people
"""

# id, birth_date, amount, ts, category, email, zip
PEOPLE = [
    (1, date(1994, 6, 30), 1500, "2024-02-29 13:00", "a", "ann@example.com", "02139"),
    (2, date(1994, 7, 1), 1000, "2024-12-31 23:59", "a", "bob@example.com", " 94105 "),
    (3, None, None, None, None, None, None),
    (4, date(1930, 1, 1), -5, "2023-01-01 00:00", "a", "ann@example.com", "1234"),
    (5, date(2025, 1, 1), 99.5, "2024-06-30 00:00", "b", "eve@example.com", ""),
    (6, date(2024, 6, 30), 0, "2024-04-01 00:00", None, "dan@example.com", "12"),
    (7, date(1938, 1, 1), 100, "2024-01-07 10:00", "c", "cat@example.com", "99999"),
]


def _hmac_hex(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def macro_db(
    pg_server: db.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[db.ConnectionSettings]:
    """A database with src.people, after one ``dbt run`` of the two check models."""
    with scratch_database(pg_server) as settings:
        with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
            conn.execute(
                "CREATE SCHEMA src; CREATE TABLE src.people (id int, birth_date date,"
                " amount numeric, ts timestamp, category text, email text, zip text)"
            )
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO src.people VALUES (%s,%s,%s,%s,%s,%s,%s)", PEOPLE)
            keys.set_key(conn, "pkey_short", SHORT_KEY.encode())
            keys.set_key(conn, "pkey_long", LONG_KEY.encode())
        models = {"sources.yml": SOURCES, "edge.sql": EDGE_MODEL, "noise.sql": NOISE_MODEL}
        path = throwaway_project(
            tmp_path_factory.mktemp("macro_proj") / "project",
            "macro_check",
            models,
            policy_macros="package",
        )
        run = DbtProject(path, settings).dbt("run")
        assert run.ok, run.output[-6000:]
        yield settings


def _column(settings: db.ConnectionSettings, table: str, column: str) -> dict[int, object]:
    with psycopg.connect(settings.conninfo()) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, {} FROM out.{}").format(
                sql.Identifier(column), sql.Identifier(table)
            )
        ).fetchall()
    return dict(rows)


def test_age_band_labels_open_top_and_nulls(macro_db: db.ConnectionSettings) -> None:
    bands = _column(macro_db, "edge", "age_band")
    # birthday on as_of counts; a day later does not; future birth dates and NULL give NULL
    assert bands == {1: "30-39", 2: "20-29", 3: None, 4: "90+", 5: None, 6: "0-9", 7: "80-89"}
    bands5 = _column(macro_db, "edge", "age_band_5")
    assert bands5[7] == "85-86"  # band truncated below the open top band
    assert bands5[4] == "87+" and bands5[1] == "30-34"


def test_top_and_bottom_code_keep_nulls(macro_db: db.ConnectionSettings) -> None:
    top = _column(macro_db, "edge", "amount_top")
    assert {k: (None if v is None else float(v)) for k, v in top.items()} == {
        1: 1000,
        2: 1000,
        3: None,
        4: -5,
        5: 99.5,
        6: 0,
        7: 100,
    }
    bottom = _column(macro_db, "edge", "amount_bottom")
    assert float(bottom[4]) == 0 and bottom[3] is None and float(bottom[1]) == 1500


def test_bucket_width_and_edges(macro_db: db.ConnectionSettings) -> None:
    width = _column(macro_db, "edge", "amount_w100")
    assert width == {
        1: "1500-1600",
        2: "1000-1100",
        3: None,
        4: "-100-0",
        5: "0-100",
        6: "0-100",
        7: "100-200",
    }
    edges = _column(macro_db, "edge", "amount_edges")
    assert edges == {
        1: "1000+",
        2: "1000+",
        3: None,
        4: "<0",
        5: "0-100",
        6: "0-100",
        7: "100-1000",
    }


def test_coarsen_date_grains_return_dates(macro_db: db.ConnectionSettings) -> None:
    week = _column(macro_db, "edge", "ts_week")
    month = _column(macro_db, "edge", "ts_month")
    quarter = _column(macro_db, "edge", "ts_quarter")
    year = _column(macro_db, "edge", "ts_year")
    assert week[1] == date(2024, 2, 26) and week[7] == date(2024, 1, 1)  # ISO weeks start Monday
    assert month[1] == date(2024, 2, 1) and month[2] == date(2024, 12, 1)
    assert quarter[2] == date(2024, 10, 1) and quarter[6] == date(2024, 4, 1)
    assert year[4] == date(2023, 1, 1)
    assert week[3] is None and month[3] is None
    assert all(isinstance(v, date) for v in month.values() if v is not None)


def test_coarsen_date_day_and_hour(macro_db: db.ConnectionSettings) -> None:
    day = _column(macro_db, "edge", "ts_day")
    hour = _column(macro_db, "edge", "ts_hour")
    assert day[1] == date(2024, 2, 29) and day[2] == date(2024, 12, 31) and day[3] is None
    assert type(day[1]) is date  # a date, not a timestamp
    assert hour[2] == datetime(2024, 12, 31, 23, 0) and hour[7] == datetime(2024, 1, 7, 10, 0)
    assert hour[3] is None


def test_collapse_rare_counts_over_whole_relation(macro_db: db.ConnectionSettings) -> None:
    cats = _column(macro_db, "edge", "category")
    assert cats == {1: "a", 2: "a", 3: None, 4: "a", 5: "Other", 6: None, 7: "Other"}
    assert _column(macro_db, "edge", "category_q")[5] == "It's rare"


def test_mask_uuid_is_random_per_row_and_keeps_nulls(macro_db: db.ConnectionSettings) -> None:
    masked = _column(macro_db, "edge", "email_masked")
    assert masked[3] is None
    values = [v for v in masked.values() if v is not None]
    # rows 1 and 4 share an email, but a mask has no consistent mapping
    assert len(set(values)) == len(values) == 6
    tokens = _column(macro_db, "noise", "token")
    assert len(set(tokens.values())) == 2000  # volatile: evaluated per row, not once


def test_pseudonymize_is_keyed_hmac_sha256(macro_db: db.ConnectionSettings) -> None:
    pseudo = _column(macro_db, "edge", "email_pseudo")
    assert pseudo[1] == _hmac_hex(SHORT_KEY, "ann@example.com")
    assert pseudo[1] == pseudo[4]  # stable: same value, same pseudonym (raises linkability)
    assert pseudo[2] == _hmac_hex(SHORT_KEY, "bob@example.com")
    assert pseudo[3] is None
    long = _column(macro_db, "edge", "email_pseudo_long")
    assert long[5] == _hmac_hex(LONG_KEY, "eve@example.com")
    assert long[5] != pseudo[5]


def test_redact_and_generalize_zip(macro_db: db.ConnectionSettings) -> None:
    redacted = _column(macro_db, "edge", "email_redacted")
    assert set(redacted.values()) == {"[REDACTED]", None} and redacted[3] is None
    zips = _column(macro_db, "edge", "zip3")
    assert zips == {1: "021**", 2: "941**", 3: None, 4: "123*", 5: "", 6: "12", 7: "999**"}


def test_add_noise_differs_per_row_with_expected_spread(macro_db: db.ConnectionSettings) -> None:
    import numpy as np

    zero = _column(macro_db, "edge", "amount_noise0")
    assert zero[3] is None and zero[1] == 1500.0  # scale 0 leaves values, NULL stays NULL
    for column, expected_sd in [
        ("laplace", 2.0 * np.sqrt(2)),
        ("gaussian", 2.0),
        ("uniform", 2.0 / np.sqrt(3)),
    ]:
        values = np.array(list(_column(macro_db, "noise", column).values()), dtype=float)
        assert len(np.unique(values)) == 2000, column  # a fresh draw per row
        assert abs(values.mean() - 100) < 0.3, column
        assert abs(values.std() - expected_sd) / expected_sd < 0.12, column
    uniform = np.array(list(_column(macro_db, "noise", "uniform").values()), dtype=float)
    assert uniform.min() >= 98 and uniform.max() <= 102
