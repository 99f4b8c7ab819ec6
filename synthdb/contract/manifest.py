"""Reading what the lint and drift checks need from dbt's ``target/manifest.json``.

A share contract is a model tagged ``synthdb_contract`` (selectable with
``dbt build -s tag:synthdb_contract``) or configured with ``meta={'synthdb': {'contract': true}}``.
Column classifications are ``meta.synthdb`` blocks on columns of sources (and of models a
contract reads), either top-level ``meta`` or ``config.meta``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from synthdb.errors import ConfigError

CONTRACT_TAG = "synthdb_contract"


@dataclass(frozen=True)
class Relation:
    """A table a contract reads, by its database name and dbt's unique id."""

    unique_id: str
    database: str
    schema: str
    identifier: str

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.identifier}"


@dataclass
class Contract:
    name: str
    unique_id: str
    compiled_sql: str | None
    reads: list[Relation] = field(default_factory=list)


@dataclass
class ProjectManifest:
    contracts: list[Contract]
    # "schema.table" -> column (lower case) -> the meta.synthdb block
    classifications: dict[str, dict[str, dict[str, object]]]
    relations: dict[str, Relation]


def _column_meta(column: dict) -> dict[str, object] | None:
    for meta in (column.get("meta") or {}, (column.get("config") or {}).get("meta") or {}):
        block = meta.get("synthdb")
        if isinstance(block, dict):
            return block
    return None


def _is_contract(node: dict) -> bool:
    config = node.get("config") or {}
    meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
    flag = meta.get("synthdb") or {}
    tags = set(node.get("tags") or []) | set(config.get("tags") or [])
    return CONTRACT_TAG in tags or (isinstance(flag, dict) and flag.get("contract") is True)


def load_manifest(path: str | Path) -> ProjectManifest:
    """Contracts, the relations they read and every column classification in the project."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"no dbt manifest at {path}: run `dbt compile` first (dbt parse leaves no compiled SQL)"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    relations: dict[str, Relation] = {}
    classifications: dict[str, dict[str, dict[str, object]]] = {}
    nodes = {**data.get("sources", {}), **data.get("nodes", {})}
    for uid, node in nodes.items():
        if node.get("resource_type") not in ("source", "model", "seed", "snapshot"):
            continue
        identifier = node.get("identifier") or node.get("alias") or node.get("name")
        rel = Relation(uid, node.get("database") or "", node.get("schema") or "", identifier)
        relations[uid] = rel
        for col_name, column in (node.get("columns") or {}).items():
            block = _column_meta(column)
            if block is not None:
                classifications.setdefault(rel.key.lower(), {})[col_name.lower()] = block
    contracts = []
    for uid, node in data.get("nodes", {}).items():
        if node.get("resource_type") != "model" or not _is_contract(node):
            continue
        reads = [
            relations[dep]
            for dep in (node.get("depends_on") or {}).get("nodes", [])
            if dep in relations
        ]
        contracts.append(Contract(node["name"], uid, node.get("compiled_code"), reads))
    return ProjectManifest(sorted(contracts, key=lambda c: c.name), classifications, relations)
