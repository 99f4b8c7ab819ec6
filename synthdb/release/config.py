"""Release settings read from dbt model config, validated with messages that name the model.

Defaults are the safe ones (DESIGN: "when unsure, choose the safer default"): privacy checks on,
k-anonymity suppression capped, fresh randomness per release, and the source's schemas protected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from synthdb.errors import ConfigError

MODES = ("synthesize", "mock", "deidentify")


@dataclass
class PrivacyConfig:
    """Thresholds of the privacy gate; tests attached to the model may only make them stricter."""

    quasi_identifiers: list[str] = field(default_factory=list)
    k: int = 5
    max_suppression: float = 0.05  # share of rows k-anonymity suppression may remove
    rare_columns: list[str] | None = None  # None: every categorical column
    rare_min_count: int = 10
    dcr_share_max: float = 0.55
    identical_match_tolerance: float = 0.0
    mia_advantage_max: float = 0.10
    sample_size: int = 10_000  # rows per set for distance metrics (DCR share sd ≈ 0.005)
    # The person/entity the rows are about: a contract column that is counted, never released
    # (docs/subjects.md). None: every check counts rows.
    subject: str | None = None


@dataclass
class SynthConfig:
    """Config key ``synth`` of a model materialized as ``synthetic``."""

    source: str
    mode: str = "synthesize"
    rows: int | None = None  # None: as many rows as the source
    seed: int | None = None  # None: fresh randomness each release (recorded in the run row)
    holdout: float = 0.2
    max_train_rows: int = 200_000
    chunk_size: int = 100_000
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    utility: dict[str, Any] = field(default_factory=dict)  # thresholds that can block publish
    protected_schemas: list[str] = field(default_factory=list)
    evidence_dir: str = "evidence"
    validate_contract: bool = True  # lint + drift check of the contract before reading it
    report: dict[str, Any] = field(default_factory=dict)  # target, protected_attributes
    recipient: str | None = None  # whose privacy budget a DP run debits (besides the source's)
    # related tables (synthdb.release.related): this table's key column, filled with fresh
    # random values in every release, and the parent synthetic model whose synthetic rows this
    # table's rows belong to ({'model': 'synthetic_planes', 'key': 'tailnum'}: key = this
    # table's column holding the parent's key)
    key: str | None = None
    parent: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """A stable hash of the settings, recorded with each run."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_keys(raw: dict[str, Any], cls: type, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _number(value: Any, where: str, lo: float, hi: float, integer: bool = False) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{where} must be {kind} between {lo} and {hi}, got {value!r}")
    return value


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of column names, got {value!r}")
    return list(value)


# Built-in limits no setting can loosen (issue 12: `identical_match_tolerance: 1.0,
# sample_size: 100` used to be accepted), on top of the project's own floors (synthdb_floors).
# k and rare_min_count 2: a class or value of one is a person. dcr_share_max 0.75: three in four
# synthetic rows closer to training than to holdout rows is memorisation, not noise.
# mia_advantage_max 0.3 and identical_match_tolerance 0.05 (at most 5 points more synthetic
# rows identical to a training row than the holdout has). sample_size 1,000: below it the DCR
# share's standard deviation (about 0.016) is a third of the margin the gate has to resolve.
HARD_LIMITS = {"k": 2, "rare_min_count": 2, "dcr_share_max": 0.75, "mia_advantage_max": 0.3,
               "identical_match_tolerance": 0.05, "sample_size": 1000}


def parse_privacy(raw: Any, where: str) -> PrivacyConfig:
    if raw is None:
        return PrivacyConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    _check_keys(raw, PrivacyConfig, where)
    cfg = PrivacyConfig(**raw)
    cfg.quasi_identifiers = _names(cfg.quasi_identifiers, f"{where}.quasi_identifiers")
    if cfg.rare_columns is not None:
        cfg.rare_columns = _names(cfg.rare_columns, f"{where}.rare_columns")
    if cfg.subject is not None and (not isinstance(cfg.subject, str) or not cfg.subject):
        raise ConfigError(f"{where}.subject must be one column name (the person or entity the "
                          f"rows are about), got {cfg.subject!r}")
    _number(cfg.k, f"{where}.k", HARD_LIMITS["k"], 10**9, integer=True)
    _number(cfg.max_suppression, f"{where}.max_suppression", 0, 0.5)
    _number(cfg.rare_min_count, f"{where}.rare_min_count", HARD_LIMITS["rare_min_count"], 10**9,
            integer=True)
    _number(cfg.dcr_share_max, f"{where}.dcr_share_max", 0.5, HARD_LIMITS["dcr_share_max"])
    _number(cfg.identical_match_tolerance, f"{where}.identical_match_tolerance", 0,
            HARD_LIMITS["identical_match_tolerance"])
    _number(cfg.mia_advantage_max, f"{where}.mia_advantage_max", 0,
            HARD_LIMITS["mia_advantage_max"])
    _number(cfg.sample_size, f"{where}.sample_size", HARD_LIMITS["sample_size"], 10**8,
            integer=True)
    return cfg


def parse_synth_config(raw: Any, model: str) -> SynthConfig:
    """Validate the ``synth`` config of ``model``; raises ConfigError naming model and key."""
    where = f"model {model}: config synth"
    if not isinstance(raw, dict) or not raw.get("source"):
        raise ConfigError(
            f"{where} needs 'source': the name of the contract model to learn from, e.g. "
            "config(materialized='synthetic', synth={'source': 'contract_customers'})"
        )
    _check_keys(raw, SynthConfig, where)
    values = dict(raw)
    privacy = parse_privacy(values.pop("privacy", None), f"{where}.privacy")
    cfg = SynthConfig(**values, privacy=privacy)
    if cfg.mode not in MODES:
        raise ConfigError(f"{where}.mode must be one of {', '.join(MODES)}, got {cfg.mode!r}")
    if cfg.rows is not None:
        _number(cfg.rows, f"{where}.rows", 1, 10**10, integer=True)
    if cfg.seed is not None:
        _number(cfg.seed, f"{where}.seed", 0, 2**63 - 1, integer=True)
    _number(cfg.holdout, f"{where}.holdout", 0.05, 0.5)
    _number(cfg.max_train_rows, f"{where}.max_train_rows", 100, 10**9, integer=True)
    _number(cfg.chunk_size, f"{where}.chunk_size", 100, 10**8, integer=True)
    from synthdb.metrics.utility_checks import parse_utility

    parse_utility(cfg.utility or None, f"{where}.utility")  # refuse bad thresholds up front
    if not isinstance(cfg.columns, dict):
        raise ConfigError(f"{where}.columns must be a mapping of column name to settings")
    cfg.protected_schemas = _names(cfg.protected_schemas or [], f"{where}.protected_schemas") \
        if cfg.protected_schemas else []
    if not isinstance(cfg.evidence_dir, str) or Path(cfg.evidence_dir).is_absolute() \
            or ".." in Path(cfg.evidence_dir).parts:
        raise ConfigError(f"{where}.evidence_dir {cfg.evidence_dir!r} leaves the project "
                          "folder; use a relative path inside it, e.g. 'evidence'")
    if cfg.recipient is not None:
        from synthdb.governance.roles import check_recipient_name

        check_recipient_name(cfg.recipient)
    _check_relation(cfg, where)
    return cfg


def _check_relation(cfg: SynthConfig, where: str) -> None:
    """``synth.key`` is a column name; ``synth.parent`` names a model and this table's column."""
    if cfg.key is not None and (not isinstance(cfg.key, str) or not cfg.key):
        raise ConfigError(f"{where}.key must be the name of this table's key column")
    if cfg.parent is None:
        return
    parent = cfg.parent
    if (not isinstance(parent, dict) or set(parent) != {"model", "key"}
            or not all(isinstance(v, str) and v for v in parent.values())):
        raise ConfigError(
            f"{where}.parent must be {{'model': <parent synthetic model>, 'key': <this table's "
            "column holding the parent's key>}}, e.g. {'model': 'synthetic_planes', "
            "'key': 'tailnum'}")
    if parent["key"] == cfg.key:
        raise ConfigError(f"{where}: parent key {parent['key']!r} cannot also be this table's "
                          "own key (synth.key)")
    if cfg.mode != "synthesize":
        raise ConfigError(f"{where}.parent needs mode 'synthesize' (children are generated in "
                          f"the context of the synthetic parent), got {cfg.mode!r}")


FLOOR_KEYS = {  # key: True when larger is stricter
    "k": True, "rare_min_count": True, "dcr_share_max": False, "mia_advantage_max": False,
    "max_suppression": False, "identical_match_tolerance": False, "sample_size": True,
}


def check_floors(cfg: PrivacyConfig, floors: Any, model: str) -> None:
    """Refuse thresholds weaker than the project's floors (dbt var ``synthdb_floors``)."""
    if not floors:
        return
    if not isinstance(floors, dict):
        raise ConfigError("dbt var synthdb_floors must be a mapping such as {k: 5, dcr_share_max: 0.55}")
    unknown = sorted(set(floors) - set(FLOOR_KEYS))
    if unknown:
        raise ConfigError(f"dbt var synthdb_floors: unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(FLOOR_KEYS))}")
    for key, larger_is_stricter in FLOOR_KEYS.items():
        if key not in floors:
            continue
        value, floor = getattr(cfg, key), floors[key]
        weaker = value < floor if larger_is_stricter else value > floor
        if weaker:
            relation = "below" if larger_is_stricter else "above"
            raise ConfigError(
                f"model {model}: synth.privacy.{key} = {value} is {relation} the floor {floor} "
                "set by the project (dbt var synthdb_floors); a release may only be stricter")


# (test name, test argument, config key, True when larger is stricter)
_TEST_THRESHOLDS = (("k_anonymity", "k", "k", True),
                    ("rare_categories", "min_count", "rare_min_count", True),
                    ("no_leakage", "dcr_share_max", "dcr_share_max", False),
                    ("no_leakage", "mia_advantage_max", "mia_advantage_max", False))


def looser_tests(cfg: PrivacyConfig, tests: list[dict[str, Any]], model: str) -> list[str]:
    """One warning per attached test threshold looser than the model's config.

    The gate enforces the stricter value either way (tighten_with_tests); a looser test is
    still reported because whoever wrote it believes the release is held to that number.
    """
    out = []
    for test in tests:
        kwargs = test.get("kwargs") or {}
        for name, arg, key, larger_is_stricter in _TEST_THRESHOLDS:
            value = kwargs.get(arg)
            if test.get("name") != name or isinstance(value, bool) or not isinstance(
                    value, int | float):
                continue
            mine = getattr(cfg, key)
            if (value < mine) if larger_is_stricter else (value > mine):
                out.append(f"model {model}: test {name} sets {arg} = {value}, looser than the "
                           f"model's synth.privacy.{key} = {mine}; the gate enforces {mine}")
    return out


def tighten_with_tests(cfg: PrivacyConfig, tests: list[dict[str, Any]]) -> PrivacyConfig:
    """Merge thresholds of synthdb tests attached to the model; the stricter value wins.

    ``tests`` are (name, kwargs) of generic tests found in the dbt graph. Values that are still
    Jinja (``"{{ var(...) }}"``) cannot be read here and are left to the config.
    """
    for test in tests:
        name, kwargs = test.get("name"), test.get("kwargs") or {}

        def literal(key: str, kwargs: dict[str, Any] = kwargs) -> Any:
            value = kwargs.get(key)
            return None if isinstance(value, str) and "{{" in value else value

        if name == "k_anonymity":
            if isinstance(literal("k"), int):
                cfg.k = max(cfg.k, literal("k"))
            qis = literal("quasi_identifiers")
            if isinstance(qis, list):
                cfg.quasi_identifiers = list(dict.fromkeys([*cfg.quasi_identifiers, *qis]))
        elif name == "rare_categories":
            if isinstance(literal("min_count"), int):
                cfg.rare_min_count = max(cfg.rare_min_count, literal("min_count"))
            cols = literal("columns")
            if isinstance(cols, list) and cfg.rare_columns is not None:
                cfg.rare_columns = list(dict.fromkeys([*cfg.rare_columns, *cols]))
        elif name == "no_leakage":
            if isinstance(literal("dcr_share_max"), int | float):
                cfg.dcr_share_max = min(cfg.dcr_share_max, literal("dcr_share_max"))
            if isinstance(literal("mia_advantage_max"), int | float):
                cfg.mia_advantage_max = min(cfg.mia_advantage_max, literal("mia_advantage_max"))
    return cfg
