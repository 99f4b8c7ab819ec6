"""``host: embedded`` follows the dbt project (``--project-dir``), not the shell's folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dbtproject import DBT, throwaway_project

from synthdb import db

EMBEDDED_PROFILE = """\
synthdb_test:
  target: t
  outputs:
    t:
      type: synthdb
      host: embedded
      port: 5432
      user: postgres
      password: ""
      dbname: postgres
      schema: out
      threads: 1
"""


def test_embedded_server_lives_in_the_project_dir(tmp_path: Path) -> None:
    project = throwaway_project(tmp_path / "proj", "project_dir_check", {
        "one.sql": "{{ config(materialized='table') }} select 1 as x",
    })
    (project / "profiles.yml").write_text(EMBEDDED_PROFILE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHDB_")}
    env.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"})
    home = project / ".synthdb"
    try:
        run = subprocess.run(
            [DBT, "--no-use-colors", "run", "--project-dir", str(project),
             "--profiles-dir", str(project)],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        assert (home / "pgdata" / "PG_VERSION").is_file()
        assert not (elsewhere / ".synthdb").exists()  # no second, empty server in the cwd
        settings = db.embedded_status(home)
        assert settings is not None
        import psycopg

        with psycopg.connect(settings.conninfo()) as conn:
            assert conn.execute("SELECT x FROM out.one").fetchone() == (1,)
    finally:
        db.stop_embedded(home)
        db.stop_embedded(elsewhere / ".synthdb")  # only there if the home followed the cwd
