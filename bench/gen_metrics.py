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
        return {"error": f"{fn.__name__}: {type(exc).__name__}: {exc}"[:200]}


def qa_inputs(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as mostlyai-qa should see it, built the same way for every method.

    mostlyai-qa (1.10) treats a column as numeric/datetime only if ``is_datetime64_dtype`` holds,
    which is false for ``datetime64[ns, tz]``: a tz-aware column is embedded as *text* (every
    synthetic timestamp becomes one rare token) and its Parquet writer crashes on the Timestamp
    objects (flights). So timestamps become tz-naive local wall time. Text NULLs become ``None``
    in every frame, so ``astype(str)`` maps NULL to the same token ('None', never 'nan').
    """
    out = df.copy()
    for c in out.columns:
        dt = out[c].dtype
        if getattr(dt, "tz", None) is not None:
            out[c] = out[c].dt.tz_localize(None)
        elif not (
            pd.api.types.is_numeric_dtype(dt)
            or pd.api.types.is_bool_dtype(dt)
            or pd.api.types.is_datetime64_any_dtype(dt)
        ):
            col = out[c].astype(object)
            out[c] = col.where(col.notna(), None)
    return out


def mostly_qa(synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame, max_rows: int) -> dict:
    """mostlyai-qa's report as is: accuracy, and the DCR share of its single (unseeded) draw."""
    import mostlyai.qa as qa
    from threadpoolctl import threadpool_limits

    # one OpenMP thread: its discriminator (HistGradientBoosting) spin-waits on every thread,
    # and on 2 shared cores under load that took minutes per dataset instead of seconds
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1, user_api="openmp"):
        _, m = qa.report(
            syn_tgt_data=qa_inputs(synth),
            trn_tgt_data=qa_inputs(train),
            hol_tgt_data=qa_inputs(hold),
            report_path=f"{tmp}/r.html",
            max_sample_size_accuracy=max_rows,
            max_sample_size_embeddings=min(max_rows, 5000),
        )
    d = m.model_dump()
    return {
        "qa_accuracy": d["accuracy"]["overall"],
        "qa_univariate": d["accuracy"]["univariate"],
        "qa_bivariate": d["accuracy"]["bivariate"],
        "qa_trivariate": d["accuracy"].get("trivariate"),
        # the reference: the accuracy a same-sized holdout of real rows reaches (the ceiling)
        "qa_accuracy_holdout": d["accuracy"].get("overall_max"),
        "dcr_share": d["distances"]["dcr_share"],
        "ims_training": d["distances"]["ims_training"],
        "ims_holdout_own": d["distances"]["ims_trn_hol"],
    }


def dcr_share_draws(
    synth: pd.DataFrame,
    train: pd.DataFrame,
    hold: pd.DataFrame,
    n_draws: int = 5,
    sample_size: int = 5000,
) -> dict:
    """mostlyai-qa's DCR share repeated on ``n_draws`` seeded samples (about 1 s each).

    One draw is noisy (±3 points on identical data): it is the maximum over up to seven column
    groups (all, three correlated, three random) of 5,000-row samples, all drawn from numpy's
    global RNG. Draw ``r`` seeds that RNG with ``1000 + r``, so the figures repeat. Reported: the
    mean, min and max of the final (max-over-groups) share, and the mean share on all columns
    together, which has no column-group maximum in it. Also the share of synthetic rows identical
    to a training row on all columns, and the holdout's own share: the qa report's identical-match
    figures belong to whichever column group had the largest DCR share in its one draw (a group
    of three columns repeats often), so they move with that group.
    """
    from mostlyai.qa._distances import (
        calculate_dcr_share,
        calculate_dcrs_nndrs,
        calculate_distances,
    )
    from mostlyai.qa._sampling import prepare_data_for_embeddings

    syn, trn, hol = qa_inputs(synth), qa_inputs(train), qa_inputs(hold)
    finals, all_cols, ims_syn, ims_hol = [], [], [], []
    for r in range(n_draws):
        np.random.seed(1000 + r)
        syn_e, trn_e, hol_e = prepare_data_for_embeddings(
            syn_tgt_data=syn, trn_tgt_data=trn, hol_tgt_data=hol, max_sample_size=sample_size
        )
        d = calculate_distances(syn_embeds=syn_e, trn_embeds=trn_e, hol_embeds=hol_e)
        finals.append(float(calculate_dcr_share(d["dcr_syn_trn"], d["dcr_syn_hol"])))
        # the all-columns group, recomputed (deterministic: no sampling, exact neighbours)
        to_trn, _ = calculate_dcrs_nndrs(data=trn_e, query=syn_e)
        to_hol, _ = calculate_dcrs_nndrs(data=hol_e, query=syn_e)
        all_cols.append(float(calculate_dcr_share(to_trn, to_hol)))
        hol_to_trn, _ = calculate_dcrs_nndrs(data=trn_e, query=hol_e)
        ims_syn.append(float(np.mean(to_trn <= 1e-6)))
        ims_hol.append(float(np.mean(hol_to_trn <= 1e-6)))
    return {
        "dcr_share_mean5": float(np.mean(finals)),
        "dcr_share_min5": float(np.min(finals)),
        "dcr_share_max5": float(np.max(finals)),
        "dcr_share_all_cols_mean5": float(np.mean(all_cols)),
        "dcr_share_draws": [round(x, 4) for x in finals],
        "ims_all_cols_mean5": float(np.mean(ims_syn)),
        "ims_all_cols_holdout_mean5": float(np.mean(ims_hol)),
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
    synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame, n_attacks: int, seed: int = 0
) -> dict:
    from anonymeter.evaluators import SinglingOutEvaluator

    np.random.seed(seed)  # anonymeter samples its targets from numpy's global RNG
    ev = SinglingOutEvaluator(
        ori=_numeric_times(train),
        syn=_numeric_times(synth),
        control=_numeric_times(hold),
        n_attacks=min(n_attacks, len(hold)),
    )
    ev.evaluate(mode="univariate")
    return {"singling_out_risk": float(ev.risk().value)}


def linkability(
    synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame, n_attacks: int, seed: int = 0
) -> dict:
    """anonymeter linkability: can the synthetic rows re-join the two halves of a real record?

    The attacker holds the first half of the columns in one dataset and the second half in
    another; a link counts when both halves of a training record share one of their 10 nearest
    synthetic rows, measured against the same attack on holdout records (the control)."""
    from anonymeter.evaluators import LinkabilityEvaluator

    cols = list(train.columns)
    half = len(cols) // 2
    np.random.seed(seed)  # the targets are drawn with DataFrame.sample (global RNG)
    ev = LinkabilityEvaluator(
        ori=_numeric_times(train),
        syn=_numeric_times(synth),
        control=_numeric_times(hold),
        n_attacks=min(n_attacks, len(hold)),
        aux_cols=(cols[:half], cols[half:]),
        n_neighbors=10,
    )
    ev.evaluate(n_jobs=-1)
    return {"linkability_risk": float(ev.risk().value)}


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
    lean: bool = False,
) -> dict:
    def cap(df: pd.DataFrame) -> pd.DataFrame:
        return df.sample(n=max_rows, random_state=seed) if len(df) > max_rows else df

    s, t, h = cap(synth), cap(train), cap(hold)
    res: dict = {}
    errors: list[str] = []

    def add(d: dict) -> None:  # one failing metric must not hide another's error
        if "error" in d:
            errors.append(d.pop("error"))
        res.update(d)

    add(_guard(mostly_qa, s, t, h, max_rows))
    add(_guard(dcr_share_draws, s, t, h))
    if not lean:  # SDMetrics and linkability have no target; --lean leaves them out
        add(_guard(sdmetrics_quality, s, t))
    add(_guard(singling_out, s, t, h, n_attacks, seed))
    if not lean:
        add(_guard(linkability, s, t, h, n_attacks, seed))
    if time_col:  # cheap: on every row, not the capped sample
        add(_guard(calendar_tvd, synth, train, time_col))
    if derived:
        add(_guard(derived_agreement, synth, derived))
    if errors:
        res["error"] = "; ".join(errors)
    return res


def flights_signals(synth: pd.DataFrame, train: pd.DataFrame, hold: pd.DataFrame) -> dict:
    """The two signals an analyst checks first on flights (issue 13): the rank correlation of
    dep_delay and arr_delay, and the share of (carrier, origin, dest) rows whose route never
    occurs in training, for the synthetic rows and, as the reference, for the holdout's."""
    cols = ["carrier", "origin", "dest"]
    seen = pd.MultiIndex.from_frame(train[cols].dropna().drop_duplicates())

    def unseen(df: pd.DataFrame) -> float:
        key = pd.MultiIndex.from_frame(df[cols].dropna())
        return float((~key.isin(seen)).mean()) if len(key) else float("nan")

    def rho(df: pd.DataFrame) -> float:
        return float(df[["dep_delay", "arr_delay"]].corr(method="spearman").iloc[0, 1])

    return {
        "delay_rank_corr_real": rho(train),
        "delay_rank_corr": rho(synth),
        "unseen_routes_share": unseen(synth),
        "unseen_routes_share_holdout": unseen(hold),
    }
