"""Membership inference on subjects: was this *person* in the training data?

With a subject declared, the train/holdout split is by subject, so every row of a subject is
on one side. A subject's distance to the synthetic data is the distance of its nearest row to
the closest synthetic row ("nearest row", not "all rows as one record": it needs no per-subject
feature vector and is what an attacker holding one of the person's records would use). The
attacker of ``distances.membership_inference`` then scores subjects instead of rows, on equally
many train and holdout subjects so a coin toss has advantage 0.

DCR share and identical matches need no subject version: with the split by subject, "closer to
a train row than to a holdout row" already compares the closest train subject (its nearest row)
with the closest holdout subject.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthdb.metrics.distances import _nearest_pairs, distance_attack
from synthdb.metrics.encoding import MixedEncoder


def _subjects_within(codes: np.ndarray, n_subjects: int, max_rows: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Subjects in random order, as many as fit ``max_rows`` rows (at least one)."""
    order = rng.permutation(n_subjects)
    sizes = np.bincount(codes, minlength=n_subjects)[order]
    fit = int(np.searchsorted(np.cumsum(sizes), max_rows, side="right"))
    return order[:max(fit, 1)]


def subject_membership(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                       train_subjects: Any, holdout_subjects: Any, sample_size: int = 10_000,
                       seed: int | None = 0, max_categories: int = 20) -> dict[str, Any]:
    """AUC and two-fold advantage of the nearest-row attacker on subjects.

    At most ``sample_size`` rows per side; ``members`` = ``non_members`` = subjects compared.
    A NULL subject is one subject (its rows are split together).
    """
    rng = np.random.default_rng(seed)
    t_codes, t_names = pd.factorize(pd.Series(train_subjects, dtype=object), use_na_sentinel=False)
    h_codes, h_names = pd.factorize(pd.Series(holdout_subjects, dtype=object),
                                    use_na_sentinel=False)
    t_pick = _subjects_within(t_codes, len(t_names), sample_size, rng)
    h_pick = _subjects_within(h_codes, len(h_names), sample_size, rng)
    m = min(len(t_pick), len(h_pick))
    if m < 2 or len(synthetic) == 0:
        return {"auc": None, "advantage": None, "members": m, "non_members": m,
                "rows": {"train": 0, "holdout": 0}}
    t_rows = np.flatnonzero(np.isin(t_codes, t_pick[:m]))
    h_rows = np.flatnonzero(np.isin(h_codes, h_pick[:m]))
    trn, hol = train.iloc[t_rows], holdout.iloc[h_rows]
    syn = synthetic[list(train.columns)]
    if len(syn) > sample_size:
        syn = syn.iloc[np.sort(rng.choice(len(syn), size=sample_size, replace=False))]
    enc = MixedEncoder(max_categories=max_categories).fit(pd.concat([trn, hol], ignore_index=True))
    x_syn = enc.transform(syn)
    nearest_trn = _nearest_pairs(enc.transform(trn), x_syn)[0]
    nearest_hol = _nearest_pairs(enc.transform(hol), x_syn)[0]
    member = pd.Series(nearest_trn).groupby(t_codes[t_rows]).min().to_numpy()
    non_member = pd.Series(nearest_hol).groupby(h_codes[h_rows]).min().to_numpy()
    found = distance_attack(member, non_member, seed)
    found["rows"] = {"train": int(len(t_rows)), "holdout": int(len(h_rows))}
    found["record"] = "nearest row of each subject"
    return found
