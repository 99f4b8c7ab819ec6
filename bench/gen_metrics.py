"""Quality and privacy scores from the public tools, each guarded so one failure does not stop the run."""

from __future__ import annotations

import tempfile
import traceback

import numpy as np
import pandas as pd


def _sdtype(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numerical"
    return "categorical"


def _guard(fn, *args, **kwargs) -> dict:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # report, keep going
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}


def mostly_qa(synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame, max_rows: int) -> dict:
    import mostlyai.qa as qa

    with tempfile.TemporaryDirectory() as tmp:
        _, m = qa.report(
            syn_tgt_data=synth,
            trn_tgt_data=train,
            hol_tgt_data=hold,
            report_path=f"{tmp}/r.html",
            max_sample_size_accuracy=max_rows,
            max_sample_size_embeddings=min(max_rows, 5000),
        )
    d = m.model_dump()
    return {
        "qa_accuracy": d["accuracy"]["overall"],
        "qa_univariate": d["accuracy"]["univariate"],
        "qa_bivariate": d["accuracy"]["bivariate"],
        "dcr_share": d["distances"]["dcr_share"],
        "ims_training": d["distances"]["ims_training"],
        "ims_holdout_own": d["distances"]["ims_trn_hol"],
    }


def sdmetrics_quality(synth: pd.DataFrame, real: pd.DataFrame) -> dict:
    from sdmetrics.reports.single_table import QualityReport

    meta = {"columns": {c: {"sdtype": _sdtype(real[c])} for c in real.columns}}
    rep = QualityReport()
    rep.generate(real, synth, meta, verbose=False)
    props = rep.get_properties().set_index("Property")["Score"]
    return {
        "sdm_overall": float(rep.get_score()),
        "sdm_shapes": float(props.get("Column Shapes", np.nan)),
        "sdm_pairs": float(props.get("Column Pair Trends", np.nan)),
    }


def _numeric_times(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
            out[c] = out[c].astype("int64") // 10**9
            out.loc[df[c].isna(), c] = np.nan
    return out


def singling_out(
    synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame, n_attacks: int
) -> dict:
    from anonymeter.evaluators import SinglingOutEvaluator

    ev = SinglingOutEvaluator(
        ori=_numeric_times(train),
        syn=_numeric_times(synth),
        control=_numeric_times(hold),
        n_attacks=min(n_attacks, len(hold)),
    )
    ev.evaluate(mode="univariate")
    return {"singling_out_risk": float(ev.risk().value)}


def lag_autocorr(daily: pd.Series, lag: int = 7) -> float:
    """Sample autocorrelation at ``lag`` of a daily count series (the usual ACF estimator)."""
    x = daily.to_numpy(dtype=float)
    x = x - x.mean()
    den = float(np.sum(x * x))
    return float(np.sum(x[:-lag] * x[lag:]) / den) if den > 0 and len(x) > lag else float("nan")


def daily_counts(ts: pd.Series, days: pd.DatetimeIndex) -> pd.Series:
    """Rows per calendar day (local date of a tz-aware column) over ``days``, zeros included."""
    d = ts.dropna()
    d = d.dt.tz_localize(None) if getattr(d.dtype, "tz", None) is not None else d
    return d.dt.normalize().value_counts().reindex(days, fill_value=0).sort_index()


def calendar_tvd(synth: pd.DataFrame, real: pd.DataFrame, col: str) -> dict:
    """Day-of-week, month and hour TVD (local time) and lag-7 autocorrelation of daily counts.

    Synthetic counts are scaled to the real total first (the ACF is scale-free anyway)."""
    out = {}
    for part in ("day_of_week", "month", "hour"):
        a = getattr(real[col].dropna().dt, part).value_counts(normalize=True)
        b = getattr(synth[col].dropna().dt, part).value_counts(normalize=True)
        out[f"tvd_{part}"] = 0.5 * float(a.subtract(b, fill_value=0).abs().sum())
    r = real[col].dropna()
    r = r.dt.tz_localize(None) if getattr(r.dtype, "tz", None) is not None else r
    days = pd.date_range(r.min().normalize(), r.max().normalize(), freq="D")
    out["lag7_acf_real"] = lag_autocorr(daily_counts(real[col], days))
    out["lag7_acf"] = lag_autocorr(daily_counts(synth[col], days))
    out["lag7_acf_diff"] = abs(out["lag7_acf"] - out["lag7_acf_real"])
    return out


def derived_agreement(synth: pd.DataFrame, derived: dict[str, tuple[str, str]]) -> dict:
    """Share of rows where each calculated column equals its part of the base (NULL = NULL)."""
    out = {}
    all_ok = pd.Series(True, index=synth.index)
    for col, (base, part) in derived.items():
        want = getattr(synth[base].dt, part)
        got = synth[col]
        ok = (got.astype(float) == want.astype(float)) | (got.isna() & want.isna())
        out[f"agree_{col}"] = float(ok.mean())
        all_ok &= ok
    out["agree_all"] = float(all_ok.mean())
    return out


def all_metrics(
    synth: pd.DataFrame,
    train: pd.DataFrame,
    hold: pd.DataFrame,
    time_col: str | None,
    max_rows: int,
    n_attacks: int,
    seed: int = 0,
    derived: dict[str, tuple[str, str]] | None = None,
) -> dict:
    def cap(df: pd.DataFrame) -> pd.DataFrame:
        return df.sample(n=max_rows, random_state=seed) if len(df) > max_rows else df

    s, t, h = cap(synth), cap(train), cap(hold)
    res: dict = {}
    res.update(_guard(mostly_qa, s, t, h, max_rows))
    res.update(_guard(sdmetrics_quality, s, t))
    res.update(_guard(singling_out, s, t, h, n_attacks))
    if time_col:  # cheap: on every row, not the capped sample
        res.update(_guard(calendar_tvd, synth, train, time_col))
    if derived:
        res.update(_guard(derived_agreement, synth, derived))
    return res
