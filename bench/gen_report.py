"""Render a ``generator_vs_sdv.py`` JSON result as the Markdown tables of bench/results/generator.md.

Usage: ``python bench/gen_report.py bench/results/generator.json > bench/results/generator.md``.
Only the figures of the run are printed; targets are judged with the same rules as the run.
"""

from __future__ import annotations

import json
import sys

METHODS = ("synthdb", "sdv", "marginals")
ROWS = [
    ("fit_s", "fit s"),
    ("sample_s", "sample s"),
    ("peak_rss_mb", "peak RSS MB"),
    ("qa_accuracy", "QA accuracy"),
    ("qa_univariate", "QA univariate"),
    ("qa_bivariate", "QA bivariate"),
    ("dcr_share", "DCR share"),
    ("ims_training", "identical to training"),
    ("ims_holdout_own", "identical, holdout's own"),
    ("sdm_overall", "SDMetrics overall"),
    ("sdm_shapes", "SDMetrics shapes"),
    ("sdm_pairs", "SDMetrics pairs"),
    ("singling_out_risk", "anonymeter singling-out"),
    ("tvd_day_of_week", "day-of-week TVD"),
    ("tvd_month", "month TVD"),
    ("tvd_hour", "hour TVD"),
    ("lag7_acf_real", "lag-7 ACF, real"),
    ("lag7_acf", "lag-7 ACF"),
    ("lag7_acf_diff", "lag-7 ACF abs diff"),
    ("agree_year", "year = year(time_hour)"),
    ("agree_month", "month = month(time_hour)"),
    ("agree_day", "day = day(time_hour)"),
    ("agree_hour", "hour = hour(time_hour)"),
    ("agree_all", "all four agree"),
]
QA_FLOOR = {"credit_data": 0.90, "CPS1988": 0.95}


def _fmt(v: object) -> str:
    if isinstance(v, (int, float)):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.0f}"
    return "–" if v is None else str(v)


def _targets(name: str, r: dict) -> list[tuple[str, bool]]:
    s, v, m = r.get("synthdb", {}), r.get("sdv", {}), r.get("marginals", {})
    out: list[tuple[str, bool]] = []
    if "qa_accuracy" in s:
        out += [
            ("QA accuracy > SDV", s["qa_accuracy"] > v.get("qa_accuracy", -1)),
            ("QA accuracy > marginals", s["qa_accuracy"] > m.get("qa_accuracy", -1)),
            ("DCR share ≤ 0.53", s["dcr_share"] <= 0.53),
            ("identical ≤ holdout's own", s["ims_training"] <= s["ims_holdout_own"]),
        ]
        if name in QA_FLOOR:
            out.append((f"QA accuracy ≥ {QA_FLOOR[name]}", s["qa_accuracy"] >= QA_FLOOR[name]))
    if "sdm_shapes" in s:
        out.append(("SDMetrics shapes ≥ 0.97", s["sdm_shapes"] >= 0.97))
    if "singling_out_risk" in s:
        out.append(("singling-out ≤ 0.10", s["singling_out_risk"] <= 0.10))
    for part in ("day_of_week", "month", "hour"):
        if f"tvd_{part}" in s:
            out.append((f"{part} TVD ≤ 0.03", s[f"tvd_{part}"] <= 0.03))
    if "lag7_acf_diff" in s:
        out.append(("lag-7 ACF within 0.1", s["lag7_acf_diff"] <= 0.1))
    if "agree_all" in s:
        out.append(("calculated columns consistent in 100% of rows", s["agree_all"] == 1.0))
    return out


def _speed(r: dict) -> str:
    s, v = r.get("synthdb", {}), r.get("sdv", {})
    if "fit_s" in s and "fit_s" in v:
        ratio = (v["fit_s"] + v["sample_s"]) / max(s["fit_s"] + s["sample_s"], 1e-9)
        return f"synthdb fit+sample is {ratio:.1f}x faster than SDV's on this dataset."
    return ""


def render(res: dict) -> str:
    lines: list[str] = []
    for name, d in res.items():
        if name == "scaling":
            continue
        r = d["results"]
        lines += [f"## {name} ({d['rows']:,} rows × {d['cols']} columns, 80/20 split)", ""]
        lines += ["| metric | synthdb | SDV | marginals |", "|---|---|---|---|"]
        for key, label in ROWS:
            if any(key in r.get(m, {}) for m in METHODS):
                cells = " | ".join(_fmt(r.get(m, {}).get(key)) for m in METHODS)
                lines.append(f"| {label} | {cells} |")
        errs = {m: r[m]["error"] for m in METHODS if "error" in r.get(m, {})}
        for m, e in errs.items():
            lines.append(f"\n{m}: a metric failed: `{e}`")
        lines += [
            "",
            "Targets (synthdb): "
            + "; ".join(f"{k}: **{'PASS' if ok else 'FAIL'}**" for k, ok in _targets(name, r)),
            "",
            _speed(r),
            "",
        ]
    sc = res.get("scaling")
    if sc:
        lines += ["## Scaling (flights resampled, 19 columns)", ""]
        lines += [
            "| run | training rows | rows sampled | fit s | sample s | fit+sample s | peak RSS MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, p in sc.items():
            if "fit_s" not in p:
                lines.append(f"| {key} | | | error: {p.get('error')} | | | |")
                continue
            lines.append(
                f"| {key} | {p.get('train_rows', 0):,} | {p.get('rows', 0):,} | {p['fit_s']:.1f} "
                f"| {p['sample_s']:.1f} | {p['fit_s'] + p['sample_s']:.1f} "
                f"| {p['peak_rss_mb']:.0f} |"
            )
        big = [k for k in sc if k.startswith("sdv_")]
        checks = []
        if big:
            n = big[0].split("_", 1)[1]
            s, v = sc.get(f"synthdb_{n}", {}), sc[big[0]]
            if "fit_s" in s and "fit_s" in v:
                ratio = (v["fit_s"] + v["sample_s"]) / (s["fit_s"] + s["sample_s"])
                checks.append((f"fit+sample {ratio:.1f}x faster than SDV (≥ 20x)", ratio >= 20))
                checks.append(
                    (f"peak RSS {s['peak_rss_mb']:.0f} MB ≤ 1024", s["peak_rss_mb"] <= 1024)
                )
        streams = sorted(
            (p["rows"], p["peak_rss_mb"])
            for k, p in sc.items()
            if k.startswith("synthdb_stream") and "peak_rss_mb" in p
        )
        if len(streams) == 2:
            (n1, r1), (n2, r2) = streams
            checks.append(
                (
                    f"{n2:,} rows streamed at {r2:.0f} MB ≤ {n1:,} rows streamed at {r1:.0f} MB",
                    r2 <= r1,
                )
            )
        lines += [
            "",
            "Targets: " + "; ".join(f"{k}: **{'PASS' if ok else 'FAIL'}**" for k, ok in checks),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        print(render(json.load(fh)))
