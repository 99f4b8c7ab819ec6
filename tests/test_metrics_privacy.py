"""k-anonymity, rare categories and identical matches on frames with known answers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from synthdb.metrics.privacy import identical_match_share, k_anonymity, rare_categories


def known_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age band": pd.Series(["20-29"] * 6 + ["30-39"] * 3 + [None] * 2, dtype="str"),
            "zip;code": pd.array([1, 1, 1, 2, 2, 2, 1, 1, None, None, None], dtype="Int64"),
        }
    )


def test_k_anonymity_known_frame():
    res = k_anonymity(known_frame(), ["age band", "zip;code"], k=3)
    # classes: (20-29,1)=3, (20-29,2)=3, (30-39,1)=2, (30-39,NULL)=1, (NULL,NULL)=2
    assert res["classes"] == 5
    assert res["min_class_size"] == 1
    assert res["classes_below_k"] == 3
    assert res["rows_below_k"] == 5
    assert k_anonymity(known_frame(), ["age band"], k=3)["rows_below_k"] == 2


def test_rare_categories_counts_only():
    frame = known_frame()
    res = rare_categories(frame, ["age band"], min_count=4)
    assert res["rare_values"] == 1 and res["rare_rows"] == 3  # "30-39" x3; NULL ignored
    ids = pd.DataFrame({"id": [f"id{i}" for i in range(100)], "c": ["x"] * 100})
    res = rare_categories(ids, None, min_count=5)
    assert res["columns_checked"] == ["c"]
    assert res["columns_skipped_identifier_like"] == ["id"]
    assert res["rare_values"] == 0


def test_identical_match_share_ignores_dtype_differences():
    train = pd.DataFrame(
        {"a": pd.array([1, 2, None, 4], dtype="Int64"), "b": ["x", "y", None, "w"]}
    )
    holdout = pd.DataFrame({"a": pd.array([1, 9], dtype="Int64"), "b": ["x", "q"]})
    synthetic = pd.DataFrame({"a": [1.0, np.nan, 5.0, 2.0], "b": ["x", None, "z", "y"]})
    res = identical_match_share(train, holdout, synthetic)
    assert res["synthetic_matches"] == 3  # (1,x), (NULL,NULL), (2,y)
    assert res["synthetic_share"] == 0.75
    assert res["holdout_share"] == 0.5


def test_k_anonymity_agrees_with_sql(fresh_db):
    rng = np.random.default_rng(5)
    n = 2000
    frame = pd.DataFrame(
        {
            "Age band": pd.Series(rng.choice(["18-29", "30-44", "45-64", "65+"], n), dtype="str"),
            "zip 3;": pd.array(rng.integers(100, 130, n), dtype="Int64"),
            'sex "x"': pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )
    for col in frame.columns:
        frame.loc[rng.random(n) < 0.05, col] = None
    qis = list(frame.columns)
    with psycopg.connect(fresh_db.conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE t ({}, {}, {})").format(
                sql.SQL("{} text").format(sql.Identifier(qis[0])),
                sql.SQL("{} integer").format(sql.Identifier(qis[1])),
                sql.SQL("{} boolean").format(sql.Identifier(qis[2])),
            )
        )
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, na_rep="")
        copy_sql = sql.SQL("COPY t FROM STDIN WITH (FORMAT csv, NULL '')")
        with conn.cursor().copy(copy_sql) as cp:
            cp.write(buf.getvalue())
        k = 10
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in qis)
        row = conn.execute(
            sql.SQL(
                "SELECT min(c), count(*), count(*) FILTER (WHERE c < %(k)s),"
                " coalesce(sum(c) FILTER (WHERE c < %(k)s), 0)"
                " FROM (SELECT count(*) AS c FROM t GROUP BY {}) g"
            ).format(cols),
            {"k": k},
        ).fetchone()
    ours = k_anonymity(frame, qis, k)
    assert (
        ours["min_class_size"],
        ours["classes"],
        ours["classes_below_k"],
        ours["rows_below_k"],
    ) == (
        row[0],
        row[1],
        row[2],
        int(row[3]),
    )
    assert ours["classes_below_k"] > 0  # the comparison exercised small classes too


def test_row_hashes_same_across_text_dtypes_and_column_order_matters():
    from synthdb.metrics._columns import row_hashes

    values = ["a", None, "b c", "a"]
    as_str = pd.DataFrame({"x": pd.Series(values, dtype="str"), "n": [1.0, 2.0, None, -0.0]})
    as_obj = pd.DataFrame(
        {"x": pd.Series(values, dtype=object), "n": pd.array([1, 2, None, 0], dtype="Int64")}
    )
    h_str, h_obj = row_hashes(as_str), row_hashes(as_obj)
    assert (h_str == h_obj).all()
    assert len(set(h_str[:3])) == 3  # distinct rows, distinct hashes
    swapped = pd.DataFrame({"x": ["a", "b"], "y": ["b", "a"]})
    h = row_hashes(swapped)
    assert h[0] != h[1]  # the combination is not symmetric in the columns
