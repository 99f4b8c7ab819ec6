"""The metric rows one run stores: privacy checks in SQL on the staged table, leakage on samples.

Each row is ``{check, metric, value, threshold, passed, details}``; ``passed`` None marks an
informational row. The gate (audit.verdict), the dbt tests and publish all read these rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from psycopg import sql

from synthdb.release import sqlchecks

if TYPE_CHECKING:
    from synthdb.release.synthesize import SynthesisRequest

REPORT_KEYS = ("target", "protected_attributes", "min_group_size")


def privacy_rows(counts: dict[str, Any], request: SynthesisRequest, rare: list[str],
                 suppressed: int, n_written: int, rare_suppressed: int = 0
                 ) -> list[dict[str, Any]]:
    """k-anonymity and rare-category rows from the staged table's class counts.

    ``counts`` is sqlchecks.class_counts of the whole staged table (one scan for every check);
    the dbt tests compare their thresholds with these stored figures. ``suppressed`` counts
    every deleted row, ``rare_suppressed`` those deleted for a rare value (stages.check).
    """
    privacy = request.config.privacy
    rows: list[dict[str, Any]] = []
    if privacy.quasi_identifiers:
        stats = counts["k_anonymity"]
        rows.append({
            "check": "k_anonymity", "metric": "min_class_size",
            "value": stats["min_class_size"], "threshold": privacy.k,
            "passed": stats["classes_below_k"] == 0 and stats["rows"] > 0,
            "details": {**stats, "quasi_identifiers": privacy.quasi_identifiers,
                        "suppressed_rows": suppressed},
        })
        rows.append({
            "check": "k_anonymity", "metric": "suppressed_share",
            "value": suppressed / n_written if n_written else 0.0,
            "threshold": privacy.max_suppression,
            "passed": n_written > 0 and suppressed / n_written <= privacy.max_suppression,
            "details": {"suppressed_rows": suppressed, "written_rows": n_written},
        })
    else:
        rows.append({
            "check": "k_anonymity", "metric": "quasi_identifiers_declared", "value": 0,
            "threshold": 1, "passed": False,
            "details": {"reason": "no quasi-identifiers declared in synth.privacy; "
                        "k-anonymity cannot be verified (fail-closed)"},
        })
    for column in rare:
        stats = counts["rare"][column]
        rows.append({
            "check": "rare_categories", "metric": f"rare_values:{column}",
            "value": stats["rare_values"], "threshold": 0, "passed": stats["rare_values"] == 0,
            "details": {**stats, "column": column, "min_count": privacy.rare_min_count},
        })
    rows.append({
        "check": "rare_categories", "metric": "columns_checked", "value": len(rare),
        "threshold": None, "passed": None,
        "details": {"columns": rare, "suppressed_rows": rare_suppressed},
    })
    return rows


def rare_checked_columns(request: SynthesisRequest, specs, mock: set[str]) -> list[str]:
    """``synth.privacy.rare_columns``, or every categorical/boolean column not mocked."""
    rare_columns = request.config.privacy.rare_columns
    if rare_columns is not None:
        return rare_columns
    return [s.name for s in specs if s.kind in ("categorical", "boolean") and s.name not in mock]


def subject_privacy_rows(conn, table: sql.Composable, subject: str, request: SynthesisRequest,
                         specs, mock: set[str]) -> list[dict[str, Any]]:
    """k-anonymity and rare values counted in distinct subjects, where the rows are real.

    ``table`` holds exactly the staged rows plus their subject (after suppression). Without
    quasi-identifiers the row-level check already fails closed, so no subject row is added.
    """
    privacy = request.config.privacy
    rows: list[dict[str, Any]] = []
    if privacy.quasi_identifiers:
        stats = sqlchecks.k_anonymity(conn, table, privacy.quasi_identifiers, privacy.k, subject)
        rows.append({
            "check": "k_anonymity", "metric": "min_subjects_per_class",
            "value": stats["min_class_size"], "threshold": privacy.k,
            "passed": stats["classes_below_k"] == 0 and stats["rows"] > 0,
            "details": {**stats, "quasi_identifiers": privacy.quasi_identifiers,
                        "counted": "distinct subjects (synth.privacy.subject)"},
        })
    return rows + rare_subject_rows(conn, table, subject,
                                    rare_checked_columns(request, specs, mock),
                                    privacy.rare_min_count,
                                    "distinct subjects (synth.privacy.subject)")


def rare_subject_rows(conn, table: sql.Composable, subject: str, columns: list[str],
                      min_subjects: int, counted: str) -> list[dict[str, Any]]:
    """``rare_categories.rare_subject_values:<column>``: values of ``columns`` held by fewer
    than ``min_subjects`` distinct ``subject`` values, counted in SQL on the whole ``table``."""
    rows = []
    for column in columns:
        stats = sqlchecks.rare_categories(conn, table, column, min_subjects, subject)
        rows.append({
            "check": "rare_categories", "metric": f"rare_subject_values:{column}",
            "value": stats["rare_values"], "threshold": 0, "passed": stats["rare_values"] == 0,
            "details": {**stats, "column": column, "min_subjects": min_subjects,
                        "counted": counted},
        })
    return rows


@dataclass
class EarlyBaseline:
    """ML utility's train-on-real half for one run, computed before the synthetic rows exist.

    It needs only the training input, so the run fits it in a thread from the end of the read
    stage (synthdb.release.modes.Synthesize.start_early_metrics) while the rows are generated
    and checked; ``leakage_rows`` then fits only the synthetic half. It is used only for the
    very frames it was made from (identity, kept columns); otherwise, or if it failed, the
    leakage stage computes it as before, so an error surfaces where it always did.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    keep: list[str]
    target: str
    sample_size: int
    seed: int
    job: Any = None  # the running computation (``.result()``)

    @classmethod
    def of(cls, train: pd.DataFrame, holdout: pd.DataFrame, request: SynthesisRequest,
           mock: set[str], seed: int) -> EarlyBaseline | None:
        """The run's baseline to compute, or None where the report has no ML utility."""
        target = request.config.report.get("target")
        keep = _kept_columns(train, mock)
        if not target or len(holdout) < 5 or not keep:
            return None
        return cls(train, holdout, keep, target, request.config.privacy.sample_size,
                   seed % 2**32)

    def compute(self):
        """The train-on-real model's score (synthdb.metrics.ml.ml_baseline), as report_metrics
        would compute it from the same frames."""
        from synthdb.metrics.gate import align_frames
        from synthdb.metrics.ml import ml_baseline

        train, holdout = self.train[self.keep], self.holdout[self.keep]
        holdout, _ = align_frames(train, holdout, holdout)
        return ml_baseline(train, holdout, self.target, self.sample_size, self.seed)

    def result_for(self, train: pd.DataFrame, holdout: pd.DataFrame, keep: list[str]):
        """The computed baseline if it was made from these frames and succeeded, else None."""
        if self.job is None or self.train is not train or self.holdout is not holdout \
                or self.keep != keep:
            return None
        try:
            return self.job.result()
        except Exception:  # recomputed in the leakage stage, which raises it there
            return None


def _kept_columns(train: pd.DataFrame, mock: set[str]) -> list[str]:
    """The columns the leakage metrics compare (mocked ones are never learned)."""
    return [c for c in train.columns if c not in mock]


def leakage_rows(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 request: SynthesisRequest, mock: set[str], seed: int,
                 subjects: tuple[Any, Any] | None = None, early: EarlyBaseline | None = None,
                 on_fidelity: Callable[[dict], None] | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Gated leakage rows plus the full report metrics, from one neighbour search.

    With ``subjects`` (of the train and holdout rows; the split is by subject), membership
    inference is also measured on subjects: a subject's distance to the synthetic rows is that
    of its nearest row (docs/subjects.md). ``early``: ML utility's train-on-real half, started
    during the run (same figures, computed earlier). ``on_fidelity``: ``report_metrics``'s
    (the report's data sections are drawn from it meanwhile).
    """
    from synthdb.metrics import report_metrics

    privacy = request.config.privacy
    keep = _kept_columns(train, mock)
    if len(holdout) < 5 or not keep:
        return [{
            "check": "no_leakage", "metric": "holdout_rows", "value": len(holdout),
            "threshold": 5, "passed": False,
            "details": {"reason": "too few rows to hold out for leakage checks (fail-closed)"},
        }], {}
    config = {
        "quasi_identifiers": [], "k": 1, "rare_columns": [], "rare_min_count": 1,
        "dcr_share_max": privacy.dcr_share_max,
        "identical_match_tolerance": privacy.identical_match_tolerance,
        "mia_advantage_max": privacy.mia_advantage_max, "sample_size": privacy.sample_size,
        "seed": seed % 2**32,
        **{k: v for k, v in request.config.report.items() if k in REPORT_KEYS},
    }
    baseline = early.result_for(train, holdout, keep) if early is not None else None
    full = report_metrics(train[keep], holdout[keep], synthetic[keep], config,
                          ml_baseline=baseline, on_fidelity=on_fidelity)
    rows = [
        {"check": r["check"], "metric": r["metric"], "value": r["value"],
         "threshold": r["threshold"], "passed": r["passed"], "details": r["details"]}
        for r in full["gate"] if r["check"] in ("no_leakage", "utility")
    ]
    if subjects is not None:
        rows.append(subject_membership_row(train[keep], holdout[keep], synthetic[keep],
                                           subjects, request, seed))
    rows += utility_threshold_rows(train[keep], holdout[keep], synthetic[keep], request, seed)
    return rows, full


def subject_membership_row(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                           subjects: tuple[Any, Any], request: SynthesisRequest,
                           seed: int) -> dict[str, Any]:
    """The gated membership-inference row on subjects (fail-closed below 5 per side)."""
    from synthdb.metrics.subjects import subject_membership

    privacy = request.config.privacy
    found = subject_membership(train, holdout, synthetic, subjects[0], subjects[1],
                               privacy.sample_size, seed % 2**32)
    if found["members"] < 5:
        return {"check": "no_leakage", "metric": "mia_advantage_subjects", "value": None,
                "threshold": privacy.mia_advantage_max, "passed": False,
                "details": {**found, "reason": "too few subjects on each side of the split for "
                            "membership inference on subjects (fail-closed)"}}
    return {"check": "no_leakage", "metric": "mia_advantage_subjects",
            "value": found["advantage"], "threshold": privacy.mia_advantage_max,
            "passed": found["advantage"] <= privacy.mia_advantage_max, "details": found}


def utility_threshold_rows(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                           request: SynthesisRequest, seed: int) -> list[dict[str, Any]]:
    """Gated rows of the model's declared utility thresholds (``synth.utility``)."""
    from synthdb.metrics.utility_checks import parse_utility, utility_rows

    where = f"model {request.model}: config synth.utility"
    thresholds = parse_utility(request.config.utility or None, where)
    found = utility_rows(train, holdout, synthetic, thresholds, request.model,
                         request.config.privacy.sample_size, seed % 2**32)
    return [{"check": r.check, "metric": r.metric, "value": r.value, "threshold": r.threshold,
             "passed": r.passed, "details": r.details} for r in found]
