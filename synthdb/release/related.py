"""Related tables in a release run: fresh keys, and children generated for synthetic parents.

Two variants of the ``synthesize`` mode (synthdb.release.modes), chosen by the config:

* ``synth.key`` (``Keyed``): the key column is not learned; every release writes fresh random
  keys (``synthdb.generators.fresh_keys``), so no source key is released and no key links two
  releases.
* ``synth.parent: {model, key}`` (``Child``): the table is generated in the context of its
  parent synthetic model's *staged* rows (``synthdb.generators.relational.ChildGenerator``):
  children per parent given the parent's attributes, child attributes given the parent's,
  event order and gaps; the key column ``key`` holds the synthetic parent's fresh key, so the
  two staged tables join with zero orphans. The model must depend on the parent (a dbt
  ``ref``), so dbt builds the parent first.

Training reads the child's contract and the parent's contract (the parent model's
``synth.source``) in the same seeded sample *of parents*, so per-parent counts are whole, and
the train/holdout split is by parent: a held-out parent's children are all held out. The real
parent keys are read only to link the two samples; they are never modelled or written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from psycopg import sql

from synthdb.errors import ConfigError, EmptyInputError
from synthdb.generators.registry import KEYED_DEFAULT_METHOD
from synthdb.release import pgio, run_metrics, stages, training
from synthdb.release.modes import Synthesize, build_generator
from synthdb.release.names import label, qualified
from synthdb.release.reserved_keys import ReservedKeys

#: the grandparent's key beside a child row when rare values are counted in grandparents
GRANDPARENT = "__synthdb_grandparent"
#: parents sampled by a seeded hash of their key, so parent and child reads pick the same ones
_HASH_BUCKETS = 1_000_000


class KeyedGenerator:
    """A table generator whose key column is filled with fresh random keys, never learned."""

    def __init__(self, inner: Any, key: str) -> None:
        self.inner = inner
        self.key = key

    def fit(self, frame: pd.DataFrame | None, specs: list[Any], **options: Any
            ) -> KeyedGenerator:
        from synthdb.generators.fresh_keys import key_style

        spec = next((s for s in specs if s.name == self.key), None)
        self.style_ = key_style(spec)
        self.columns_ = [s.name for s in specs]
        rest = [s for s in specs if s.name != self.key]
        self.inner.fit(None if frame is None else frame.drop(columns=[self.key]), rest, **options)
        return self

    def sample_chunks(self, n: int, seed: int | None = None,
                      chunk_size: int | None = None) -> Iterator[pd.DataFrame]:
        from synthdb.generators.fresh_keys import fresh_keys

        for chunk in self.inner.sample_chunks(n, seed=seed, chunk_size=chunk_size):
            chunk[self.key] = fresh_keys(len(chunk), self.style_).to_numpy()
            yield chunk[self.columns_]

    def sample(self, n: int, seed: int | None = None) -> pd.DataFrame:
        return pd.concat(list(self.sample_chunks(n, seed)), ignore_index=True)

    def describe(self) -> dict[str, Any]:
        out = dict(self.inner.describe())
        out["keys"] = {self.key: "fresh random values per release (OS randomness), "
                                 "not learned, no mapping to the source"}
        return out


@dataclass
class ParentInputs:
    """What a child run needs of its parent model."""

    model: str
    key: str  # the parent's key column (its synth.key)
    contract: tuple[str, str]  # the parent's training input (real rows)
    staging: tuple[str, str]  # the parent's staged synthetic rows
    foreign_key: str | None = None  # the parent's own link to its parent (never context)


def parent_inputs(request: Any) -> ParentInputs:
    """The parent model's key, contract and staging relations, from the dbt graph."""
    cfg = request.config
    where = f"model {request.model}: config synth.parent"
    nodes = {n.get("name"): n for n in ((request.graph or {}).get("nodes") or {}).values()
             if n.get("resource_type") == "model"}
    me = nodes.get(request.model) or {}
    parent = nodes.get(cfg.parent["model"])
    if parent is None:
        raise ConfigError(f"{where}: model {cfg.parent['model']!r} is not in the project")
    if parent.get("unique_id") not in (me.get("depends_on") or {}).get("nodes", []):
        raise ConfigError(
            f"{where}: the model does not depend on {cfg.parent['model']!r}; add "
            f"`-- depends_on: {{{{ ref('{cfg.parent['model']}') }}}}` so dbt builds the parent "
            "first")
    psynth = (parent.get("config") or {}).get("synth") or {}
    if parent.get("config", {}).get("materialized") != "synthetic" or not psynth.get("key"):
        raise ConfigError(f"{where}: parent {cfg.parent['model']!r} must be a synthetic model "
                          "with synth.key (its key column, released as fresh random keys)")
    contract = nodes.get(psynth.get("source"))
    if contract is None:
        raise ConfigError(f"{where}: the parent's synth.source {psynth.get('source')!r} is "
                          "not a model of the project")
    return ParentInputs(
        model=cfg.parent["model"], key=psynth["key"],
        contract=(contract["schema"], contract.get("alias") or contract["name"]),
        staging=(parent["schema"], parent.get("alias") or parent["name"]),
        foreign_key=(psynth.get("parent") or {}).get("key"))


def _in_sample(column: str, seed: int, fraction: float) -> sql.Composable:
    """SQL condition: ``column``'s value is in the seeded hash sample of ``fraction``."""
    return sql.SQL("abs(hashtextextended({}::text, {}) % {}) < {}").format(
        sql.Identifier(column), sql.Literal(seed % 2**62), sql.Literal(_HASH_BUCKETS),
        sql.Literal(int(fraction * _HASH_BUCKETS)))


def _read(conn, relation: tuple[str, str], columns: list[pgio.PgColumn],
          where: sql.Composable) -> pd.DataFrame:
    select = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), qualified(*relation), where)
    return pgio.read_frame(conn, select, columns)


class Keyed(Synthesize):
    """``synthesize`` with ``synth.key``: fresh random keys instead of a learned key column."""

    def read_training(self, ctx: stages.RunContext) -> None:
        ctx.reserved = ReservedKeys.of(ctx.request.model, ctx.columns, ctx.cfg.key)
        super().read_training(ctx)
        self._own_keys(ctx)

    def _own_keys(self, ctx: stages.RunContext) -> None:
        """Key columns exist; they are left out of the leakage metrics (never learned)."""
        cfg = ctx.cfg
        names = {c.name for c in ctx.columns}
        own = [c for c in (cfg.key, (cfg.parent or {}).get("key")) if c]
        missing = [c for c in own if c not in names]
        if missing:
            raise ConfigError(f"model {ctx.request.model}: key column(s) "
                              f"{', '.join(map(repr, missing))} are not in "
                              f"{label(*ctx.request.source)}")
        ctx.mock.update(own)

    def build_generator(self, ctx: stages.RunContext):
        inner = build_generator(ctx.cfg, ctx.seed, ctx.mock, default_method(ctx.cfg))
        return KeyedGenerator(inner, ctx.cfg.key) if ctx.cfg.key else inner

    def write(self, ctx: stages.RunContext) -> int:
        """The rows, then a fresh key again for every row whose key another row drew too or
        that equals a source key: one the run read, or one in the fresh keys' reserved range
        (``ctx.reserved``, collected by the read; the only source keys a fresh integer key can
        equal)."""
        written = self.write_rows(ctx)
        key = ctx.cfg.key
        if key:
            read = [f[key] for f in (ctx.train, ctx.holdout) if f is not None and key in f]
            source_keys = pd.concat(read).dropna().unique() if read else []
            reserved = ctx.reserved.found if ctx.reserved is not None else ""
            redraw_repeated_keys(ctx.conn, ctx.tmp, key, self.key_style(ctx), source_keys,
                                 reserved)
        return written

    def write_rows(self, ctx: stages.RunContext) -> int:
        return super().write(ctx)

    def key_style(self, ctx: stages.RunContext) -> str:
        """The form of this table's fresh keys (``fresh_keys.key_style``), as drawn."""
        return ctx.generator.style_


def redraw_repeated_keys(conn: Any, table: sql.Composable, key: str, style: str,
                         source_keys: Any = (), reserved: str = "") -> int:
    """Give every row but one of each repeated key a fresh key, and every row whose key is one
    of ``source_keys`` (the source's keys the run read), until all keys are distinct and none
    is a source key; returns the rows given one.

    Fresh keys are drawn per chunk of rows (``fresh_keys``: distinct within the chunk), and the
    chunks are drawn apart, in worker processes or block of parents by block: 300k integer keys
    in three chunks of 100k repeated 14 of them, and publish refuses a key that is not unique.
    The repeats are found and redrawn in SQL, in the run's writer transaction (so the rows keep
    its transaction id for publish's proof, synthdb.release.unchanged), with the server's
    strong randomness. A fresh key equal to a source key by chance would look like a real
    customer's id to the recipient, so source keys are avoided too: ``source_keys``, the keys
    the run read, and (integer keys) ``reserved``, every source key inside the reserved range
    fresh keys are drawn from, comma-separated (synthdb.release.reserved_keys), so no fresh key
    equals any source key. They travel to the server as query parameters, never into a log.
    """
    from synthdb.generators.fresh_keys import fresh_key_sql

    column = sql.Identifier(key)
    # The rows to redraw are collected first and joined by ctid: a "ctid IN (...) OR ..." in
    # the UPDATE's own WHERE ran as a subplan per row (the 20k-row demo's child table took
    # minutes).
    statement = sql.SQL(
        "WITH repeated AS (SELECT {key} FROM {table} GROUP BY {key} "
        "HAVING pg_catalog.count(*) > 1), "
        "redraw AS (SELECT ctid AS row_id FROM (SELECT ctid, pg_catalog.row_number() OVER "
        "(PARTITION BY {key}) AS n FROM {table} WHERE {key} IN (SELECT {key} FROM repeated)) r "
        "WHERE n > 1 UNION ALL SELECT ctid FROM {table} "
        "WHERE {key}::text IN (SELECT pg_catalog.unnest(%s::text[]) UNION ALL "
        "SELECT pg_catalog.unnest(pg_catalog.string_to_array(%s, ',')))) "
        "UPDATE {table} AS t SET {key} = {fresh} FROM redraw WHERE t.ctid = redraw.row_id").format(
        table=table, key=column, fresh=sql.SQL(fresh_key_sql(style)))
    avoid = [str(k) for k in source_keys]
    redrawn = 0
    for _ in range(20):  # each round leaves a repeat with probability ~ rows / key space
        rows = conn.execute(statement, (avoid, reserved)).rowcount
        redrawn += rows
        if rows == 0:
            return redrawn
    raise ConfigError(f"fresh keys of {key!r}: still repeated after 20 redraws; widen the key "
                      "column (bigint or uuid)")


class Child(Keyed):
    """``synthesize`` with ``synth.parent``: rows generated for the parent's synthetic rows."""

    def samples_in_workers(self, ctx: stages.RunContext) -> bool:
        return False  # children are drawn in this process, block of parents by block (write)

    def read_training(self, ctx: stages.RunContext) -> None:
        cfg, conn = ctx.cfg, ctx.conn
        self.parent = parent_inputs(ctx.request)
        self._own_keys(ctx)
        fk = cfg.parent["key"]
        ctx.reserved = ReservedKeys.of(ctx.request.model, ctx.columns, cfg.key)
        ctx.n_source = training.count_rows(conn, ctx.request, ctx.reserved)
        limit = int(cfg.max_train_rows / (1 - cfg.holdout))
        fraction = min(1.0, 1.1 * limit / ctx.n_source)
        pcolumns = pgio.relation_columns(conn, *self.parent.contract)
        if self.parent.key not in {c.name for c in pcolumns}:
            raise ConfigError(f"model {ctx.request.model}: the parent's key "
                              f"{self.parent.key!r} is not in {label(*self.parent.contract)}")
        parents = _read(conn, self.parent.contract, pcolumns,
                        _in_sample(self.parent.key, ctx.seed, fraction))
        subject = [ctx.subject] if ctx.subject is not None else []
        children = _read(conn, ctx.request.source, ctx.columns + subject,
                         _in_sample(fk, ctx.seed, fraction))
        conn.commit()
        owners = self._owners(ctx, children, parents)
        if not len(parents):
            raise EmptyInputError(f"model {ctx.request.model}: the parent's training input "
                                  f"{label(*self.parent.contract)} has no rows")
        keys = parents[self.parent.key].to_numpy()
        rng = np.random.default_rng(ctx.seed)
        held = set(keys[rng.permutation(len(keys))[: int(round(len(keys) * cfg.holdout))]])
        in_holdout = children[fk].isin(held).to_numpy()
        self.train_parents = parents[~parents[self.parent.key].isin(held)].reset_index(drop=True)
        self.train_subjects = owners[~in_holdout]
        ctx.train = children[~in_holdout].reset_index(drop=True)
        ctx.holdout = children[in_holdout].reset_index(drop=True)
        ctx.specs, mock = training.column_specs(ctx.train, ctx.columns, cfg, ctx.request.model)
        ctx.mock.update(mock)
        from synthdb.generators import infer_specs

        self.parent_specs = infer_specs(parents, {c.name: c.pg_type for c in pcolumns})
        self.staged_columns = pgio.relation_columns(conn, *self.parent.staging)
        conn.commit()
        if not self.staged_columns:
            raise ConfigError(f"model {ctx.request.model}: the parent's staged table "
                              f"{label(*self.parent.staging)} does not exist; build "
                              f"{self.parent.model} first")

    def _owners(self, ctx: stages.RunContext, children: pd.DataFrame,
                parents: pd.DataFrame) -> np.ndarray:
        """Whose each child row is (taken out of ``children`` if it is a column): the declared
        subject, else the parent's own parent (a customer for an order's items), else the
        parent. A row whose owner is unknown has a NULL owner: it helps no value's count."""
        if ctx.subject is not None:
            return children.pop(ctx.subject.name).to_numpy(dtype=object)
        fk = children[ctx.cfg.parent["key"]]
        up = self.parent.foreign_key
        if up and up in parents.columns:
            owner = parents.drop_duplicates(self.parent.key).set_index(self.parent.key)[up]
            return fk.map(owner).to_numpy(dtype=object)
        return fk.to_numpy(dtype=object)

    def fit_options(self, ctx: stages.RunContext) -> dict[str, Any]:
        # rare child values are counted in owners, not rows (docs/related-tables.md)
        return {"subjects": self.train_subjects}

    def build_generator(self, ctx: stages.RunContext):
        from synthdb.generators.relational import ChildGenerator

        cfg = ctx.cfg
        params = {"max_train_rows": cfg.max_train_rows, "chunk_size": cfg.chunk_size,
                  "passthrough_mock": ctx.mock - {cfg.key, cfg.parent["key"]} or None,
                  **cfg.generator}
        return _ChildTable(
            ChildGenerator(rare_min_count=cfg.privacy.rare_min_count, generator_params=params,
                           chunk_rows=cfg.chunk_size, random_state=ctx.seed),
            self, ctx)

    def owner_rows(self, ctx: stages.RunContext, rare: list[str]) -> list[dict[str, Any]]:
        """Each rare-checked value of the staged children must be held by ``rare_min_count``
        distinct synthetic parents (the foreign key column), not only rows: 200 children of one
        parent are one owner. (Combinations are counted in the root's keys by the group's
        joined check at publish, synthdb.release.joined_checks.)"""
        fk = ctx.cfg.parent["key"]
        return run_metrics.rare_subject_rows(
            ctx.conn, ctx.tmp, fk, rare, ctx.cfg.privacy.rare_min_count,
            f"distinct synthetic parents ({fk}, synth.parent)")

    def rare_owners(self, ctx: stages.RunContext) -> tuple[sql.Composable, str]:
        """Rare child values are counted in distinct synthetic parents (the foreign key) or,
        below a parent that has a parent itself, in distinct grandparents: the owners the
        generator counted at fit (``_owners``), and for three levels the root keys the group's
        joined check counts (``joined_sql.rare_per_root``). Fewer grandparents than parents
        hold a value, so this also covers the per-parent check."""
        fk = ctx.cfg.parent["key"]
        up = self.parent.foreign_key
        if not up:
            return ctx.tmp, fk
        counted = sql.SQL("(SELECT c.*, p.{up} AS {owner} FROM {tmp} AS c JOIN {parent} AS p "
                          "ON c.{fk} = p.{key}) AS counted").format(
            up=sql.Identifier(up), owner=sql.Identifier(GRANDPARENT), tmp=ctx.tmp,
            parent=qualified(*self.parent.staging), fk=sql.Identifier(fk),
            key=sql.Identifier(self.parent.key))
        return counted, GRANDPARENT

    def key_style(self, ctx: stages.RunContext) -> str:
        return ctx.generator.child.child_key_style_

    def write_rows(self, ctx: stages.RunContext) -> int:
        """Children of the parent's staged rows, written block of parents by block.

        The parent's key and context columns are spooled to a temporary file first (the
        connection then carries the COPY into the staging table), and read back in blocks of
        ``ChildGenerator.parents_per_block`` parents: memory holds one block's parents and
        children, whatever the size of the parent table. Block ``i`` draws from its own seeded
        stream, so the rows depend on the seed, not on the speed of the consumer.
        """
        child = ctx.generator.child
        by_name = {c.name: c for c in self.staged_columns}
        missing = [c for c in child.parent_columns if c not in by_name]
        if missing:
            raise ConfigError(f"model {ctx.request.model}: the parent's staged table "
                              f"{label(*self.parent.staging)} has no column "
                              f"{', '.join(map(repr, missing))}; rebuild {self.parent.model}")
        columns = [by_name[c] for c in child.parent_columns]
        fh, self.n_parents = pgio.spool(ctx.conn, sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
            qualified(*self.parent.staging)))
        blocks = pgio.spooled_frames(fh, columns, child.parents_per_block())
        expected = int(self.n_parents * child.counts_.mean_count_)
        return stages.write_frames(ctx, child.sample_chunks(blocks, ctx.seed), expected)


class _ChildTable:
    """The run's generator: a ChildGenerator bound to the parent's real and synthetic rows."""

    def __init__(self, child: Any, mode: Child, ctx: stages.RunContext) -> None:
        self.child = child
        self.mode = mode
        self.ctx = ctx

    def fit(self, frame: pd.DataFrame, specs: list[Any], subjects: Any = None) -> _ChildTable:
        """``subjects``: each training row's owner (Child._owners), for the rare-value rule."""
        cfg = self.ctx.cfg
        self.child.fit(self.mode.train_parents, frame, self.mode.parent.key, cfg.parent["key"],
                       self.mode.parent_specs, specs, child_key=cfg.key,
                       parent_keys=tuple(k for k in (self.mode.parent.foreign_key,) if k),
                       subjects=subjects)
        return self

    def describe(self) -> dict[str, Any]:
        out = self.child.describe()
        out["parent"] = {"model": self.mode.parent.model,
                         "staging": label(*self.mode.parent.staging),
                         "rows": getattr(self.mode, "n_parents", None)}
        out["privacy"] = (out.get("attributes") or {}).get("privacy", {})
        return out


def default_method(cfg: Any) -> str | None:
    """The generator method a table's config falls back to when ``synth.generator`` names none:
    ``KEYED_DEFAULT_METHOD`` for a keyed root table (``Keyed``; the registry says why), None
    (the registry's default) for every other table. The run and the precheck both ask here."""
    return KEYED_DEFAULT_METHOD if cfg.key and not cfg.parent else None


def mode_for(cfg: Any) -> Synthesize | None:
    """The related-table variant of ``synthesize`` the config asks for, or None."""
    if cfg.mode != "synthesize":
        return None
    if cfg.parent:
        return Child()
    if cfg.key:
        return Keyed()
    return None
