"""SQL of the joined release's checks: classes over a whole tree of tables, rare values per root.

A release group is a tree (customers with orders and addresses, orders with items). A
recipient joins all of it, so a customer is identified by the combination of the
quasi-identifiers of *every* table, across sibling branches too: (segment, an order's kind, an
address's type). The class of a subject is one such combination; each class must be held by k
distinct root keys.

The full join of a tree multiplies sibling rows per subject (8 orders x 3 addresses = 24 rows
per customer before any grandchild). We never build it: each branch is first reduced to its
*distinct* (parent key, branch combination) rows, bottom up, so a subject's rows collapse to its
distinct combinations per branch before they meet. The product that remains per subject is one
row per distinct combination it holds — exactly the (subject, class) memberships that are
counted, and each is distinct, so ``count(*)`` per class is its number of distinct subjects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from synthdb.release.joined_checks import Member, Tree


def _columns(tree: Tree) -> dict[str, list[tuple[Member, str, sql.Identifier]]]:
    """Each table's quasi-identifiers with a unique output name (two tables may both have a
    ``kind``): model -> [(member, column, alias)]."""
    out: dict[str, list[tuple[Member, str, sql.Identifier]]] = {}
    n = 0
    for m in tree.members():
        out[m.model] = []
        for q in m.quasi_identifiers:
            out[m.model].append((m, q, sql.Identifier(f"q{n}")))
            n += 1
    return out


def _below(tree: Tree, member: Member) -> list[sql.Identifier]:
    """Output names of the quasi-identifiers of ``member`` and every table below it."""
    names = _columns(tree)
    return [alias for m in tree.subtree(member) for _, _, alias in names[m.model]]


def _branch(tree: Tree, member: Member) -> sql.Composable:
    """Distinct (anchor = the parent's key, combinations of ``member``'s subtree) rows."""
    own = [sql.SQL("t.{} AS {}").format(sql.Identifier(q), alias)
           for _, q, alias in _columns(tree)[member.model]]
    joins, carried = _join_children(tree, member)
    select = sql.SQL(", ").join([sql.SQL("t.{} AS anchor").format(
        sql.Identifier(member.foreign_key)), *own, *carried])
    return sql.SQL("SELECT DISTINCT {} FROM {} AS t {}").format(
        select, sql.Identifier(*member.relation), joins)


def _join_children(tree: Tree, member: Member) -> tuple[sql.Composable, list[sql.Composable]]:
    """LEFT JOINs of each child branch of ``member`` (NULL: no such child, a class value) and the
    columns they carry up."""
    joins, carried = [], []
    for i, child in enumerate(tree.children(member)):
        b = sql.Identifier(f"b{i}")
        joins.append(sql.SQL("LEFT JOIN ({}) AS {} ON {}.anchor = t.{}").format(
            _branch(tree, child), b, b, sql.Identifier(member.key)))
        carried += [sql.SQL("{}.{}").format(b, alias) for alias in _below(tree, child)]
    return sql.SQL(" ").join(joins), carried


def tree_classes(conn, tree: Tree, k: int) -> dict[str, Any]:
    """Class statistics of the whole tree: distinct root keys per combination of the
    quasi-identifiers of all its tables (``memberships``: distinct (subject, class) pairs)."""
    root = tree.root
    own = [sql.SQL("t.{} AS {}").format(sql.Identifier(q), alias)
           for _, q, alias in _columns(tree)[root.model]]
    joins, carried = _join_children(tree, root)
    every = _below(tree, root)
    subjects = sql.SQL("SELECT DISTINCT {} FROM {} AS t").format(
        sql.SQL(", ").join([sql.SQL("t.{}").format(sql.Identifier(root.key)), *(
            sql.SQL("t.{}").format(sql.Identifier(q)) for q in root.quasi_identifiers)]),
        sql.Identifier(*root.relation))
    row = conn.execute(sql.SQL(
        "SELECT count(*), min(n), count(*) FILTER (WHERE n < %(k)s), "
        "coalesce(sum(n) FILTER (WHERE n < %(k)s), 0), coalesce(sum(n), 0) "
        "FROM (SELECT count(*) AS n FROM (SELECT {own_carried} FROM ({subjects}) AS t {joins}) "
        "AS memberships GROUP BY {every}) classes").format(
            own_carried=sql.SQL(", ").join([*own, *carried]), subjects=subjects, joins=joins,
            every=sql.SQL(", ").join(every)), {"k": k}).fetchone()
    return {"classes": int(row[0]), "min_subjects_per_class": int(row[1] or 0),
            "classes_below_k": int(row[2]), "memberships_below_k": int(row[3]),
            "memberships": int(row[4])}


def root_key_of(tree: Tree, member: Member) -> tuple[sql.Composable, sql.Composable]:
    """FROM clause reaching ``member``'s rows up to the root's child, and the root key of each
    row (the foreign key of that child: orphans are refused before this check)."""
    path = tree.path_to(member)  # root first
    tables = path[1:][::-1]  # member first, up to the root's child
    parts = [sql.SQL("{} AS a0").format(sql.Identifier(*member.relation))]
    for i, m in enumerate(tables[1:], start=1):
        below = tables[i - 1]
        parts.append(sql.SQL("JOIN {} AS {} ON {}.{} = {}.{}").format(
            sql.Identifier(*m.relation), sql.Identifier(f"a{i}"),
            sql.Identifier(f"a{i - 1}"), sql.Identifier(below.foreign_key),
            sql.Identifier(f"a{i}"), sql.Identifier(m.key)))
    top = sql.SQL("{}.{}").format(sql.Identifier(f"a{len(tables) - 1}"),
                                  sql.Identifier(tables[-1].foreign_key))
    return sql.SQL(" ").join(parts), top


def rare_per_root(conn, tree: Tree, member: Member, column: str, min_subjects: int
                  ) -> dict[str, Any]:
    """How many values of ``member.column`` are held by fewer than ``min_subjects`` distinct
    root keys (``rare_rows``: their rows); NULL is not a category, as in the per-table check."""
    source, root_key = root_key_of(tree, member)
    row = conn.execute(sql.SQL(
        "SELECT count(*) FILTER (WHERE n < %(m)s), coalesce(sum(r) FILTER (WHERE n < %(m)s), 0), "
        "count(*), min(n) FROM (SELECT count(DISTINCT {root}) AS n, count(*) AS r FROM {source} "
        "WHERE a0.{col} IS NOT NULL GROUP BY a0.{col}) v").format(
            root=root_key, source=source, col=sql.Identifier(column)),
        {"m": min_subjects}).fetchone()
    return {"rare_values": int(row[0]), "rare_rows": int(row[1]), "distinct_values": int(row[2]),
            "min_subjects_per_value": int(row[3] or 0)}
