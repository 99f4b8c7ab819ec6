"""Which released columns carry identifiers, traced back to the contract's ``meta.synthdb``.

The published table is synthetic, but a recipient and a privacy officer still need to know
which of its columns stand in for direct or quasi identifiers and what was done to them. The
classes live on the *source* columns (dbt YAML); the share contract maps sources to outputs.
This module walks that mapping with sqlglot's column lineage on the contract's compiled SQL
(publish model -> ``publish.from`` synthetic model -> ``synth.source`` contract). When the dbt
manifest or the lineage is not available the answer is "unknown", never a guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RANK = {"direct_identifier": 3, "quasi_identifier": 2, "sensitive": 1, "other": 0}


def _node_by_name(nodes: dict[str, Any], name: str) -> dict[str, Any] | None:
    for node in nodes.values():
        if node.get("resource_type") == "model" and node.get("name") == name:
            return node
    return None


def _contract_name(nodes: dict[str, Any], schema: str, table: str) -> str | None:
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        if (node.get("schema"), node.get("alias") or node.get("name")) != (schema, table):
            continue
        publish = (node.get("config") or {}).get("publish") or {}
        synthetic = _node_by_name(nodes, publish.get("from") or "")
        if synthetic is None:
            return None
        return ((synthetic.get("config") or {}).get("synth") or {}).get("source")
    return None


def contract_lineage(
    project_dir: Path, schema: str, table: str
) -> dict[str, dict[str, Any]] | None:
    """Output column -> strongest class, its policy and the source columns it comes from.

    None when the dbt manifest, the contract or its lineage cannot be read.
    """
    path = project_dir / "target" / "manifest.json"
    if not path.is_file():
        return None
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from synthdb.contract.lint import schema_from_classifications
    from synthdb.contract.manifest import load_manifest

    nodes = json.loads(path.read_text()).get("nodes", {})
    name = _contract_name(nodes, schema, table)
    if name is None:
        return None
    manifest = load_manifest(path)
    contract = next((c for c in manifest.contracts if c.name == name), None)
    if contract is None or not contract.compiled_sql:
        return None
    try:
        import sqlglot
        from sqlglot.lineage import lineage
        from sqlglot.optimizer.qualify import qualify
        from sqlglot.optimizer.scope import build_scope

        db_schema = schema_from_classifications(manifest, contract)
        tree = qualify(
            sqlglot.parse_one(contract.compiled_sql, dialect="postgres"),
            schema=db_schema,
            dialect="postgres",
            quote_identifiers=False,
        )
        root = build_scope(tree)
        out: dict[str, dict[str, Any]] = {}
        for column in tree.named_selects:
            node = lineage(column, tree, schema=db_schema, dialect="postgres", scope=root)
            found: list[tuple[int, str, Any]] = []
            sources: list[str] = []
            for leaf in node.walk():
                if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                    continue
                key = f"{leaf.expression.db}.{leaf.expression.name}".lower()
                source_col = leaf.name.split(".")[-1].lower()
                block = manifest.classifications.get(key, {}).get(source_col) or {}
                klass = str(block.get("class") or "unknown")
                sources.append(f"{key}.{source_col}")
                found.append((RANK.get(klass, -1), klass, block.get("policy")))
            # the strongest known class wins; "unknown" only when nothing is classified
            _, klass, policy = max(found, default=(-1, "other", None))
            best = {"class": klass, "policy": policy, "sources": sources}
            out[column] = best
        return out
    except (SqlglotError, ValueError, KeyError):
        return None


def pii_columns(
    columns: list[str], run: dict[str, Any], lineage: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """The ``pii_columns.json`` document: identifier columns and the generator applied."""
    config = run.get("config") or {}
    qis = set((config.get("privacy") or {}).get("quasi_identifiers") or [])
    overrides = config.get("columns") or {}
    default = config.get("mode") or run.get("mode")
    entries = []
    for name in columns:
        info = (lineage or {}).get(name)
        if info is not None:
            klass = info["class"]
        elif name in qis:
            klass = "quasi_identifier"
        else:
            klass = "unknown" if lineage is None else "other"
        if klass not in ("direct_identifier", "quasi_identifier", "unknown"):
            continue
        entry = {
            "column": name,
            "class": klass,
            "generator": (overrides.get(name) or {}).get("method") or default,
            "k_anonymity_measured": name in qis,
        }
        if info is not None:
            entry["contract_policy"] = info["policy"]
            entry["from_source_columns"] = sorted(set(info["sources"]))
        entries.append(entry)
    source = (
        "dbt manifest: contract lineage to source meta.synthdb classes"
        if lineage is not None
        else "release privacy config only (no dbt manifest or lineage; other columns' class "
        "is unknown)"
    )
    return {
        "classification_source": source,
        "columns": entries,
        "note": "every value in the bundle is synthetic; no source value is copied",
    }
