"""Everything about a release's configuration that can be checked without reading a row.

Runs before the privacy budget is reserved (issue 12: inverted ``dp_bounds`` used to fail
*after* epsilon 1.0 was debited). Only data-independent facts are used — the settings and the
catalog's column names and types — so a refusal here says nothing about the data and costs
no budget. Checks that need the data (e.g. a number column without any bounds that the data
turns out to need) still happen at fit time, before any noise is drawn.
"""

from __future__ import annotations

import math
from typing import Any

from synthdb.errors import ConfigError
from synthdb.release.config import SynthConfig
from synthdb.release.pgio import PgColumn


def _bound(value: Any, column: PgColumn, where: str) -> float:
    if column.category == "D":
        from synthdb.generators import timeparts

        try:
            return float(timeparts.bound_micros(value))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {value!r} is not a date or timestamp") from exc
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    return float(value)


def check_dp_bounds(raw: Any, columns: list[PgColumn], model: str) -> None:
    """``synth.generator.dp_bounds``: a mapping of existing columns to ``[lo, hi]``, lo < hi."""
    where = f"model {model}: config synth.generator.dp_bounds"
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of column name to [lo, hi]")
    by_name = {c.name: c for c in columns}
    for name, pair in raw.items():
        column = by_name.get(name)
        if column is None:
            raise ConfigError(f"{where} names column {name!r}, which the training input does "
                              "not have")
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ConfigError(f"{where}.{name} must be [lo, hi], got {pair!r}")
        lo = _bound(pair[0], column, f"{where}.{name}")
        hi = _bound(pair[1], column, f"{where}.{name}")
        if not lo < hi:
            raise ConfigError(f"{where}.{name} must have lo < hi, got {list(pair)!r} "
                              "(inverted or empty bounds); no budget was spent")


def check_subject(cfg: SynthConfig, names: set[str], model: str) -> None:
    """``synth.privacy.subject``: a column of the input, counted only, so never also a column
    the release describes (quasi-identifier, rare-checked, per-column setting, report role)."""
    subject = cfg.privacy.subject
    if subject is None:
        return
    where = f"model {model}: config synth.privacy.subject"
    if subject not in names:
        raise ConfigError(f"{where} names column {subject!r}, which the training input does "
                          "not have (the contract must select the subject column; it is counted "
                          "and never released)")
    privacy = cfg.privacy
    uses = [("synth.privacy.quasi_identifiers", privacy.quasi_identifiers),
            ("synth.privacy.rare_columns", privacy.rare_columns or []),
            ("synth.columns", list(cfg.columns)),
            ("synth.generator.dp_bounds", list(cfg.generator.get("dp_bounds") or {})
             if isinstance(cfg.generator.get("dp_bounds"), dict) else []),
            ("synth.report", [v for v in cfg.report.values() if isinstance(v, str)]
             + [x for v in cfg.report.values() if isinstance(v, list) for x in v])]
    for key, listed in uses:
        if subject in listed:
            raise ConfigError(f"{where}: column {subject!r} is the subject, which is counted and "
                              f"never released, so it cannot also be in {key}")
    if len(names) < 2:
        raise ConfigError(f"{where}: column {subject!r} is the only column of the training "
                          "input; nothing would be released")


def check_release_config(cfg: SynthConfig, columns: list[PgColumn], model: str) -> None:
    """Refuse a configuration that cannot produce a release, before any budget is reserved."""
    names = {c.name for c in columns}
    privacy = cfg.privacy

    def known(listed: list[str] | None, key: str) -> None:
        missing = [c for c in listed or [] if c not in names]
        if missing:
            raise ConfigError(f"model {model}: config synth.{key} names column(s) "
                              f"{', '.join(map(repr, missing))} that the training input does "
                              "not have")

    known(list(cfg.columns), "columns")
    known(privacy.quasi_identifiers, "privacy.quasi_identifiers")
    known(privacy.rare_columns, "privacy.rare_columns")
    check_subject(cfg, names, model)
    if cfg.mode == "mock" and cfg.rows is None:
        raise ConfigError(f"model {model}: mode 'mock' needs synth.rows")
    if getattr(cfg, "utility", None):
        from synthdb.metrics.utility_checks import parse_utility

        parse_utility(cfg.utility, f"model {model}: config synth.utility")
    if cfg.mode != "synthesize":
        return
    check_dp_bounds(cfg.generator.get("dp_bounds"), columns, model)
    from synthdb.generators import build_generator
    from synthdb.release.related import default_method

    params = dict(cfg.generator)
    fallback = default_method(cfg)  # the run's generator (synthdb.release.related.Keyed)
    if fallback is not None:
        params.setdefault("method", fallback)
    try:
        generator = build_generator(**params)
        check = getattr(generator, "_check_params", None)
        if check is not None:
            check()
    except ConfigError as exc:
        raise ConfigError(f"model {model}: config synth.generator: {exc}") from exc
