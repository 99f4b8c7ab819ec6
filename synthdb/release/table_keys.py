"""Keys of a release group: primary and foreign keys of published tables, and their checks.

A parent and its children are published together (``synthdb.release.publish``). The synthetic
models say which column is a table's key (``synth.key``) and which synthetic model is its
parent (``synth.parent: {model, key}``: ``key`` is the child's column holding the parent's
key). From the dbt graph this module derives the group's primary keys and links; in the
destination transaction it checks that every key is unique and not NULL and that every child
row has its parent (zero orphans, a gate failure otherwise), then declares PRIMARY KEY and
FOREIGN KEY constraints so the recipient's database states the joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from synthdb.errors import ConfigError, GateError


@dataclass(frozen=True)
class Link:
    """``child.foreign_key`` references ``parent.parent_key`` (published table names)."""

    child: str
    foreign_key: str
    parent: str
    parent_key: str


def synth_relation(node: dict[str, Any]) -> tuple[str | None, dict[str, str] | None]:
    """``(synth.key, synth.parent)`` of a synthetic model's graph node."""
    synth = (node.get("config") or {}).get("synth") or {}
    return synth.get("key"), synth.get("parent")


def group_keys(
    tables: dict[str, str], graph: dict[str, Any], where: str
) -> tuple[dict[str, str], list[Link]]:
    """Primary keys and links of a release group.

    ``tables`` maps published table name -> synthetic model name. Every parent a member names
    must be a member too (a child published without its parent would hold dangling keys).
    """
    nodes = {
        n.get("name"): n
        for n in (graph.get("nodes") or {}).values()
        if n.get("resource_type") == "model"
    }
    table_of = {model: table for table, model in tables.items()}
    keys: dict[str, str] = {}
    parents: dict[str, dict[str, str]] = {}
    for table, model in tables.items():
        node = nodes.get(model)
        if node is None:
            raise ConfigError(f"{where}: synthetic model {model!r} is not in the project")
        key, parent = synth_relation(node)
        if key:
            keys[table] = str(key)
        if parent:
            parents[table] = parent
    links = []
    for table, parent in parents.items():
        if parent.get("model") not in table_of:
            raise ConfigError(
                f"{where}: table {table!r} (model {tables[table]!r}) has parent model "
                f"{parent.get('model')!r}, which this release does not publish; add it to "
                "publish.related (or publish from it) so both are released together"
            )
        parent_table = table_of[parent["model"]]
        foreign_key = str(parent["key"])
        links.append(Link(table, foreign_key, parent_table, keys.get(parent_table, foreign_key)))
        keys.setdefault(parent_table, foreign_key)
    return keys, links


def check_links(
    dconn,
    schema: str,
    names: dict[str, str],
    keys: dict[str, str],
    links: list[Link],
    prefix: str,
) -> None:
    """Refuse (GateError) a group whose keys repeat or are NULL, or whose children are orphans.

    ``names`` maps published table name -> the name its copy has now (a temporary table).
    """
    for table, key in keys.items():
        rel, col = sql.Identifier(schema, names[table]), sql.Identifier(key)
        bad = dconn.execute(
            sql.SQL(
                "SELECT count(*) - count(DISTINCT {c}) + count(*) FILTER (WHERE {c} IS NULL) "
                "FROM {r}"
            ).format(c=col, r=rel)
        ).fetchone()[0]
        if bad:
            raise GateError(
                f"{prefix}: key {table}.{key} has {bad} repeated or NULL value(s); "
                "nothing was published"
            )
    for link in links:
        orphans = dconn.execute(
            sql.SQL(
                "SELECT count(*) FROM {child} c WHERE c.{fk} IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM {parent} p WHERE p.{pk} = c.{fk})"
            ).format(
                child=sql.Identifier(schema, names[link.child]),
                parent=sql.Identifier(schema, names[link.parent]),
                fk=sql.Identifier(link.foreign_key),
                pk=sql.Identifier(link.parent_key),
            )
        ).fetchone()[0]
        if orphans:
            raise GateError(
                f"{prefix}: {orphans} row(s) of {link.child} have no parent in {link.parent} "
                f"({link.foreign_key} -> {link.parent_key}); were both synthesized in the same "
                "build? Run `dbt build` on the whole release again; nothing was published"
            )


def add_constraints(dconn, schema: str, keys: dict[str, str], links: list[Link]) -> None:
    """PRIMARY KEY on every keyed table, then FOREIGN KEY from every child to its parent."""
    for table, key in keys.items():
        dconn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                sql.Identifier(schema, table), sql.Identifier(key)
            )
        )
    for link in links:
        dconn.execute(
            sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                sql.Identifier(schema, link.child),
                sql.Identifier(link.foreign_key),
                sql.Identifier(schema, link.parent),
                sql.Identifier(link.parent_key),
            )
        )
