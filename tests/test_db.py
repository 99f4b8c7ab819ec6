"""The embedded server starts and answers real SQL."""

import psycopg


def test_fresh_db_is_real_postgres(fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        version = conn.execute("show server_version_num").fetchone()[0]
        assert int(version) >= 150000
        conn.execute("create table t (a int)")
        conn.execute("insert into t select generate_series(1, 10)")
        assert conn.execute("select sum(a) from t").fetchone()[0] == 55
