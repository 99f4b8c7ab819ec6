"""Suggest a privacy classification for every column of live tables (``synthdb scan``).

Two kinds of evidence, combined per column: the column *name* (``email``, ``dob``, ``zip``)
and a random *sample of values* run through the detectors in ``synthdb.contract.pii``. The
result is a suggestion with a confidence, written as the ``meta.synthdb`` block that the
lineage lint reads; a person confirms it. Sampled values stay in memory for the length of one
column's check and are never printed, logged or written: findings carry counts and shares only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from synthdb.contract import pii
from synthdb.errors import ConfigError

# kind -> (class, policy) when the evidence is strong
KIND_CLASS: dict[str, tuple[str, str]] = {
    "email": ("direct_identifier", "drop"),
    "phone": ("direct_identifier", "drop"),
    "national_id": ("direct_identifier", "drop"),
    "iban": ("direct_identifier", "drop"),
    "payment_card": ("direct_identifier", "drop"),
    "ip_address": ("direct_identifier", "drop"),
    "person_name": ("direct_identifier", "drop"),
    "street_address": ("direct_identifier", "drop"),
    "free_text_pii": ("direct_identifier", "drop"),
    "record_id": ("direct_identifier", "mask"),
    "birth_date": ("quasi_identifier", "generalize"),
    "quasi": ("quasi_identifier", "generalize"),
    "sensitive": ("sensitive", "synthesize"),
}

# (pattern on the lower-cased column name, kind, confidence); first match wins
NAME_RULES: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(p), kind, conf)
    for p, kind, conf in [
        (r"e_?mail", "email", 0.9),
        (r"phone|mobile|(^|_)(tel|telephone|fax|msisdn)($|_)", "phone", 0.9),
        (
            r"ssn|social_?security|national_?id|(^|_)nin($|_)|passport|tax_?id|(^|_)tin($|_)|driver_?s?_?licen",
            "national_id",
            0.9,
        ),
        (r"iban|bank_?account|account_?(number|no)|(^|_)bic($|_)|swift", "iban", 0.85),
        (
            r"card_?(number|no|num)|credit_?card|(^|_)(cc|pan)(_?num(ber)?)?($|_)",
            "payment_card",
            0.9,
        ),
        (r"(^|_)ip(_?addr(ess)?|v4|v6)?($|_)|mac_?address", "ip_address", 0.85),
        (
            r"(first|last|full|middle|given|family|sur|maiden|user|display|contact)_?name|^name$|(^|_)surname",
            "person_name",
            0.85,
        ),
        (r"street|address|addr($|_)|house_?(number|no)", "street_address", 0.8),
        (r"birth|(^|_)dob($|_)|born", "birth_date", 0.9),
        (
            r"(^|_)(customer|client|user|person|patient|member|employee|account|subscriber|citizen|student)_?(id|uuid|key|no|number)$",
            "record_id",
            0.9,
        ),
        (r"(^|_)(id|uuid|guid)$|_key$", "record_id", 0.6),
        (
            r"(^|_)(age|gender|sex|zip|zipcode|postcode|postal_?code|plz|city|town|county|country|region|state|province|nationality|marital|occupation|job|profession|education|language|lat|latitude|lon|lng|longitude|geo)($|_)",
            "quasi",
            0.7,
        ),
        (
            r"salary|income|wage|diagnos|disease|health|medical|religio|ethnic|(^|_)race($|_)|sexual|political|union_member|disabilit|credit_?score|criminal|biometric|genetic",
            "sensitive",
            0.75,
        ),
    ]
]

TEXT_TYPES = {"text", "character varying", "character", "citext", "name"}
DATE_TYPES = {"date", "timestamp without time zone", "timestamp with time zone"}


@dataclass(frozen=True)
class ColumnFinding:
    """The suggestion for one column. ``evidence`` never contains a sampled value."""

    table: str
    column: str
    data_type: str
    klass: str
    policy: str
    confidence: float
    kind: str | None = None
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def meta(self) -> dict[str, object]:
        """The ``meta.synthdb`` block for dbt YAML."""
        out: dict[str, object] = {"class": self.klass, "policy": self.policy}
        if self.kind:
            out["detected"] = self.kind
        out["confidence"] = round(self.confidence, 2)
        return out


def _name_evidence(column: str) -> tuple[str, float] | None:
    name = column.lower()
    for pattern, kind, conf in NAME_RULES:
        if pattern.search(name):
            return kind, conf
    return None


FRACTIONAL_TYPES = {"numeric", "decimal", "real", "double precision", "money"}


def _value_evidence(
    values: Sequence[object], data_type: str, min_share: float
) -> tuple[str, float, str] | None:
    """(kind, confidence, description) from a sample, or ``None``. Values are not returned."""
    present = [v for v in values if v is not None and str(v).strip() != ""]
    if not present:
        return None
    n = len(present)
    if data_type in DATE_TYPES or all(isinstance(v, (date, datetime)) for v in present):
        share = sum(pii.is_birth_date_like(v) for v in present) / n
        spread = len({(v.year if isinstance(v, (date, datetime)) else str(v)[:4]) for v in present})
        # many distinct past years look like birth dates; event dates cluster in a few years
        if share >= 0.95 and spread >= min(20, max(5, n // 4)):
            return (
                "birth_date",
                0.5,
                f"{share:.0%} of {n} sampled dates are 0-110 years ago over {spread} years",
            )
        return None
    if data_type in FRACTIONAL_TYPES and any(
        isinstance(v, (float, Decimal)) and v != int(v) for v in present
    ):
        # Amounts with decimals are measurements, not phone or card numbers written as digits.
        return None
    texts = [str(v) for v in present]
    counts = Counter(pii.detect_value(t) for t in texts)
    counts.pop(None, None)
    if counts:
        kind, hits = counts.most_common(1)[0]
        share = hits / n
        if share >= min_share:
            return kind, min(0.99, 0.5 + 0.5 * share), f"{hits}/{n} sampled values look like {kind}"
    long_texts = [t for t in texts if len(t) >= 20 and " " in t]
    if long_texts and len(long_texts) >= n / 2:
        found: Counter[str] = Counter()
        for text in long_texts:
            found.update(pii.find_in_text(text))
        hits = sum(found.values())
        if hits:
            kinds = ", ".join(sorted(found))
            share = max(found.values()) / n
            return (
                "free_text_pii",
                min(0.95, 0.6 + share),
                f"free text containing {kinds} in {max(found.values())}/{n} sampled values",
            )
    return None


def classify_column(
    table: str,
    column: str,
    data_type: str,
    values: Sequence[object],
    min_share: float = 0.3,
) -> ColumnFinding:
    """Combine name and value evidence for one column into a suggested class and policy.

    Agreeing evidence raises the confidence (1 - (1-a)(1-b)); value evidence for a direct
    identifier wins over a harmless-looking name, because a renamed column is the usual leak.
    """
    by_name = _name_evidence(column)
    by_value = _value_evidence(values, data_type, min_share)
    evidence: list[str] = []
    if by_name:
        evidence.append(f"name suggests {by_name[0]}")
    if by_value:
        evidence.append(by_value[2])
    if by_value and by_value[0] != "birth_date":
        kind, conf = by_value[0], by_value[1]
        if by_name and KIND_CLASS[by_name[0]][0] == KIND_CLASS[kind][0]:
            conf = 1 - (1 - conf) * (1 - by_name[1])
    elif by_name:
        kind, conf = by_name
        if by_value and kind == "birth_date":  # birth-date-like values confirm the name
            conf = 1 - (1 - conf) * (1 - by_value[1])
    elif by_value:
        kind, conf = by_value[0], by_value[1]
    else:
        return ColumnFinding(
            table, column, data_type, "other", "synthesize", 0.5, None, tuple(evidence)
        )
    klass, policy = KIND_CLASS[kind]
    return ColumnFinding(table, column, data_type, klass, policy, conf, kind, tuple(evidence))


def _parse_target(target: str) -> tuple[str, str | None]:
    parts = target.split(".")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ConfigError(f"scan target must be 'schema' or 'schema.table', got '{target}'")


class PiiScanner:
    """Scan tables of a live database and suggest a classification for every column.

    Parameters: ``sample_size`` rows read per table (a random sample), ``min_share`` of the
    sampled non-empty values that must match a detector before the column is flagged.
    """

    def __init__(self, sample_size: int = 500, min_share: float = 0.3) -> None:
        self.sample_size = sample_size
        self.min_share = min_share

    def scan(self, conn, target: str) -> list[ColumnFinding]:
        """Findings for ``schema`` (all its tables and views) or ``schema.table``."""
        schema, table = _parse_target(target)
        rows = conn.execute(
            """
            SELECT c.table_name, c.column_name, c.data_type
              FROM information_schema.columns c
              JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = %s AND (%s::text IS NULL OR c.table_name = %s)
             ORDER BY c.table_name, c.ordinal_position
            """,
            (schema, table, table),
        ).fetchall()
        if not rows:
            where = f"{schema}.{table}" if table else f"schema {schema}"
            raise ConfigError(f"scan: no table or column found in {where}")
        columns: dict[str, list[tuple[str, str]]] = {}
        for tname, cname, dtype in rows:
            columns.setdefault(tname, []).append((cname, dtype))
        findings: list[ColumnFinding] = []
        for tname, cols in columns.items():
            sample = self._sample(conn, schema, tname, [c for c, _ in cols])
            for i, (cname, dtype) in enumerate(cols):
                values = [row[i] for row in sample]
                findings.append(
                    classify_column(f"{schema}.{tname}", cname, dtype, values, self.min_share)
                )
            del sample
        return findings

    def _sample(self, conn, schema: str, table: str, columns: list[str]) -> list[tuple]:
        from psycopg import sql

        estimate = conn.execute(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            (schema, table),
        ).fetchone()
        rows = float(estimate[0]) if estimate and estimate[0] is not None else -1.0
        selected = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        relation = sql.Identifier(schema, table)
        if rows > 20 * self.sample_size:
            percent = min(100.0, 100.0 * 3 * self.sample_size / rows)
            query = sql.SQL("SELECT {} FROM {} TABLESAMPLE BERNOULLI ({}) LIMIT {}").format(
                selected, relation, sql.Literal(percent), sql.Literal(self.sample_size)
            )
        else:  # small, unanalyzed or a view: a random order is cheap enough
            query = sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT {}").format(
                selected, relation, sql.Literal(self.sample_size)
            )
        return conn.execute(query).fetchall()


def findings_to_yaml(findings: Iterable[ColumnFinding], source_name: str | None = None) -> str:
    """dbt ``sources:`` YAML with a ``meta.synthdb`` block per column, ready to merge."""
    import yaml

    schemas: dict[str, dict[str, list[dict[str, object]]]] = {}
    for f in findings:
        schema, table = f.table.split(".", 1)
        schemas.setdefault(schema, {}).setdefault(table, []).append(
            {"name": f.column, "meta": {"synthdb": f.meta()}}
        )
    doc = {
        "version": 2,
        "sources": [
            {
                "name": source_name or schema,
                "schema": schema,
                "tables": [{"name": t, "columns": cols} for t, cols in tables.items()],
            }
            for schema, tables in schemas.items()
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=100)


def format_findings(findings: Sequence[ColumnFinding]) -> str:
    """A plain table for the terminal: names, classes, confidences and evidence, no values."""
    header = ("column", "type", "class", "policy", "detected", "conf", "evidence")
    lines = [
        (
            f"{f.table}.{f.column}",
            f.data_type,
            f.klass,
            f.policy,
            f.kind or "-",
            f"{f.confidence:.2f}",
            "; ".join(f.evidence) or "-",
        )
        for f in findings
    ]
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header) - 1)]
    out = []
    for row in [header, *lines]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out.append("  ".join([*cells, row[-1]]))
    return "\n".join(out)


def write_yaml(findings: Sequence[ColumnFinding], path: str | Path) -> None:
    Path(path).write_text(findings_to_yaml(findings))
