"""Which stored tables a release's training input reads: budgets follow the data, not names.

A privacy budget keyed by the contract view's name was dodged by the same SQL under another
view name (issue 12: budget on ``c_small``, release from ``c_smallb``). Budgets and spends are
therefore matched on the *base tables* underneath: from the catalog (views' rewrite rules,
followed recursively — this also catches a table named in raw SQL that dbt does not know as a
source) and from dbt lineage (sources reached through ``depends_on``), which covers contracts
materialized as tables, whose catalog entry no longer points at what they were built from.
"""

from __future__ import annotations

from typing import Any

_BASES = """
WITH RECURSIVE deps(oid) AS (
    SELECT to_regclass(%s)::oid
  UNION
    SELECT d.refobjid FROM deps
    JOIN pg_rewrite w ON w.ev_class = deps.oid
    JOIN pg_depend d ON d.objid = w.oid AND d.classid = 'pg_rewrite'::regclass
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> deps.oid
)
SELECT n.nspname || '.' || c.relname FROM deps
JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f') ORDER BY 1
"""


def _regclass_text(label: str) -> str:
    schema, _, name = label.partition(".")
    quote = '"'
    return f'"{schema.replace(quote, quote * 2)}"."{name.replace(quote, quote * 2)}"'


def catalog_bases(conn, label: str) -> list[str]:
    """Stored tables ``schema.name`` reads, recursively through views ([] if it is absent)."""
    if "." not in label:
        return []
    return [r[0] for r in conn.execute(_BASES, (_regclass_text(label),)).fetchall()]


def graph_sources(node_id: str | None, graph: dict[str, Any] | None) -> list[str]:
    """``schema.table`` of every dbt source reached from ``node_id`` through ``depends_on``."""
    if not node_id or not graph:
        return []
    nodes, sources = graph.get("nodes", {}), graph.get("sources", {})
    seen: set[str] = set()
    found: set[str] = set()
    stack = [node_id]
    while stack:
        unique_id = stack.pop()
        if unique_id in seen:
            continue
        seen.add(unique_id)
        if unique_id in sources:
            src = sources[unique_id]
            found.add(f"{src.get('schema')}.{src.get('identifier') or src.get('name')}")
            continue
        stack.extend((nodes.get(unique_id) or {}).get("depends_on", {}).get("nodes", []))
    return sorted(found)


def base_relations(conn, label: str, node_id: str | None = None,
                   graph: dict[str, Any] | None = None) -> list[str]:
    """Catalog and dbt lineage of ``label`` together (what a budget on it should cover)."""
    return sorted({*catalog_bases(conn, label), *graph_sources(node_id, graph)})
