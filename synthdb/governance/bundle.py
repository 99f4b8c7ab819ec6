"""Export bundles and their verification (DESIGN §6).

A bundle is a folder a recipient can take away: the data (Parquet, optionally CSV), the
release evidence (metadata, data dictionary, QA report, PII columns, licence) and a
``manifest.json`` with the SHA-256 of every file. ``token.json`` is an HMAC-signed, short-lived
token naming the ticket, recipient, release, expiry and the digest of the manifest — so one
signature covers every byte of the bundle. The key stays outside the bundle.

Data is streamed: COPY to CSV in a temporary file, then read back in batches by pyarrow's
streaming CSV reader into a Parquet writer, so memory stays flat in the number of rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from synthdb import __version__
from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError, GateError, SynthdbError
from synthdb.governance import releases, roles, signing
from synthdb.governance.errors import BundleRejected, ExportError, NotApproved
from synthdb.governance.pii import contract_lineage, pii_columns
from synthdb.governance.releases import Release, ReleaseRef
from synthdb.release import digest, pgio

MANIFEST = "manifest.json"
TOKEN = "token.json"
_TTL = re.compile(r"^(\d+)\s*([smhdw])$")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_TTL = dt.timedelta(days=90)


def parse_ttl(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``30m``, ``2w`` … as a timedelta (at most 90 days, more than 0)."""
    match = _TTL.match(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise ConfigError(f"--ttl {text!r}: expected a positive duration such as 7d, 12h or 30m")
    ttl = dt.timedelta(seconds=int(match[1]) * _TTL_UNITS[match[2]])
    if ttl > MAX_TTL:
        raise ConfigError(f"--ttl {text!r}: longer than the maximum of {MAX_TTL.days} days")
    return ttl


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


def arrow_type(column: pgio.PgColumn):
    """The Parquet (Arrow) type for a PostgreSQL column; text for anything without a twin.

    ``numeric(p,s)`` becomes an exact decimal (float64 would silently round money);
    unconstrained numeric, uuid, json, arrays and the like stay text, losslessly.
    """
    import pyarrow as pa

    decimal = _NUMERIC.match(column.pg_type.replace(" ", ""))
    if decimal and int(decimal[1]) <= 38:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    return {
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "double precision": pa.float64(),
        "real": pa.float32(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp without time zone": pa.timestamp("us"),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    }.get(column.base_type, pa.string())


def _copy_to_file(conn, query: sql.Composable, path: Path) -> None:
    with conn.cursor() as cur, open(path, "wb") as handle, cur.copy(query) as stream:
        for block in stream:
            handle.write(block)


def write_table_data(conn, schema: str, name: str, out: Path, with_csv: bool = False) -> int:
    """Write ``schema.name`` as ``out/data.parquet`` (and ``data.csv``); returns the row count.

    COPY streams CSV into a temporary file (every non-NULL value quoted, so an unquoted empty
    field is NULL and an empty string survives), then pyarrow's streaming CSV reader converts
    batches with the column types taken from the catalog, so memory is flat in the row count.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    columns = pgio.relation_columns(conn, schema, name)
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
    # The digest's output settings (transaction-local): the destination's owner may ALTER
    # DATABASE ... SET extra_float_digits = -15, and floats would be written rounded.
    digest.set_local(conn, digest.READ_SETTINGS)
    types = {c.name: arrow_type(c) for c in columns}
    rows = 0
    with tempfile.TemporaryDirectory(prefix="synthdb-export-") as tmp:
        raw = Path(tmp) / "data.csv"
        _copy_to_file(
            conn,
            sql.SQL(
                "COPY (SELECT * FROM {}) TO STDOUT (FORMAT csv, HEADER true, FORCE_QUOTE *)"
            ).format(table),
            raw,
        )
        try:
            reader = pacsv.open_csv(
                raw,
                read_options=pacsv.ReadOptions(block_size=8 << 20),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                    true_values=["t"],
                    false_values=["f"],
                    timestamp_parsers=["%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S", pacsv.ISO8601],
                ),
            )
            with pq.ParquetWriter(
                out / "data.parquet",
                pa.schema([(c.name, types[c.name]) for c in columns]),
                compression="zstd",
            ) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        except pa.ArrowInvalid as exc:
            raise ExportError(
                f"export {schema}.{name}: a value does not convert to its Parquet type "
                f"({str(exc).splitlines()[0]}); e.g. 'infinity' dates have no Parquet twin"
            ) from None
    if with_csv:
        _copy_to_file(
            conn,
            sql.SQL("COPY (SELECT * FROM {}) TO STDOUT (FORMAT csv, HEADER true)").format(table),
            out / "data.csv",
        )
    return rows


def _run_facts(conn, audit_schema: str, run_id: str) -> dict[str, Any]:
    row = conn.execute(
        sql.SQL(
            "SELECT mode, generator, config, seed, code_version FROM {}.runs WHERE run_id = %s"
        ).format(sql.Identifier(audit_schema)),
        (run_id,),
    ).fetchone()
    if row is None:
        return {}
    return {
        "mode": row[0],
        "generator": row[1] or {},
        "config": row[2] or {},
        "seed": row[3],
        "code_version": row[4],
    }


LICENCE_TEMPLATE = """Usage terms for release {release}

This bundle contains SYNTHETIC data generated by synthdb ({method}). It is not a record of
any real person, but it was learned from real data: do not attempt to re-identify anyone,
link it with other data to single people out, or pass it on beyond the purpose below.

Recipient: {recipient}
Purpose:   {purpose}
Retention: {retention} (delete the bundle and any copies after this period)
Licence:   {licence}
Contact:   {contact}
Ticket:    {ticket}
Expires:   {expires} (the signed token in token.json stops verifying after this time)
"""


@dataclass
class ExportResult:
    bundle: Path
    release: str
    rows: int
    bytes: int
    seconds: float
    expires_at: str


def export_bundle(
    settings: ConnectionSettings,
    ref: ReleaseRef,
    *,
    ticket: str,
    ttl: str,
    out: str | Path,
    csv: bool = False,
    key_file: str | Path | None = None,
    project_dir: str | Path | None = ".",
    audit_schema: str = "synthdb_audit",
    now: dt.datetime | None = None,
) -> ExportResult:
    """Write the signed bundle of ``ref`` into the empty or new folder ``out``.

    Every attempt leaves an audit row: a refused one (not approved, superseded, or a copy whose
    rows are no longer the measured ones) logs its reason and writes nothing; a written bundle
    exists only together with its ``export`` row (the folder is removed if that commit fails).
    """
    started = time.perf_counter()
    if not ticket.strip():
        raise ConfigError(f"export {ref}: --ticket must not be empty")
    lifetime = parse_ttl(ttl)
    out = _empty_output(ref, out, project_dir)
    key = _signing_key(ref, out, key_file, project_dir)
    now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    expires = now + lifetime
    with releases.connect(settings, audit_schema) as conn:
        rel = releases.find_release(conn, audit_schema, ref)
        with contextlib.closing(
            releases.connect_destination(settings, rel)
        ) as dconn:
            refusal = _refusal(conn, dconn, rel, audit_schema)
            if refusal is not None:  # refused attempts are evidence too
                releases.log_download(conn, audit_schema, rel.release_id, "export_refused",
                                      ticket, {"reason": str(refusal)})
                conn.commit()
                raise refusal
            run = _run_facts(conn, audit_schema, rel.run_id)
            out.mkdir(parents=True, exist_ok=True)
            try:
                rows, files = _write_bundle(
                    out, dconn, rel, run, ticket=ticket, now=now, expires=expires, key=key,
                    csv=csv, project_dir=Path(project_dir) if project_dir else None,
                )
            except BaseException:
                shutil.rmtree(out, ignore_errors=True)
                raise
        size = sum(p.stat().st_size for p in out.iterdir())
        releases.log_download(
            conn, audit_schema, rel.release_id, "export", ticket,
            {"bundle": str(out.resolve()), "expires_at": expires.isoformat(), "files": files,
             "bytes": size, "rows": rows, "key_id": signing.key_id(key)},
        )
        try:
            conn.commit()
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # no bundle without its audit row
            raise
    return ExportResult(out, rel.name, rows, size, time.perf_counter() - started,
                        expires.isoformat())


def _empty_output(ref: ReleaseRef, out: str | Path, project_dir: str | Path | None) -> Path:
    """The bundle folder: inside the project, and new or empty (a bundle never mixes files)."""
    path = roles.inside(project_dir or ".", out, f"export {ref}: --out")
    if path.exists() and any(path.iterdir()):
        raise ConfigError(f"export {ref}: output folder {path} is not empty")
    return path


def _signing_key(
    ref: ReleaseRef, out: Path, key_file: str | Path | None, project_dir: str | Path | None
) -> bytes:
    """The HMAC key (created on first use); refused inside the bundle, which would carry it."""
    key_path = Path(key_file) if key_file else Path(project_dir or ".") / signing.DEFAULT_KEY_FILE
    if key_path.resolve().is_relative_to(out.resolve()):
        raise ConfigError(
            f"export {ref}: the signing key {key_path} must not be inside the bundle folder {out}"
        )
    return signing.load_key(key_path, create=True)


def _refusal(
    conn: psycopg.Connection, dconn: psycopg.Connection, rel: Release, audit_schema: str
) -> SynthdbError | None:
    """Why this release may not be exported now, or None: it needs its approval, it must still
    be the live version, and the published rows must be the rows its run measured."""
    if not rel.approved:
        return NotApproved(
            f"export {rel.name}: the release requires approval and has none; "
            f"run `synthdb approve {rel.name} --ticket <id> --by <name>`"
        )
    try:
        releases.check_live(conn, dconn, audit_schema, rel, "export",
                            stale_hint="only the latest version's data can be exported",
                            stale_error=ExportError)
    except (GateError, ExportError) as exc:
        conn.rollback()
        dconn.rollback()
        return exc
    return None


def _write_bundle(
    out: Path,
    dconn: psycopg.Connection,
    rel: Release,
    run: dict[str, Any],
    *,
    ticket: str,
    now: dt.datetime,
    expires: dt.datetime,
    key: bytes,
    csv: bool,
    project_dir: Path | None,
) -> tuple[int, list[str]]:
    """Data, evidence, manifest and signed token into ``out``; returns (rows, file names)."""
    columns = pgio.relation_columns(dconn, rel.schema, rel.table)
    with dconn.transaction():
        rows = write_table_data(dconn, rel.schema, rel.table, out, csv)
    _write_evidence(out, rel, columns, run, ticket, expires, project_dir)
    files = sorted(p for p in out.iterdir() if p.is_file())
    manifest = {
        "release": rel.name,
        "release_id": rel.release_id,
        "run_id": rel.run_id,
        "created_at": now.isoformat(),
        "rows": rows,
        "files": {p.name: sha256_file(p) for p in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    claims = {
        "ticket": ticket,
        "recipient": rel.recipient,
        "release": rel.name,
        "release_id": rel.release_id,
        "issued_at": now.isoformat(),
        "expires_at": expires.isoformat(),
        "manifest_sha256": sha256_file(out / MANIFEST),
    }
    (out / TOKEN).write_text(json.dumps(signing.sign(claims, key), indent=2))
    return rows, sorted(manifest["files"])


def _write_evidence(
    out: Path,
    rel: Release,
    columns: list[pgio.PgColumn],
    run: dict[str, Any],
    ticket: str,
    expires: dt.datetime,
    project_dir: Path | None,
) -> None:
    meta = dict(rel.manifest.get("metadata") or {})
    evidence = Path(rel.manifest["evidence_path"]) if rel.manifest.get("evidence_path") else None
    if evidence is None and project_dir is not None:
        evidence = project_dir / "evidence" / rel.recipient / rel.table / f"v{rel.version}"
    if not meta and evidence and (evidence / "metadata.json").exists():
        meta = json.loads((evidence / "metadata.json").read_text())
    config = run.get("config") or {}
    privacy = config.get("privacy") or {}
    generator = run.get("generator") or {}
    metadata = {
        **meta,
        "synthetic": (meta.get("method") or run.get("mode")) != "deidentify",
        "method": meta.get("method") or run.get("mode"),
        "privacy_controls": {
            "quasi_identifiers": privacy.get("quasi_identifiers"),
            "k": privacy.get("k"),
            "rare_min_count": privacy.get("rare_min_count"),
            "dcr_share_max": privacy.get("dcr_share_max"),
            "mia_advantage_max": privacy.get("mia_advantage_max"),
            "thresholds": rel.manifest.get("thresholds"),
        },
        "epsilon": generator.get("epsilon") or (config.get("generator") or {}).get("epsilon"),
        "version": rel.version,
        "recipient": rel.recipient,
        "last_updated": str(rel.published_at),
        "code_version": run.get("code_version") or meta.get("code_version"),
        "export_code_version": __version__,
        "seed_policy": (
            "fixed seed recorded in the audit run row"
            if config.get("seed") is not None
            else "fresh randomness per release; the seed used is recorded in the audit run row"
        ),
        "changelog": rel.manifest.get("changelog"),
        "ticket": ticket,
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    dictionary = None
    if evidence and (evidence / "data_dictionary.json").exists():
        dictionary = json.loads((evidence / "data_dictionary.json").read_text())
    if dictionary is None:
        dictionary = [
            {
                "column": c.name,
                "type": c.pg_type,
                "meaning": "",
                "produced_by": f"synthdb {metadata['method']} generator",
            }
            for c in columns
        ]
    (out / "data_dictionary.json").write_text(json.dumps(dictionary, indent=2))
    if evidence and (evidence / "qa_report.html").exists():
        shutil.copy(evidence / "qa_report.html", out / "qa_report.html")
    lineage = contract_lineage(project_dir, rel.schema, rel.table) if project_dir else None
    document = pii_columns([c.name for c in columns], run, lineage)
    (out / "pii_columns.json").write_text(json.dumps(document, indent=2))
    (out / "LICENCE.txt").write_text(
        LICENCE_TEMPLATE.format(
            release=rel.name,
            method=metadata["method"],
            recipient=rel.recipient,
            purpose=meta.get("purpose") or "(not stated)",
            retention=meta.get("retention") or "(not stated)",
            licence=meta.get("licence") or "(not stated)",
            contact=meta.get("contact") or meta.get("owner") or "(not stated)",
            ticket=ticket,
            expires=expires.isoformat(),
        )
    )


@dataclass
class Verification:
    ok: bool
    reason: str
    release: str | None
    ticket: str | None
    release_id: int | None


def check_bundle(bundle: str | Path, key: bytes, now: dt.datetime | None = None) -> Verification:
    """Signature, then expiry, then manifest digest, then every file's checksum."""
    bundle = Path(bundle)
    now = now or dt.datetime.now(dt.timezone.utc)

    def no(reason: str, payload: dict[str, Any] | None = None) -> Verification:
        payload = payload or {}
        return Verification(
            False, reason, payload.get("release"), payload.get("ticket"), payload.get("release_id")
        )

    if not bundle.is_dir():
        return no(f"{bundle} is not a folder")
    try:
        token = json.loads((bundle / TOKEN).read_text())
    except FileNotFoundError:
        return no(f"{bundle / TOKEN} is missing")
    except (ValueError, UnicodeDecodeError):
        return no(f"{bundle / TOKEN} is not valid JSON")
    if not isinstance(token, dict):
        return no(f"{bundle / TOKEN} is not a token object")
    problem = signing.check(token, key)
    payload = token.get("payload") if isinstance(token.get("payload"), dict) else {}
    if problem:
        return no(problem, payload)
    try:
        expires = dt.datetime.fromisoformat(payload["expires_at"])
    except (KeyError, TypeError, ValueError):
        return no("token has no valid expires_at", payload)
    if now >= expires:
        stamp = now.replace(microsecond=0).isoformat()
        return no(f"token expired at {expires.isoformat()} (now {stamp})", payload)
    manifest_path = bundle / MANIFEST
    if not manifest_path.exists():
        return no(f"{MANIFEST} is missing", payload)
    if sha256_file(manifest_path) != payload.get("manifest_sha256"):
        return no(f"{MANIFEST} was changed after signing (digest differs from the token)", payload)
    files = json.loads(manifest_path.read_text()).get("files") or {}
    for name, listed in sorted(files.items()):
        path = bundle / name
        if not path.is_file():
            return no(f"file {name} listed in the manifest is missing", payload)
        actual = sha256_file(path)
        if actual != listed:
            return no(
                f"file {name} was altered: SHA-256 {actual[:16]}… but the manifest says "
                f"{listed[:16]}…",
                payload,
            )
    extra = sorted(p.name for p in bundle.iterdir() if p.name not in {*files, MANIFEST, TOKEN})
    if extra:
        return no(f"file(s) not in the manifest were added: {', '.join(extra)}", payload)
    return Verification(
        True,
        f"valid until {expires.isoformat()}",
        payload.get("release"),
        payload.get("ticket"),
        payload.get("release_id"),
    )


def verify_bundle(
    settings: ConnectionSettings | None,
    bundle: str | Path,
    *,
    key_file: str | Path | None = None,
    project_dir: str | Path | None = ".",
    audit_schema: str = "synthdb_audit",
    now: dt.datetime | None = None,
) -> Verification:
    """Check ``bundle``; log the outcome as a ``verify`` row; raise BundleRejected if bad."""
    key_path = Path(key_file) if key_file else Path(project_dir or ".") / signing.DEFAULT_KEY_FILE
    key = signing.load_key(key_path, create=False)
    result = check_bundle(bundle, key, now)
    if settings is not None:
        with releases.connect(settings, audit_schema) as conn:
            release_id = result.release_id
            if (
                release_id is not None
                and not conn.execute(
                    sql.SQL("SELECT 1 FROM {}.releases WHERE release_id = %s").format(
                        sql.Identifier(audit_schema)
                    ),
                    (release_id,),
                ).fetchone()
            ):
                release_id = None  # a forged token may name any id; keep the log consistent
            releases.log_download(
                conn,
                audit_schema,
                release_id,
                "verify",
                result.ticket,
                {
                    "bundle": str(Path(bundle).resolve()),
                    "ok": result.ok,
                    "reason": result.reason,
                    "release": result.release,
                },
            )
            conn.commit()
    if not result.ok:
        raise BundleRejected(f"bundle {bundle} rejected: {result.reason}")
    return result
