"""``synthdb demo release``: the whole flow on the embedded server, then a plain summary.

It loads the demo source, runs the real ``dbt build`` of the demo project (so the user sees
dbt's own output), creates a login for the recipient, and prints what was released: table, row
count, the gate's verdict per check, where the evidence is, and a psql line that works.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from synthdb import db
from synthdb.demo.source import load_demo_source
from synthdb.errors import SynthdbError
from synthdb.governance.users import add_user
from synthdb.release import keys
from synthdb.release.destination import destination_settings
from synthdb.release.publish import release_evidence_base

RECIPIENT_SCHEMA = "partner_demo"
RECIPIENT_TABLE = "transactions"
RECIPIENT_ROLE = "partner_demo_reader"
RECIPIENT_LOGIN = "partner_demo_analyst"
RELATED_KEY = "partner_demo_customer"  # links the related release's two contracts


def dbt_executable() -> str:
    """The dbt installed next to this Python (the project venv), else the one on PATH."""
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(args: list[str], project_dir: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """Run real dbt in ``project_dir`` with the project's profile unless one is configured."""
    full_env = dict(os.environ)
    full_env.setdefault("DBT_PROFILES_DIR", str(project_dir))
    full_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if env:
        full_env.update(env)
    return subprocess.run([dbt_executable(), *args], cwd=project_dir, env=full_env, check=False)


def demo_password(home: Path) -> Path:
    """A random password for the demo login, kept in a file only this user can read (the
    server checks passwords; printing one on the terminal would leave it in scroll-back)."""
    import secrets

    path = home / f"{RECIPIENT_LOGIN}.password"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(18))
    return path


def summary(conn, audit_schema: str = "synthdb_audit") -> dict:
    """The latest release of the demo table with its verdict."""
    row = conn.execute(
        sql.SQL("SELECT r.release_id, r.version, r.run_id, r.published_relation, "
                "r.manifest, ru.evidence_path FROM {a}.releases r JOIN {a}.runs ru USING (run_id) "
                "WHERE r.published_relation = %s ORDER BY r.release_id DESC LIMIT 1").format(
            a=sql.Identifier(audit_schema)),
        (f"{RECIPIENT_SCHEMA}.{RECIPIENT_TABLE}",)).fetchone()
    if row is None:
        raise SynthdbError("no release of partner_demo.transactions was recorded; "
                           "see the dbt output above")
    checks = conn.execute(
        sql.SQL("SELECT check_name, bool_and(passed) FILTER (WHERE passed IS NOT NULL), "
                "count(*) FROM {}.metrics WHERE run_id = %s GROUP BY 1 ORDER BY 1").format(
            sql.Identifier(audit_schema)), (row[2],)).fetchall()
    return {"release_id": row[0], "version": row[1], "run_id": row[2], "relation": row[3],
            "rows": (row[4] or {}).get("rows"), "checks": checks, "run_evidence": row[5]}


def run(project_dir: Path, customers: int, seed: int) -> int:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    settings = db.settings_from_env()
    timings["database"] = time.perf_counter() - start
    print(f"synthdb: PostgreSQL at {settings.host}:{settings.port}", flush=True)
    start = time.perf_counter()
    with psycopg.connect(settings.conninfo()) as conn:
        counts = load_demo_source(conn, customers=customers, seed=seed)
        conn.commit()
    timings["source"] = time.perf_counter() - start
    print("synthdb: demo source loaded: "
          + ", ".join(f"{k} {v:,} rows" for k, v in counts.items()), flush=True)
    start = time.perf_counter()
    result = run_dbt(["deps"], project_dir)  # the synthdb package (packages.yml)
    if result.returncode != 0:
        print("synthdb: dbt deps failed; see the dbt output above", file=sys.stderr)
        return result.returncode
    with psycopg.connect(settings.conninfo()) as conn:
        # the related release (customers -> transactions) links its two contracts by a keyed
        # pseudonym; the key lives in the key store, never in SQL, and is never released
        if RELATED_KEY not in {name for name, _at, _by in keys.key_names(conn)}:
            keys.set_key(conn, RELATED_KEY)
        conn.commit()
    result = run_dbt(["build", "--vars", "{synthdb_related_demo: true}"], project_dir)
    timings["dbt build"] = time.perf_counter() - start
    if result.returncode != 0:
        print("synthdb: dbt build failed; nothing new was published (the last good release, if "
              "any, is untouched)", file=sys.stderr)
        return result.returncode
    secret = demo_password(db.synthdb_home(project_dir))
    add_user(settings, "partner_demo", RECIPIENT_LOGIN, password=secret.read_text(),
             role=RECIPIENT_ROLE)
    dest = destination_settings(settings)
    with psycopg.connect(settings.conninfo()) as conn:
        info = summary(conn)
    with psycopg.connect(dest.conninfo()) as conn:
        info["rows"] = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(RECIPIENT_SCHEMA), sql.Identifier(RECIPIENT_TABLE))).fetchone()[0]
    evidence = (release_evidence_base(project_dir / "evidence", settings.dbname, "partner_demo",
                                      RECIPIENT_TABLE) / f"v{info['version']}")
    print()
    print(f"Released   {info['relation']} (version {info['version']}, run {info['run_id']})")
    print(f"Rows       {info['rows']:,} synthetic rows")
    print("Gate       " + "; ".join(
        f"{name}: {'PASS' if ok else ('FAIL' if ok is False else 'info')} ({n} metrics)"
        for name, ok, n in info["checks"]))
    print(f"Evidence   {evidence} (QA report: {evidence / 'qa_report.html'})")
    with psycopg.connect(dest.conninfo()) as conn:
        related = conn.execute(
            "SELECT (SELECT count(*) FROM partner_demo.customers), "
            "(SELECT count(*) FROM partner_demo.customer_transactions), "
            "(SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
            " AND conrelid = 'partner_demo.customer_transactions'::regclass)").fetchone()
    print(f"Related    partner_demo.customers ({related[0]:,} rows) and "
          f"partner_demo.customer_transactions ({related[1]:,} rows, FOREIGN KEY "
          f"{'declared' if related[2] else 'missing'}), published together")
    print(f"Audit      SELECT * FROM synthdb_audit.releases WHERE release_id = {info['release_id']};")
    print(f"Recipient  PGPASSWORD=\"$(cat {shlex.quote(str(secret))})\" "
          f"{dest.psql_command(user=RECIPIENT_LOGIN)} "
          f"-c 'SELECT * FROM {RECIPIENT_SCHEMA}.{RECIPIENT_TABLE} LIMIT 5'")
    print(f"           (database {dest.dbname}: releases only; the login cannot connect to "
          f"{settings.dbname}, the source)")
    print("Timings    " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return 0
