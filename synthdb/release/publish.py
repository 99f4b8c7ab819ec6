"""Publish: expose a gated synthetic table to a recipient's schema and role.

The gate is fail-closed (DESIGN §2): the staging table's comment names the run that produced it;
publish refuses unless that run's stored verdict passed every required check and the table
still holds exactly the rows that were measured. Whatever dbt was asked to select
(``dbt run -s publish_model`` skips the tests), the decision is made here, from the database.

Everything the recipient sees changes in one transaction: copy into a temporary table, swap it
for the published one, comment it with the release metadata, grant, and record the release.
Evidence files are written to a temporary folder and moved into place only after the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from synthdb import __version__
from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError, GateError
from synthdb.release import audit, pgio
from synthdb.release.synthesize import TMP_PREFIX, _label, _qualified

PUBLISH_KEYS = {"from", "recipient", "role", "owner", "purpose", "retention", "licence", "contact"}


@dataclass
class PublishRequest:
    model: str
    staging: tuple[str, str]
    target: tuple[str, str]
    recipient: str
    role: str
    metadata: dict[str, Any] = field(default_factory=dict)
    column_docs: dict[str, str] = field(default_factory=dict)
    protected_schemas: list[str] = field(default_factory=list)
    invocation_id: str | None = None
    audit_schema: str = "synthdb_audit"
    project_root: str = "."
    evidence_dir: str = "evidence"


def parse_publish_config(raw: Any, model: str) -> dict[str, Any]:
    where = f"model {model}: config publish"
    if not isinstance(raw, dict) or not raw.get("from") or not raw.get("recipient"):
        raise ConfigError(
            f"{where} needs 'from' (the synthetic model) and 'recipient', e.g. "
            "config(materialized='publish', publish={'from': 'synthetic_x', 'recipient': 'acme'})"
        )
    unknown = sorted(set(raw) - PUBLISH_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    return dict(raw)


def staging_run_id(conn, schema: str, name: str) -> str | None:
    row = conn.execute(
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        return json.loads(row[0]).get("synthdb_run_id")
    except (ValueError, AttributeError):
        return None


def check_gate(conn, request: PublishRequest) -> dict[str, Any]:
    """The stored verdict for the staging table, or GateError saying why publish is refused."""
    staging = _label(*request.staging)
    prefix = f"synthdb gate: refusing to publish {staging} to {request.recipient}"
    if not pgio.relation_exists(conn, *request.staging):
        raise GateError(f"{prefix}: the staging table does not exist (run the synthetic model)")
    run_id = staging_run_id(conn, *request.staging)
    if run_id is None:
        raise GateError(f"{prefix}: the table carries no synthdb run id, so no verdict vouches "
                        "for it (was it written outside synthdb?)")
    verdict = audit.verdict(conn, request.audit_schema, run_id)
    if verdict is None:
        raise GateError(f"{prefix}: run {run_id} has no stored verdict")
    if not verdict["passed"]:
        failed = ", ".join(verdict["failed_metrics"]) or "required checks missing"
        raise GateError(f"{prefix}: run {run_id} failed the privacy gate ({failed}); fix the "
                        "release and run `dbt build` again (the last good release is untouched)")
    expected = conn.execute(
        sql.SQL("SELECT synthetic_rows FROM {}.runs WHERE run_id = %s").format(
            sql.Identifier(request.audit_schema)), (run_id,)).fetchone()[0]
    actual = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
        _qualified(*request.staging))).fetchone()[0]
    if expected != actual:
        raise GateError(f"{prefix}: the table has {actual} rows but run {run_id} measured "
                        f"{expected}; it was changed after the checks")
    return verdict


def _ensure_role(conn, role: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_publish(settings: ConnectionSettings, request: PublishRequest) -> dict[str, Any]:
    """Publish the staging table as the next release version; returns the release summary."""
    target_schema, target_name = request.target
    protected = {request.staging[0], *request.protected_schemas, request.audit_schema}
    if target_schema in protected:
        raise ConfigError(
            f"model {request.model}: refusing to publish into schema {target_schema!r}: it holds "
            f"source, staging or audit data (protected: {', '.join(sorted(protected))})")
    tmp_name = TMP_PREFIX + uuid.uuid4().hex[:16]
    target = _qualified(target_schema, target_name)
    with psycopg.connect(settings.conninfo()) as conn:
        audit.ensure_schema(conn, request.audit_schema)
        conn.commit()
        verdict = check_gate(conn, request)
        run_id = verdict["run_id"]
        run = conn.execute(
            sql.SQL("SELECT mode, generator, seed, synthetic_rows, config_hash, evidence_path "
                    "FROM {}.runs WHERE run_id = %s").format(sql.Identifier(request.audit_schema)),
            (run_id,)).fetchone()
        version = conn.execute(
            sql.SQL("SELECT coalesce(max(version), 0) + 1 FROM {}.releases "
                    "WHERE published_relation = %s").format(sql.Identifier(request.audit_schema)),
            (_label(*request.target),)).fetchone()[0]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        metadata = {
            "synthetic": True, "method": run[0], "generator": (run[1] or {}).get("method"),
            "version": version, "run_id": run_id, "recipient": request.recipient,
            "published_at": now.isoformat(), "code_version": __version__, "rows": run[3],
            **{k: v for k, v in request.metadata.items() if v is not None},
            "qa": {m["check"] + "." + m["metric"]: m["value"] for m in verdict["metrics"]
                   if m["passed"] is not None},
        }
        columns = pgio.relation_columns(conn, *request.staging)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(target_schema)))
        _ensure_role(conn, request.role)
        tmp = _qualified(target_schema, tmp_name)
        conn.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
            tmp, _qualified(*request.staging)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            tmp, sql.Identifier(target_name)))
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
            target, sql.Literal(json.dumps(metadata, default=str))))
        for col in columns:
            doc = request.column_docs.get(col.name, "")
            text = f"synthetic ({run[0]}){': ' + doc if doc else ''}"
            conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                target, sql.Identifier(col.name), sql.Literal(text)))
        role = sql.Identifier(request.role)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(target_schema), role))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, role))
        staged = _stage_evidence(request, metadata, columns, run, version)
        manifest = json.loads((staged / "manifest.json").read_text())
        release_id = conn.execute(
            sql.SQL("INSERT INTO {}.releases (run_id, recipient, published_relation, version, "
                    "invocation_id, manifest) VALUES (%s, %s, %s, %s, %s, %s) "
                    "RETURNING release_id").format(sql.Identifier(request.audit_schema)),
            (run_id, request.recipient, _label(*request.target), version, request.invocation_id,
             json.dumps(manifest))).fetchone()[0]
        try:
            conn.commit()
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    final = staged.parent / f"v{version}"
    if final.exists():
        shutil.rmtree(final)
    staged.rename(final)
    return {"release_id": release_id, "version": version, "run_id": run_id,
            "relation": _label(*request.target), "rows": run[3], "role": request.role,
            "evidence": str(final), "verdict": verdict}


def _stage_evidence(request: PublishRequest, metadata: dict[str, Any],
                    columns: list[pgio.PgColumn], run: tuple, version: int) -> Path:
    base = (Path(request.project_root) / request.evidence_dir / request.recipient
            / request.target[1])
    staged = base / f".staging-v{version}-{uuid.uuid4().hex[:8]}"
    staged.mkdir(parents=True)
    (staged / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    dictionary = [
        {"column": c.name, "type": c.pg_type,
         "meaning": request.column_docs.get(c.name, ""),
         "produced_by": f"synthdb {metadata['method']} generator"}
        for c in columns
    ]
    (staged / "data_dictionary.json").write_text(json.dumps(dictionary, indent=2))
    run_dir = Path(run[5]) if run[5] else None
    if run_dir and (run_dir / "qa_report.html").exists():
        shutil.copy(run_dir / "qa_report.html", staged / "qa_report.html")
    if run_dir and (run_dir / "run.json").exists():
        shutil.copy(run_dir / "run.json", staged / "qa_metrics.json")
    files = sorted(p for p in staged.iterdir() if p.is_file())
    manifest = {"release": f"{request.recipient}/{request.target[1]}/v{version}",
                "files": {p.name: _sha256(p) for p in files}}
    (staged / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return staged
