"""Publish: copy a gated synthetic table into the destination, for a recipient's role.

The gate is fail-closed (DESIGN §2): publish finds the run that recorded this exact staging
table (oid, name, kind, columns, content digest; the comment only has to agree) and refuses
unless that run's stored verdict passed every required check and the table, locked, still
holds exactly the rows that were measured. Whatever dbt was asked to select
(``dbt run -s publish_model`` skips the tests), the decision is made here, from the database.

The release lands in a destination database outside production's boundary
(``synthdb.release.destination``). Everything the recipient sees changes in one destination
transaction: binary COPY into a temporary table, swap it for the published one, comment it
with the release metadata, grant, and record the release in the recipient's history.
Evidence files are written to a temporary folder and moved into place only after the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from synthdb import __version__
from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError, GateError
from synthdb.governance import roles
from synthdb.release import (
    audit,
    destination,
    digest,
    joined_checks,
    pgio,
    table_keys,
    unchanged,
    verdicts,
)
from synthdb.release.dbt_configs import PublishOptions, apply_options, column_comment
from synthdb.release.synthesize import TMP_PREFIX, _label, _qualified
from synthdb.report.header import stamp_release
from synthdb.report.joined import add_joined_section

PUBLISH_KEYS = {"from", "recipient", "role", "owner", "purpose", "retention", "licence", "contact",
                "approval_required", "related"}

# Set to True once synthdb_publish passes approval_required into PublishRequest (lead: impl.py).
ADAPTER_FORWARDS_APPROVAL = True

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# The per-recipient view of its release history (DESIGN §6); a published table may not use it.
RELEASES_VIEW = "releases"


@dataclass
class RelatedTable:
    """A table published together with the request's own (a child or grandchild of it)."""

    name: str  # published table name (in the request's target schema)
    staging: tuple[str, str]
    column_docs: dict[str, str] = field(default_factory=dict)


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
    # True: create the table but grant SELECT only after `synthdb approve` (synthdb.governance).
    approval_required: bool = False
    # grants, not_null constraints, persisted description (synthdb.release.dbt_configs)
    options: PublishOptions = field(default_factory=PublishOptions)
    # Where the release lands; None: destination.destination_settings(source settings).
    destination: ConnectionSettings | None = None
    # A release group: tables published in the same transaction, their keys and links
    related: list[RelatedTable] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # published table -> primary key
    links: list[table_keys.Link] = field(default_factory=list)


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
    roles.check_recipient_name(raw["recipient"])
    if raw.get("role") is not None:
        roles.check_role_name(raw["role"], raw["recipient"])
    related = raw.get("related") or {}
    if not isinstance(related, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in related.items()):
        raise ConfigError(f"{where}: related must map each published table name to its "
                          "synthetic model, e.g. {'flights': 'synthetic_flights'}")
    for table in related:
        if not _TABLE_NAME.match(table):
            raise ConfigError(f"{where}.related: table name {table!r} must be a plain identifier "
                              "(letters, digits, _; at most 63 characters)")
    if raw["from"] in related.values():
        raise ConfigError(f"{where}: related names the model of 'from' again")
    if not isinstance(raw.get("approval_required", False), bool):
        raise ConfigError(f"{where}: approval_required must be true or false")
    if raw.get("approval_required") and not ADAPTER_FORWARDS_APPROVAL:
        # Fail closed: until the dbt adapter passes the flag into PublishRequest, accepting it
        # here would publish with a grant that the config says must wait for an approval.
        raise ConfigError(f"{where}: approval_required is not supported by this dbt adapter "
                          "version yet; publish with `synthdb.release.publish.run_publish` "
                          "(PublishRequest.approval_required=True) or remove the setting")
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


def check_gate(conn, request: PublishRequest, *, with_content: bool = True) -> dict[str, Any]:
    """The stored verdict for the staging table, or GateError saying why publish is refused.

    The run is found from the table itself (synthdb.release.verdicts.bound_run: oid, name,
    kind, columns and content digest recorded at the swap), and the table stays SHARE-locked
    until the caller's transaction ends, so the rows copied are the rows that were measured.
    ``with_content=False`` leaves the content digest to the caller (publish digests its copy).
    """
    staging = _label(*request.staging)
    prefix = f"synthdb gate: refusing to publish {staging} to {request.recipient}"
    run_id = verdicts.bound_run(conn, request.audit_schema, *request.staging, prefix,
                                with_content=with_content)
    verdict = audit.verdict(conn, request.audit_schema, run_id)
    if verdict is None:
        raise GateError(f"{prefix}: run {run_id} has no stored verdict")
    if not verdict["passed"]:
        failed = ", ".join(verdict["failed_metrics"]) or "required checks missing"
        raise GateError(f"{prefix}: run {run_id} failed the "
                        f"{verdicts.failed_gates(verdict['failed_metrics'])} ({failed}); fix the "
                        "release and run `dbt build` again (the last good release is untouched)")
    return verdict


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_schema_owner(conn, request: PublishRequest) -> None:
    """Two recipients never share a published schema (or a staging schema)."""
    audit_schema = sql.Identifier(request.audit_schema)
    other = conn.execute(
        sql.SQL("SELECT recipient FROM {}.releases WHERE split_part(published_relation, '.', 1) "
                "= %s AND recipient <> %s LIMIT 1").format(audit_schema),
        (request.target[0], request.recipient)).fetchone()
    if other is not None:
        raise ConfigError(
            f"model {request.model}: schema {request.target[0]!r} already holds releases for "
            f"recipient {other[0]!r}; each recipient needs a schema of its own")
    other = conn.execute(
        sql.SQL("SELECT DISTINCT r.recipient FROM {a}.releases r JOIN {a}.runs u USING (run_id) "
                "WHERE split_part(u.target_relation, '.', 1) = %s AND r.recipient <> %s "
                "LIMIT 1").format(a=audit_schema),
        (request.staging[0], request.recipient)).fetchone()
    if other is not None:
        raise ConfigError(
            f"model {request.model}: staging schema {request.staging[0]!r} already serves "
            f"recipient {other[0]!r}; give each recipient its own staging schema")


def run_publish(settings: ConnectionSettings, request: PublishRequest) -> dict[str, Any]:
    """Publish the staging table(s) as the next release version; returns the release summary.

    A release group (``request.related``: a parent with its children) is published as one:
    every table's gate is checked and its rows read in one source transaction; all are written
    by binary COPY into the destination database (outside production's boundary) in one
    destination transaction, with PRIMARY KEY and FOREIGN KEY constraints, comments, grants
    and the recipient's history rows. One refused table refuses them all. The source-side
    release rows commit first, then the destination: a failure between the two removes the
    release rows again, so no release is ever visible unrecorded.
    """
    members = [request, *(_member(request, r) for r in request.related)]
    for member in members:
        _check_target(member)
    dest = request.destination or destination.destination_settings(settings)
    warnings = destination.ensure_database(settings, dest)
    with psycopg.connect(settings.conninfo()) as conn, destination.connect(dest) as dconn:
        audit.ensure_schema(conn, request.audit_schema)
        conn.commit()
        # both whole transactions (gate, COPY, joined checks, release rows) resolve in
        # pg_catalog, not in a schema the engineer put first in their role's search_path (the
        # engineer may own the destination database too)
        digest.resolve_in_catalog(conn)
        digest.resolve_in_catalog(dconn)
        for member in members:
            _check_schema_owner(conn, member)
        roles.ensure_group_role(dconn, request.recipient, request.role,
                                adoptable=_role_released_before(conn, request))
        dconn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(request.target[0])))
        group = _group_facts(request)
        staged = [_copy_member(conn, dconn, member, group) for member in members]
        if request.keys or request.links:
            table_keys.check_links(
                dconn, request.target[0],
                {info["member"].target[1]: info["tmp_name"] for info in staged},
                request.keys, request.links,
                f"synthdb gate: refusing to publish release {_label(*request.target)}")
        _joined_gate(settings, conn, dconn, request, staged, group)
        for info in reversed(staged):  # children first: their FOREIGN KEYs name the parents
            dconn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                _qualified(*info["member"].target)))
        for info in staged:
            _expose(dconn, info)
        table_keys.add_constraints(dconn, request.target[0], request.keys, request.links)
        recorded = [_record(conn, dconn, settings, dest, info) for info in staged]
        destination.create_releases_view(dconn, request.target[0], request.recipient,
                                         request.role)
        try:
            conn.commit()
            try:
                dconn.commit()
            except BaseException:
                for release_id, _folder in recorded:
                    conn.execute(sql.SQL("DELETE FROM {}.releases WHERE release_id = %s").format(
                        sql.Identifier(request.audit_schema)), (release_id,))
                conn.commit()
                raise
        except BaseException:
            for _release_id, folder in recorded:
                shutil.rmtree(folder, ignore_errors=True)
            raise
    tables = []
    for info, (release_id, folder) in zip(staged, recorded, strict=True):
        final = folder.parent / f"v{info['version']}"
        if final.exists():
            shutil.rmtree(final)
        folder.rename(final)
        tables.append({"release_id": release_id, "version": info["version"],
                       "run_id": info["run_id"], "relation": _label(*info["member"].target),
                       "rows": info["rows"], "evidence": str(final), "verdict": info["verdict"],
                       "content_check": info["content_check"]})
    root = tables[0]
    return {**root, "role": request.role, "destination": dest.dbname,
            "approval_required": request.approval_required, "warnings": warnings,
            "tables": tables}


def _joined_gate(settings: ConnectionSettings, conn, dconn, request: PublishRequest,
                 staged: list[dict[str, Any]], group: dict[str, Any] | None) -> None:
    """k-anonymity of the subject over the whole tree and rare values per root, on the joined
    copies (synthdb.release.joined_checks): stored as audit rows, named in every table's
    metadata, GateError (nothing exposed) on failure; a group whose runs were published
    before with other runs is refused first. Every publish, even of one table, is refused
    when a table's run names a parent it does not release."""
    tables = {info["member"].target[1]: (info["run_id"], (request.target[0], info["tmp_name"]))
              for info in staged}
    members = joined_checks.members_from_runs(conn, request.audit_schema, tables)
    joined_checks.check_parents_published(members, _label(*request.target))
    if group is None:
        return
    joined_checks.check_earlier_groups(conn, request.audit_schema, members,
                                       _label(*request.target))
    rows = joined_checks.measure(dconn, members, _label(*request.target))
    joined_checks.record(settings, request.audit_schema, request.model, request.invocation_id,
                         {t: run for t, (run, _) in tables.items()}, rows)
    joined_checks.refuse_failed(_label(*request.target), rows)
    group["checks"] = [{k: r[k] for k in ("check", "metric", "value", "threshold", "passed")}
                       for r in rows]


def _member(request: PublishRequest, table: RelatedTable) -> PublishRequest:
    """The publish request of one related table of ``request``'s release group."""
    return replace(request, model=f"{request.model} ({table.name})", staging=table.staging,
                   target=(request.target[0], table.name), column_docs=table.column_docs,
                   related=[], options=PublishOptions(grants=request.options.grants))


def _check_target(request: PublishRequest) -> None:
    target_schema, target_name = request.target
    roles.check_recipient_name(request.recipient)
    roles.check_role_name(request.role, request.recipient)
    roles.inside(request.project_root, request.evidence_dir, f"model {request.model}: evidence_dir")
    protected = {request.staging[0], *request.protected_schemas, request.audit_schema,
                 destination.SHARE_SCHEMA}
    if target_schema in protected:
        raise ConfigError(
            f"model {request.model}: refusing to publish into schema {target_schema!r}: it holds "
            f"source, staging or audit data (protected: {', '.join(sorted(protected))})")
    if target_name == RELEASES_VIEW:
        raise ConfigError(
            f"model {request.model}: a published table may not be called {RELEASES_VIEW!r} "
            f"(schema {target_schema!r} holds the recipient's {RELEASES_VIEW} view); set an alias")


def _group_facts(request: PublishRequest) -> dict[str, Any] | None:
    """What each table's metadata says about the release group it belongs to (None: alone)."""
    if not request.related:
        return None
    # id: finds the releases of one publish of the group again (synthdb approve --group)
    return {"id": uuid.uuid4().hex,
            "tables": [request.target[1], *(r.name for r in request.related)],
            "primary_keys": dict(request.keys),
            "foreign_keys": [{"table": link.child, "column": link.foreign_key,
                              "references": f"{link.parent}({link.parent_key})"}
                             for link in request.links]}


def _copy_member(conn, dconn, request: PublishRequest, group: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """Gate-check one table and copy it into a temporary table of the destination.

    The staged table is SHARE-locked from the gate check to the commit. When its rows are
    provably the ones the run wrote (synthdb.release.unchanged: every row still carries the
    run's transaction id, the run's row count, types whose text no catalog change can alter)
    the copy of those rows is not digested again: the run's sealed digest is the copy's.
    Otherwise the copy is digested once and compared with the run's digest, which refuses a
    staged table changed after the checks and vouches for the bytes that were copied. Either
    way the COPY reads only rows of the table the gate checked (``tableoid``), so a name that
    resolves elsewhere by then yields no rows and fails the row count.
    """
    verdict = check_gate(conn, request, with_content=False)
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
        # deidentify releases policy-transformed real rows: never labelled synthetic.
        "synthetic": run[0] != "deidentify", "method": run[0],
        "generator": (run[1] or {}).get("method"),
        "epsilon": ((run[1] or {}).get("privacy") or {}).get("epsilon"),
        "delta": ((run[1] or {}).get("privacy") or {}).get("delta"),
        "version": version, "run_id": run_id, "recipient": request.recipient,
        "published_at": now.isoformat(), "code_version": __version__, "rows": run[3],
        **{k: v for k, v in request.metadata.items() if v is not None},
        "qa": {m["check"] + "." + m["metric"]: m["value"] for m in verdict["metrics"]
               if m["passed"] is not None},
    }
    if group is not None:
        metadata["release_group"] = group
    columns = pgio.relation_columns(conn, *request.staging)
    tmp_name = TMP_PREFIX + uuid.uuid4().hex[:16]
    # read_hazards refused row-level security under the lock; off here too, so a policy that
    # appeared anyway fails the COPY instead of filtering it
    conn.execute("SELECT pg_catalog.set_config('row_security', 'off', true)")
    recorded = verdicts.recorded_fingerprint(conn, request.audit_schema, run_id) or {}
    reasons = unchanged.reasons_to_digest(conn, recorded, request.staging, run[3])
    copied = destination.create_copy(conn, request.staging, dconn,
                                     (request.target[0], tmp_name), columns,
                                     table_oid=int(recorded["oid"]))
    if copied != run[3]:
        raise GateError(f"synthdb gate: refusing to publish {_label(*request.staging)}: "
                        f"{copied} rows were copied but run {run_id} measured {run[3]}")
    if reasons:
        # The copy must hold exactly what the run measured (kind, columns, content digest):
        # the same check approve and export make later; better found before anything
        # commits. Digested after copying, not alongside: a second connection reading the
        # staged table by name while the COPY reads it could be shown other rows (a row-level
        # security policy testing current_query() did exactly that, 6fb88d2; a schema renamed
        # between the two name lookups could too), whereas the copy's digest covers the bytes
        # actually released.
        verdicts.check_published(
            dconn, request.audit_schema, run_id, request.target[0], tmp_name,
            f"synthdb gate: refusing to publish {_label(*request.staging)} to "
            f"{request.recipient}", audit_conn=conn, label=_label(*request.staging))
    content_check = ({"method": "content digest of the copy", "why": reasons} if reasons else
                     {"method": "unchanged since the run (row xmin)",
                      "writer_xid": recorded["writer_xid"]})
    content_check["digest"] = recorded.get("digest")
    return {"member": request, "verdict": verdict, "run_id": run_id, "run": run,
            "version": version, "metadata": metadata, "columns": columns,
            "tmp_name": tmp_name, "rows": run[3], "content_check": content_check}


def _expose(dconn, info: dict[str, Any]) -> None:
    """Rename the copy into place, comment it and grant it to the recipient's role."""
    request: PublishRequest = info["member"]
    target_schema, target_name = request.target
    target = _qualified(target_schema, target_name)
    dconn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        _qualified(target_schema, info["tmp_name"]), sql.Identifier(target_name)))
    dconn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        target, sql.Literal(json.dumps(info["metadata"], default=str))))
    run = info["run"]
    mock_columns = ((run[1] or {}).get("privacy") or {}).get("mock_columns") or []
    for col in info["columns"]:
        text = column_comment(col.name, run[0], mock_columns,
                              request.column_docs.get(col.name, ""))
        dconn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            target, sql.Identifier(col.name), sql.Literal(text)))
    role = sql.Identifier(request.role)
    dconn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
        sql.Identifier(target_schema), role))
    if not request.approval_required:
        dconn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, role))
    apply_options(dconn, request.model, target_schema, target, request.options)


def _record(conn, dconn, settings: ConnectionSettings, dest: ConnectionSettings,
            info: dict[str, Any]) -> tuple[Any, Path]:
    """Evidence folder (staged), the audit release row and the recipient's history row."""
    request: PublishRequest = info["member"]
    run, version, metadata = info["run"], info["version"], info["metadata"]
    previous = _previous_manifest(conn, request)
    release_facts = {
        "role": request.role, "approval_required": request.approval_required,
        "columns": [{"name": c.name, "type": c.pg_type} for c in info["columns"]],
        "generator": run[1] or {}, "thresholds": _thresholds(info["verdict"]), "rows": run[3],
        "content_check": info["content_check"],
        "destination": {"dbname": dest.dbname,
                        "same_server": destination.same_server(settings, dest)},
    }
    release_facts["changelog"] = changelog(previous, release_facts)
    staged = _stage_evidence(request, metadata, info["columns"], run, version, release_facts,
                             database=settings.dbname)
    manifest = json.loads((staged / "manifest.json").read_text())
    manifest["evidence_path"] = str((staged.parent / f"v{version}").resolve())
    manifest["metadata"] = metadata
    release = conn.execute(
        sql.SQL("INSERT INTO {}.releases (run_id, recipient, published_relation, version, "
                "invocation_id, manifest) VALUES (%s, %s, %s, %s, %s, %s) "
                "RETURNING release_id, published_at").format(
            sql.Identifier(request.audit_schema)),
        (info["run_id"], request.recipient, _label(*request.target), version,
         request.invocation_id, json.dumps(manifest, default=str))).fetchone()
    destination.record_release(dconn, {
        "release_id": release[0], "recipient": request.recipient,
        "schema_name": request.target[0], "table_name": request.target[1], "version": version,
        "published_at": release[1], "run_id": info["run_id"], "rows": run[3],
        "metadata": metadata, "changelog": release_facts["changelog"],
        "approval_required": request.approval_required})
    return release[0], staged


def _role_released_before(conn, request: PublishRequest) -> bool:
    """Earlier releases of this recipient went to this role (made before roles were marked)."""
    return conn.execute(
        sql.SQL("SELECT 1 FROM {}.releases WHERE recipient = %s AND manifest ->> 'role' = %s "
                "LIMIT 1").format(sql.Identifier(request.audit_schema)),
        (request.recipient, request.role)).fetchone() is not None


def _thresholds(verdict: dict[str, Any]) -> dict[str, Any]:
    return {m["check"] + "." + m["metric"]: m["threshold"] for m in verdict["metrics"]
            if m["threshold"] is not None}


def _previous_manifest(conn, request: PublishRequest) -> dict[str, Any] | None:
    row = conn.execute(
        sql.SQL("SELECT manifest FROM {}.releases WHERE published_relation = %s "
                "ORDER BY version DESC LIMIT 1").format(sql.Identifier(request.audit_schema)),
        (_label(*request.target),)).fetchone()
    return row[0] if row else None


def changelog(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """What changed since the previous version: columns/types, generator, thresholds, rows.

    A recipient (and the approver) should see at a glance why v3 differs from v2 without
    diffing evidence folders; releases made before this field existed say so instead of
    pretending nothing changed.
    """
    if previous is None:
        return {"since": None, "summary": "first release"}
    out: dict[str, Any] = {"since": previous.get("release")}
    if "columns" not in previous:
        out["summary"] = "previous release predates changelogs; no comparison"
        return out
    old_cols = {c["name"]: c["type"] for c in previous.get("columns", [])}
    new_cols = {c["name"]: c["type"] for c in current["columns"]}
    out["columns_added"] = sorted(set(new_cols) - set(old_cols))
    out["columns_removed"] = sorted(set(old_cols) - set(new_cols))
    out["types_changed"] = {c: [old_cols[c], new_cols[c]] for c in sorted(set(old_cols) & set(
        new_cols)) if old_cols[c] != new_cols[c]}
    old_gen, new_gen = previous.get("generator") or {}, current["generator"] or {}
    out["generator_changed"] = (old_gen.get("method") != new_gen.get("method"))
    out["generator"] = [old_gen.get("method"), new_gen.get("method")]
    old_t, new_t = previous.get("thresholds") or {}, current["thresholds"]
    out["thresholds_changed"] = {k: [old_t.get(k), new_t.get(k)] for k in sorted(
        set(old_t) | set(new_t)) if old_t.get(k) != new_t.get(k)}
    out["rows"] = [previous.get("rows"), current["rows"]]
    changed = [name for name, flag in (
        ("columns", out["columns_added"] or out["columns_removed"] or out["types_changed"]),
        ("generator", out["generator_changed"]), ("thresholds", out["thresholds_changed"]),
        ("rows", previous.get("rows") != current["rows"])) if flag]
    out["summary"] = "changed: " + ", ".join(changed) if changed else "no changes"
    return out


def release_evidence_base(evidence_root: Path, database: str, recipient: str,
                          table: str) -> Path:
    """``<evidence>/<database>/<recipient>/<table>``: the folder of a table's ``v<N>`` releases.

    Release versions are numbered per database (its audit schema), so the database is part of
    the path: one project built against two databases keeps both ``v1`` folders (issue 11).
    """
    return evidence_root / (database or "_") / recipient / table


def _stage_evidence(request: PublishRequest, metadata: dict[str, Any],
                    columns: list[pgio.PgColumn], run: tuple, version: int,
                    release_facts: dict[str, Any] | None = None, database: str = "") -> Path:
    base = release_evidence_base(
        roles.inside(request.project_root, request.evidence_dir, "evidence_dir"), database,
        request.recipient, request.target[1])
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
        # the run's report, its header stamped with this release's recipient, version, ...
        page = stamp_release((run_dir / "qa_report.html").read_text(encoding="utf-8"), {
            "recipient": request.recipient, "version": version,
            "purpose": metadata.get("purpose"), "retention": metadata.get("retention")},
            generated=str(metadata.get("published_at")))
        page = add_joined_section(page, metadata.get("release_group"))
        (staged / "qa_report.html").write_text(page, encoding="utf-8")
    if run_dir and (run_dir / "run.json").exists():
        shutil.copy(run_dir / "run.json", staged / "qa_metrics.json")
    files = sorted(p for p in staged.iterdir() if p.is_file())
    manifest = {"release": f"{request.recipient}/{request.target[1]}/v{version}",
                "files": {p.name: _sha256(p) for p in files}, **(release_facts or {})}
    (staged / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return staged
