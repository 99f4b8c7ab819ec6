"""Lineage lint of share contracts: no identifier leaves the source without its policy.

Each contract's compiled SQL (from ``target/manifest.json``) is parsed with sqlglot (postgres
dialect), qualified against the live column lists, and every output column is traced to the
source columns it carries (``sqlglot.lineage``). A policy macro marks its output with a comment
``/* synthdb:policy=<macro> */`` inside the parentheses it emits; sqlglot keeps that comment on
the macro's expression, so the lint knows which source columns reach an output only *through*
a given macro. A hand-written comment of the same form would also count: the lint guards
against mistakes, it is not a sandbox.

Rules (``LintIssue.rule``):
  select_star                       ``SELECT *`` / ``t.*`` anywhere in the contract
  unparsable / not_compiled         no SQL to check
  unresolved_column                 a column that cannot be tied to a source table
  unnamed_output                    an output column without an explicit name
  unclassified_column               a source column read (select, join, where...) has no
                                    ``meta.synthdb`` class/policy, or an invalid one
  direct_identifier_unmasked        a direct identifier reaches an output without
                                    mask_uuid / pseudonymize / redact
  quasi_identifier_not_generalized  policy ``generalize`` but reaches an output raw
  masked_column_unmasked            policy ``mask`` but reaches an output raw
  dropped_column_in_output          policy ``drop`` but its value reaches an output
  linkable_pseudonym (warning)      pseudonymize() output: stable, raises linkability
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from synthdb.contract import CLASSES, POLICIES
from synthdb.contract.manifest import Contract, ProjectManifest

MASKING = frozenset({"mask_uuid", "pseudonymize", "redact"})
NON_INFORMATIVE = frozenset({"mask_uuid", "redact"})  # output says nothing about the value
GENERALIZING = frozenset(
    {
        "bucket",
        "age_band",
        "top_code",
        "bottom_code",
        "coarsen_date",
        "generalize_zip",
        "add_noise",
        "collapse_rare",
    }
)
MARKER = re.compile(r"synthdb:policy=([a-z_]+)")

Schema = dict[str, dict[str, dict[str, dict[str, str]]]]  # db -> schema -> table -> col -> type


@dataclass(frozen=True)
class LintIssue:
    model: str
    column: str | None
    rule: str
    message: str
    severity: str = "error"

    def line(self) -> str:
        where = self.model + (f".{self.column}" if self.column else "")
        return (
            f"{'LINT' if self.severity == 'error' else 'WARN'} {where}: {self.rule}: {self.message}"
        )


@dataclass(frozen=True)
class _PathState:
    """What happened to a source column's value on its way to one output."""

    policies: frozenset[str] = frozenset()

    @property
    def masked(self) -> bool:
        return bool(self.policies & MASKING)

    @property
    def generalized(self) -> bool:
        return bool(self.policies & (GENERALIZING | MASKING))

    @property
    def non_informative(self) -> bool:
        return bool(self.policies & NON_INFORMATIVE)


def _markers(node) -> set[str]:
    return {m for c in (node.comments or []) for m in MARKER.findall(c)}


def _level_policies(expression, column_name: str) -> frozenset[str]:
    """Policies that wrap *every* reference to ``column_name`` (``alias.col``) in ``expression``.

    If one reference is raw, the value leaks through it, so nothing protects this level.
    """
    from sqlglot import exp

    target = column_name.lower()
    covering: frozenset[str] | None = None
    for col in expression.find_all(exp.Column):
        name = f"{col.table}.{col.name}".lower() if col.table else col.name.lower()
        if name != target and col.name.lower() != target:
            continue
        found: set[str] = set()
        node = col
        while node is not None:
            found |= _markers(node)
            if node is expression:
                break
            node = node.parent
        covering = frozenset(found) if covering is None else covering & frozenset(found)
        if not covering:
            return frozenset()
    return covering or frozenset()


def _leaves(node, state: _PathState) -> Iterator[tuple[object, _PathState]]:
    if not node.downstream:
        yield node, state
        return
    for child in node.downstream:
        here = _level_policies(node.expression, child.name)
        yield from _leaves(child, _PathState(state.policies | here))


def schema_from_classifications(manifest: ProjectManifest, contract: Contract) -> Schema:
    """A fallback schema from the YAML column lists when the database is not reachable."""
    schema: Schema = {}
    for rel in contract.reads:
        cols = manifest.classifications.get(rel.key.lower(), {})
        schema.setdefault(rel.database, {}).setdefault(rel.schema, {})[rel.identifier] = {
            c: "text" for c in cols
        }
    return schema


def _check_classification(block: dict[str, object]) -> str | None:
    klass, policy = block.get("class"), block.get("policy")
    if klass not in CLASSES:
        return f"class '{klass}' is not one of {', '.join(CLASSES)}"
    if policy not in POLICIES:
        return f"policy '{policy}' is not one of {', '.join(POLICIES)}"
    return None


def lint_contract(
    contract: Contract,
    classifications: dict[str, dict[str, dict[str, object]]],
    schema: Schema,
) -> list[LintIssue]:
    """All lint issues of one contract (see the module docstring for the rules).

    The checks run in order and an earlier failure ends the lint: without compiled SQL there
    is nothing to parse, an implicit ``*`` hides which columns are read, and a column that does
    not resolve makes every lineage below it meaningless.
    """
    import sqlglot
    from sqlglot.errors import OptimizeError, ParseError, SqlglotError
    from sqlglot.optimizer.qualify import qualify

    model = contract.name
    if not contract.compiled_sql:
        return [
            LintIssue(
                model, None, "not_compiled", "no compiled SQL in the manifest; run `dbt compile`"
            )
        ]
    try:
        tree = sqlglot.parse_one(contract.compiled_sql, dialect="postgres")
    except ParseError as exc:
        return [
            LintIssue(model, None, "unparsable", f"sqlglot cannot parse the compiled SQL: {exc}")
        ]
    stars = _star_issues(model, tree)
    if stars:
        return stars
    try:
        qualified = qualify(
            tree.copy(),
            schema=schema,
            dialect="postgres",
            validate_qualify_columns=True,
            quote_identifiers=False,
        )
    except (OptimizeError, SqlglotError) as exc:
        return [LintIssue(model, None, "unresolved_column", str(exc).splitlines()[0])]
    return [
        *_unclassified_issues(model, qualified, classifications),
        *_unnamed_output_issues(model, qualified),
        *_lineage_issues(model, qualified, classifications, schema),
    ]


def _star_issues(model: str, tree) -> list[LintIssue]:
    """``SELECT *`` (or ``t.*``) anywhere: the columns it reads cannot be reviewed."""
    from sqlglot import exp

    issues: list[LintIssue] = []
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            star = isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            )
            if star:
                issues.append(
                    LintIssue(
                        model,
                        None,
                        "select_star",
                        f"'{projection.sql('postgres')}' selects columns implicitly; list them",
                    )
                )
    return issues


def _is_relation(source) -> bool:
    """A real relation, not a table function such as ``generate_series(...) AS i``."""
    from sqlglot import exp

    return isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier)


def _unclassified_issues(
    model: str, qualified, classifications: dict[str, dict[str, dict[str, object]]]
) -> list[LintIssue]:
    """Every source column read anywhere (select list, join, where, group by, window...) must
    carry a valid ``meta.synthdb`` classification, also when it is not an output."""
    from sqlglot.optimizer.scope import traverse_scope

    read: set[tuple[str, str]] = set()
    for scope in traverse_scope(qualified):
        for col in scope.columns:
            source = scope.sources.get(col.table)
            if _is_relation(source):
                read.add((f"{source.db}.{source.name}".lower(), col.name.lower()))
    issues: list[LintIssue] = []
    for key, col in sorted(read):
        block = classifications.get(key, {}).get(col)
        problem = (
            "source column is read but has no meta.synthdb class/policy"
            if block is None else _check_classification(block)
        )
        if problem:
            issues.append(LintIssue(model, f"{key}.{col}", "unclassified_column", problem))
    return issues


def _unnamed_output_issues(model: str, qualified) -> list[LintIssue]:
    """Output columns without an explicit alias: their name would be sqlglot's, not the SQL's."""
    return [
        LintIssue(model, f"#{i + 1}", "unnamed_output", "give the output column an explicit alias")
        for i, name in enumerate(qualified.named_selects)
        if not name or re.fullmatch(r"_col_\d+", name)
    ]


def _lineage_issues(
    model: str,
    qualified,
    classifications: dict[str, dict[str, dict[str, object]]],
    schema: Schema,
) -> list[LintIssue]:
    """The policy rules on the path from each classified source column to each output."""
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.scope import build_scope

    root = build_scope(qualified)
    issues: list[LintIssue] = []
    for name in qualified.named_selects:
        try:
            node = lineage(name, qualified, schema=schema, dialect="postgres", scope=root)
        except SqlglotError as exc:
            issues.append(LintIssue(model, name, "unresolved_column", f"no lineage: {exc}"))
            continue
        for leaf, state in _leaves(node, _PathState()):
            if not _is_relation(leaf.expression):
                continue
            table = leaf.expression
            key = f"{table.db}.{table.name}".lower()
            source_col = leaf.name.split(".")[-1].lower()
            block = classifications.get(key, {}).get(source_col)
            if block is None or _check_classification(block):
                continue  # reported by _unclassified_issues
            issues.extend(_rules(model, name, f"{key}.{source_col}", block, state))
    return issues


def _rules(
    model: str, output: str, source: str, block: dict[str, object], state: _PathState
) -> list[LintIssue]:
    klass, policy = block["class"], block["policy"]
    via = f"{source} reaches output '{output}'"
    out: list[LintIssue] = []
    if klass == "direct_identifier" and not state.masked:
        out.append(
            LintIssue(
                model,
                output,
                "direct_identifier_unmasked",
                f"{via} without mask_uuid/pseudonymize/redact",
            )
        )
    elif policy == "drop" and not state.non_informative:
        out.append(
            LintIssue(model, output, "dropped_column_in_output", f"{via} but its policy is drop")
        )
    elif policy == "mask" and not state.masked:
        out.append(
            LintIssue(
                model,
                output,
                "masked_column_unmasked",
                f"{via} without a masking macro (policy mask)",
            )
        )
    elif policy == "generalize" and not state.generalized:
        rule = (
            "quasi_identifier_not_generalized" if klass == "quasi_identifier" else "not_generalized"
        )
        out.append(LintIssue(model, output, rule, f"{via} raw but its policy is generalize"))
    if "pseudonymize" in state.policies:
        out.append(
            LintIssue(
                model,
                output,
                "linkable_pseudonym",
                f"{via} through pseudonymize(): stable across rows and releases, raises linkability",
                "warning",
            )
        )
    return out


def lint_project(manifest: ProjectManifest, schema: Schema | None = None) -> list[LintIssue]:
    """Lint every contract; ``schema`` from the live database, else from the YAML columns."""
    issues: list[LintIssue] = []
    for contract in manifest.contracts:
        contract_schema = schema or schema_from_classifications(manifest, contract)
        issues.extend(lint_contract(contract, manifest.classifications, contract_schema))
    return issues
