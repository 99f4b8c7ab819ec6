"""The contract check that runs inside ``dbt build``, before any row is read.

``synthdb validate`` (lineage lint + schema drift) is the CI command; this module runs the same
checks for the one contract a synthetic model learns from, at the moment it is about to learn,
so a release cannot proceed with a raw identifier in the contract or an unapproved source
column — even when CI was skipped. Input is dbt's in-memory graph plus the compiled SQL that
dbt wrote to ``target/compiled`` when it built the contract earlier in the same run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from synthdb.errors import ConfigError


def _compiled_sql(node: dict[str, Any], project_root: Path, target_path: str) -> str | None:
    if node.get("compiled_code"):
        return node["compiled_code"]
    path = (project_root / target_path / "compiled" / node.get("package_name", "")
            / node.get("original_file_path", ""))
    return path.read_text() if path.is_file() else None


def check_contract(model: str, contract_id: str, graph: dict[str, Any], project_root: str,
                   target_path: str, conn) -> Any:
    """Lint + drift for one contract; returns the ValidationReport (its warnings name the
    stable-pseudonym columns), raises ConfigError when it fails."""
    from synthdb.contract.validate import LOCK_NAME, validate_project

    nodes = graph.get("nodes", {})
    contract = nodes.get(contract_id)
    if contract is None:
        raise ConfigError(f"model {model}: its training input {contract_id} is not in the graph")
    root = Path(project_root)
    sql = _compiled_sql(contract, root, target_path)
    if sql is None:
        raise ConfigError(
            f"model {model}: no compiled SQL for contract {contract['name']}; build it in the "
            "same run (dbt build) so it can be linted")
    selected = {uid: n for uid, n in nodes.items()
                if n.get("resource_type") != "model" or uid == contract_id
                or "synthdb_contract" not in (n.get("tags") or [])}
    selected[contract_id] = {**contract, "compiled_code": sql}
    manifest = {"nodes": selected, "sources": graph.get("sources", {})}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_text(json.dumps(manifest, default=str))
        report = validate_project(root, manifest_path=path, lock_path=root / LOCK_NAME, conn=conn)
    if not report.ok:
        problems = "; ".join(report.lines()[:-1][:8])
        raise ConfigError(
            f"model {model}: contract {contract['name']} failed validation, nothing was read: "
            f"{problems} (fix the contract or classify the columns; after review, "
            "`synthdb validate --update` approves a source change)")
    return report
