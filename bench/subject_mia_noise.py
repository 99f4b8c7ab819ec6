"""Spread of membership inference on subjects when nothing person-specific can be learned.

People with 5 rows each (age band and region fixed per person, product and amount random), a
subject split, the default generator fitted with the subjects, then the subject-level attacker
(synthdb.metrics.subjects.subject_membership). Any advantage here is noise; its spread says how
many subjects the gate needs to resolve ``mia_advantage_max`` (docs/subjects.md).

Run: ``.venv/bin/python bench/subject_mia_noise.py`` (prints people, seed, DCR share, subject
advantage, subjects per side).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthdb.generators import default_generator
from synthdb.metrics.distances import compute_distances, dcr_share
from synthdb.metrics.subjects import subject_membership
from synthdb.release.training import split_by_subject


def visits(people: int, rows_each: int, rng: np.random.Generator) -> pd.DataFrame:
    person = np.repeat(np.arange(people), rows_each)
    return pd.DataFrame({
        "person": person.astype(str),
        "age_band": np.array(["30-39", "40-49", "50-59", "20-29"])[person % 4],
        "region": np.array(["north", "south", "east"])[(person // 4) % 3],
        "product": rng.choice(list("abcd"), len(person)),
        "amount": np.round(rng.random(len(person)) * 100, 2),
    })


def main() -> None:
    for people in (600, 1200, 2400):
        for seed in range(4):
            frame = visits(people, 5, np.random.default_rng(seed))
            train, hold, t_sub, h_sub = split_by_subject(frame, "person", 0.2, seed)
            model = default_generator(random_state=seed, rare_min_count=10)
            synthetic = model.fit(train, subjects=t_sub).sample(len(frame), seed=seed)
            share = dcr_share(compute_distances(train, hold, synthetic, 10_000, seed))
            found = subject_membership(train, hold, synthetic, t_sub, h_sub, 10_000, seed)
            print(f"{people:5d} people  seed {seed}  dcr_share {share:.3f}  "
                  f"subject advantage {found['advantage']:+.3f}  ({found['members']} per side)")


if __name__ == "__main__":
    main()
