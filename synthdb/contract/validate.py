"""``synthdb validate``: the lineage lint plus the schema drift check, one report.

Kept apart from the CLI module so tests and the dbt adapter can call it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from synthdb.contract.drift import DriftIssue, compare, live_columns, read_lock, write_lock
from synthdb.contract.lint import LintIssue, Schema, lint_project
from synthdb.contract.manifest import load_manifest
from synthdb.errors import ConfigError

LOCK_NAME = "synthdb.lock.yml"


@dataclass
class ValidationReport:
    contracts: list[str]
    lint: list[LintIssue] = field(default_factory=list)
    drift: list[DriftIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Sources the contracts read that the connected database does not have (``--update``).
    unreachable: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[LintIssue]:
        return [i for i in self.lint if i.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.drift and not self.unreachable

    def lines(self) -> list[str]:
        out = [i.line() for i in self.lint] + [d.line() for d in self.drift] + self.notes
        verdict = "OK" if self.ok else "FAILED"
        out.append(
            f"{verdict}: {len(self.contracts)} contract(s), {len(self.errors)} lint error(s), "
            f"{len(self.drift)} drift issue(s)"
        )
        return out


def validate_project(
    project_dir: str | Path = ".",
    manifest_path: str | Path | None = None,
    lock_path: str | Path | None = None,
    update: bool = False,
    check_drift: bool = True,
    conn=None,
    profiles_dir: str | None = None,
    target: str | None = None,
) -> ValidationReport:
    """Lint all contracts and compare their sources with the lock (or rewrite it on ``update``)."""
    project = Path(project_dir)
    manifest = load_manifest(manifest_path or project / "target" / "manifest.json")
    if not manifest.contracts:
        raise ConfigError(
            "no share contract in the manifest: tag contract models 'synthdb_contract' "
            "(or config meta synthdb.contract: true) and run `dbt compile`"
        )
    report = ValidationReport([c.name for c in manifest.contracts])
    relations = {r.key: r for c in manifest.contracts for r in c.reads}
    own = conn is None
    where = "the SYNTHDB_* variables (SYNTHDB_HOST, SYNTHDB_DBNAME, ...)"
    if own:
        from synthdb import db
        from synthdb.contract.profile_connection import profile_connection

        profile = profile_connection(project, profiles_dir, target)
        if profile is not None:
            where = profile.described
        report.notes.append(f"connected through {where}")
        conn = db.connect(profile.settings if profile is not None else None)
    try:
        live = live_columns(conn, relations.values())
        dbname = conn.info.dbname
    finally:
        if own:
            conn.close()
    schema: Schema = {}
    for key, cols in live.items():
        rel = relations[key]
        schema.setdefault(rel.database, {}).setdefault(rel.schema, {})[rel.identifier] = {
            str(c["name"]): "text" for c in cols
        }
    report.lint = lint_project(manifest, schema or None)
    lock = Path(lock_path) if lock_path else project / LOCK_NAME
    if update:
        report.unreachable = sorted(set(relations) - set(live))
        if report.unreachable:
            # Approving a lock without them would record "no columns" and hide the source
            # from every later drift check (seen with a database other than the project's).
            report.notes.append(
                f"lock file {lock} NOT updated: source(s) {', '.join(report.unreachable)} "
                f"not found in database {dbname!r}, reached through {where}; point "
                "--profiles-dir/--target (or, without a profile, SYNTHDB_*) at the database "
                "the project builds from")
        elif report.errors:
            report.notes.append(f"lock file {lock} NOT updated: fix the lint errors first")
        else:
            write_lock(lock, live)
            report.notes.append(f"approved {len(live)} source schema(s) into {lock}")
    elif check_drift:
        report.drift = compare(read_lock(lock), live, relations.keys())
    return report
