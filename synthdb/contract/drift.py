"""Schema drift of the sources a contract reads, against an approved lock file.

``synthdb validate --update`` records each source's columns (name, type, nullability, in
order) from the live ``information_schema`` into ``synthdb.lock.yml``; a later ``synthdb
validate`` compares the live schema with it and names every change, so a new column (say,
``email``) cannot flow into a release before someone classifies and approves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthdb.contract.manifest import Relation
from synthdb.errors import ConfigError

LOCK_VERSION = 1

Columns = list[dict[str, object]]  # [{name, type, nullable, position}] in ordinal order


@dataclass(frozen=True)
class DriftIssue:
    relation: str
    column: str | None
    change: str  # added | dropped | renamed | retyped | nullability | missing_table | not_locked
    message: str

    def line(self) -> str:
        where = self.relation + (f".{self.column}" if self.column else "")
        return f"DRIFT {where}: {self.change}: {self.message}"


def live_columns(conn, relations: Iterable[Relation]) -> dict[str, Columns]:
    """Columns of each relation as the server reports them now; absent tables are left out."""
    out: dict[str, Columns] = {}
    for rel in relations:
        rows = conn.execute(
            """
            SELECT column_name,
                   CASE WHEN data_type IN ('USER-DEFINED', 'ARRAY') THEN udt_name
                        WHEN character_maximum_length IS NOT NULL
                             THEN data_type || '(' || character_maximum_length || ')'
                        WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL
                             THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')'
                        ELSE data_type END,
                   is_nullable = 'YES',
                   ordinal_position
              FROM information_schema.columns
             WHERE table_schema = %s AND table_name = %s
             ORDER BY ordinal_position
            """,
            (rel.schema, rel.identifier),
        ).fetchall()
        if rows:
            out[rel.key] = [
                {"name": n, "type": t, "nullable": bool(nl), "position": int(p)}
                for n, t, nl, p in rows
            ]
    return out


def write_lock(path: str | Path, snapshot: dict[str, Columns]) -> None:
    import yaml

    doc = {
        "version": LOCK_VERSION,
        "note": "approved source schemas of synthdb share contracts; update with "
        "`synthdb validate --update` after review",
        "sources": {
            key: {"columns": [dict(c) for c in cols]} for key, cols in sorted(snapshot.items())
        },
    }
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False, width=100))


def read_lock(path: str | Path) -> dict[str, Columns]:
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"no lock file at {path}: review the sources and run `synthdb validate --update`"
        )
    doc = yaml.safe_load(path.read_text()) or {}
    if doc.get("version") != LOCK_VERSION or not isinstance(doc.get("sources"), dict):
        raise ConfigError(f"{path} is not a synthdb lock file (version {LOCK_VERSION})")
    return {key: list(value.get("columns") or []) for key, value in doc["sources"].items()}


def compare(
    locked: dict[str, Columns], live: dict[str, Columns], expected: Iterable[str]
) -> list[DriftIssue]:
    """Every difference between the approved and the live schemas of ``expected`` relations.

    A column that disappears and one that appears at the same ``position`` with the same type
    is reported once, as a rename. PostgreSQL's ordinal_position is the column's attnum, which a
    rename keeps and a drop never reuses, so drop-then-add is not mistaken for a rename.
    """
    issues: list[DriftIssue] = []
    for key in sorted(set(expected)):
        if key not in locked:
            issues.append(
                DriftIssue(
                    key, None, "not_locked", "source is read by a contract but not in the lock file"
                )
            )
            continue
        if key not in live:
            issues.append(DriftIssue(key, None, "missing_table", "source table no longer exists"))
            continue
        old = {str(c["name"]): (c.get("position", i), c) for i, c in enumerate(locked[key])}
        new = {str(c["name"]): (c.get("position", i), c) for i, c in enumerate(live[key])}
        dropped = [n for n in old if n not in new]
        added = [n for n in new if n not in old]
        for name in list(dropped):
            pos, col = old[name]
            twin = next(
                (a for a in added if new[a][0] == pos and new[a][1]["type"] == col["type"]), None
            )
            if twin is not None:
                issues.append(DriftIssue(key, name, "renamed", f"column renamed to '{twin}'"))
                dropped.remove(name)
                added.remove(twin)
        for name in dropped:
            issues.append(DriftIssue(key, name, "dropped", "column no longer exists"))
        for name in added:
            issues.append(
                DriftIssue(
                    key,
                    name,
                    "added",
                    f"new column ({new[name][1]['type']}); classify it and approve",
                )
            )
        for name in old.keys() & new.keys():
            was, now = old[name][1], new[name][1]
            if was["type"] != now["type"]:
                issues.append(
                    DriftIssue(
                        key, name, "retyped", f"type changed from {was['type']} to {now['type']}"
                    )
                )
            if bool(was["nullable"]) != bool(now["nullable"]):
                state = "nullable" if now["nullable"] else "not null"
                issues.append(DriftIssue(key, name, "nullability", f"column is now {state}"))
    return sorted(issues, key=lambda i: (i.relation, i.column or "", i.change))
