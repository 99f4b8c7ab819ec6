"""How far the demo's ``dbt build`` is from the speed of COPY (issue 15), one command.

Usage (from the repository root, after ``make setup``)::

    nice -n 10 .venv/bin/python bench/release_floor.py [--sizes 100000,1000000,5000000]
        [--work /tmp/synthdb-floor] [--seed 7] [--json results.json]

For every size (contract rows = demo transactions; customers = half as many) it

1. loads the demo source (``synthdb.demo.source``) into its own embedded PostgreSQL under
   ``--work`` (``SYNTHDB_HOME``; the server is left running for the next call and stopped with
   ``--stop``) and creates the contract view (``dbt run -s contract_transactions``);
2. measures the *floor* in the same run: COPY of the contract view TO STDOUT (binary, the bytes
   written to a scratch file, which is page cache: "to /dev/null" plus keeping them) and COPY of
   those same rows into a new table (binary FROM STDIN). It is measured before and after the
   build and the smaller sum is the floor (a loaded machine only ever makes it slower);
3. runs the demo's real ``dbt build`` (fixed seed) and times it wall-clock — by default as a
   repeated build of an unchanged project (dbt's saved parse state valid, partial parsing),
   with ``--cold-parse`` as a first build (full parse) — with the peak RSS and
   PSS of the dbt process tree (sampled every 0.1 s from /proc; sampling workers included, the
   server excluded; RSS counts pages the forked workers share once per process, PSS splits
   them);
4. prints the issue's table: contract rows, dbt build s, floor s, ratio, and the synthetic step's
   stage timings read from its progress lines (``<stage> done in X s``), plus the load average;
5. attributes the whole wall clock of the build (``attribute``, from dbt's run_results.json):
   interpreter start and imports, parse and set-up, every node (compile + execute), the gaps
   between nodes, dbt's finish, and inside the synthetic node its stages and the rest;
6. measures a *dbt floor* in the same run: a copy of the demo project in which the synthetic
   model is a plain table copy of the contract (``materialized='table'``) and the publish model
   a plain table copy of that, with the same number of data tests (4 ``not_null``), built with
   the same command, so dbt's own share of the build (start-up, parse, nodes, tests) is known;
7. counts the build's CPU seconds (the dbt process tree with its sampling and drawing
   processes, and the PostgreSQL server; ``cpu_bound``) by span of the synthetic step, and from
   them the earliest any schedule of the same work could end on this machine's cores: what
   follows the read cannot take less than its CPU seconds over the cores. A target below that
   bound needs less work, not more overlap.

Nothing here touches a database other than the one it starts; the source is synthetic.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "examples" / "demo"
STAGE_LINE = re.compile(r"synthetic_transactions: (?P<label>[^:]+?) done in (?P<s>[\d.]+) s")
NODE_LINE = re.compile(r"\d+ of \d+ (?:OK created \S+ \S+ model |PASS |FAIL \d+ |ERROR \S+ )"
                       r"(?P<name>[\w.]+) .*? in (?P<s>[\d.]+)s\]")
CONTRACT = ("synthdb_contracts", "contract_transactions")


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def _tree_memory_kib(root: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over ``root`` and all its descendants, from /proc.

    RSS counts pages shared between processes (forked sampling workers share most of the
    libraries) once per process; PSS splits them, so its sum is the tree's real footprint.
    """
    total, pss = 0, 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        total += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, pss


class PeakRss:
    """Samples RSS and PSS of a process tree in a thread; ``stop`` returns the peaks (MiB)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every, self.peak, self.peak_pss = pid, every, 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            rss, pss = _tree_memory_kib(self.pid)
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            self._done.wait(self.every)

    def stop(self) -> tuple[float, float]:
        self._done.set()
        self._thread.join()
        return self.peak / 1024, self.peak_pss / 1024


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) spent by ``root``'s process tree so far: each live process's
    own time plus that of the children it has reaped. Right for a server that reaps every child
    it starts (PostgreSQL's postmaster: backends and parallel workers)."""
    total = 0
    for pid in _descendants(root):
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


class CpuTracker:
    """CPU seconds of a process tree whose processes may outlive their parent (dbt's
    forkserver and its sampling workers can end after dbt has exited, unreaped by it): every
    process's own user + system time, last seen in a sample every ``every`` s, summed over all
    processes ever seen (a process's last ``every`` s can be missed)."""

    def __init__(self, root: int, every: float = 0.05) -> None:
        self.root, self.every, self.seen = root, every, {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> float:
        """Sample now; the CPU seconds of every process seen so far."""
        with self._lock:
            for pid in _descendants(self.root):
                fields = _stat_fields(pid)
                if fields is not None:  # keyed by start time too: pids are reused
                    self.seen[(pid, fields[19])] = int(fields[11]) + int(fields[12])
            return sum(self.seen.values()) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return sum(self.seen.values()) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int | None:
    """The embedded PostgreSQL's postmaster (its pid file under ``SYNTHDB_HOME``)."""
    pid_file = Path(os.environ.get("SYNTHDB_HOME", "")) / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Invocation:
    """Wall-clock instants (epoch seconds) of the last dbt process: launched and exited; and
    ``marks``: (seconds since launch, machine busy core-seconds, output line) as each line of
    its output arrived, first the launch (line "") and last the exit (line None)."""

    launched = 0.0
    exited = 0.0
    marks: list[tuple[float, float, str | None]] = []


def dbt(args: list[str], env: dict[str, str], echo: bool, project: Path = PROJECT
        ) -> tuple[int, str, float, tuple[float, float]]:
    """Run real dbt in ``project``: (returncode, output, seconds, peak (RSS, PSS) MiB)."""
    exe = Path(sys.executable).with_name("dbt")
    Invocation.launched = time.time()
    start = time.perf_counter()
    server = server_pid()
    served = tree_cpu_seconds(server) if server else 0.0

    def serving() -> float:
        return tree_cpu_seconds(server) - served if server else 0.0

    marks: list[tuple[float, float, str | None]] = [(0.0, 0.0, "")]
    proc = subprocess.Popen([str(exe), *args], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rss, cpu = PeakRss(proc.pid), CpuTracker(proc.pid)
    lines = []
    for line in proc.stdout:  # type: ignore[union-attr]
        marks.append((time.perf_counter() - start, cpu.sample() + serving(), line))
        lines.append(line)
        if echo:
            sys.stdout.write(line)
    proc.wait()
    seconds = time.perf_counter() - start
    time.sleep(0.2)  # the forkserver and the server's backends end after dbt
    marks.append((seconds, cpu.stop() + serving(), None))
    Invocation.exited = time.time()
    Invocation.marks = marks
    return proc.returncode, "".join(lines), seconds, rss.stop()


def floor(conn, scratch: Path) -> dict[str, float]:
    """COPY the contract view out (binary, to a scratch file) and the same rows into a table."""
    from psycopg import sql

    view = sql.SQL("{}.{}").format(*map(sql.Identifier, CONTRACT))
    start = time.perf_counter()
    with scratch.open("wb") as out, conn.cursor() as cur, cur.copy(
            sql.SQL("COPY (SELECT * FROM {}) TO STDOUT (FORMAT binary)").format(view)) as copy:
        for block in copy:
            out.write(block)
    copy_out = time.perf_counter() - start
    conn.execute("DROP TABLE IF EXISTS public.__floor_copy")
    conn.execute(sql.SQL("CREATE TABLE public.__floor_copy AS SELECT * FROM {} WITH NO DATA")
                 .format(view))
    conn.commit()
    start = time.perf_counter()
    with scratch.open("rb") as src, conn.cursor() as cur, cur.copy(
            "COPY public.__floor_copy FROM STDIN (FORMAT binary)") as copy:
        while block := src.read(1 << 20):
            copy.write(block)
    conn.commit()
    copy_in = time.perf_counter() - start
    rows = conn.execute("SELECT count(*) FROM public.__floor_copy").fetchone()[0]
    conn.execute("DROP TABLE public.__floor_copy")
    conn.commit()
    scratch.unlink()
    return {"copy_out_s": round(copy_out, 2), "copy_in_s": round(copy_in, 2),
            "floor_s": round(copy_out + copy_in, 2), "rows": int(rows)}


def stage_timings(output: str) -> dict[str, float]:
    """The synthetic step's ``<stage> done in X s`` progress lines, by stage label."""
    return {m["label"].strip(): float(m["s"]) for m in STAGE_LINE.finditer(output)}


def node_timings(output: str) -> dict[str, float]:
    """dbt's per-node result lines (model or test name -> seconds)."""
    return {m["name"]: float(m["s"]) for m in NODE_LINE.finditer(output)}


def _instant(stamp: str) -> float:
    """Epoch seconds of one of dbt's ISO timestamps (UTC, ``Z`` suffix)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _short(unique_id: str) -> str:
    """A node's readable name: model/test name, tests shortened to their test macro."""
    kind, _, name = unique_id.split(".")[:3]
    if kind == "test":
        return "test " + re.sub(r"^synthdb_|_synthetic_.*$|^not_null_\w+?_", "", name)
    return name


def attribute(run_results: Path, launched: float, exited: float, stages: dict[str, float]
              ) -> dict[str, float]:
    """The build's wall clock split into consecutive parts that add up to it (seconds).

    From dbt's run_results.json: interpreter start and imports (launch → dbt's invocation
    start), parse and set-up (→ the first node's compile), each node (its compile start → its
    execute end), the gaps between nodes, and dbt's finish (last node → process exit). The
    synthetic node is split into its stages (progress lines) and the rest of the node (the
    materialization's own work: compile, config checks, the adapter call).
    """
    doc = json.loads(run_results.read_text())
    started = _instant(doc["metadata"]["invocation_started_at"])
    spans = [(r["unique_id"], _instant(r["timing"][0]["started_at"]),
              _instant(r["timing"][-1]["completed_at"])) for r in doc["results"] if r["timing"]]
    spans.sort(key=lambda span: span[1])
    parts = {"start + imports": started - launched,
             "parse + set-up": (spans[0][1] if spans else exited) - started}
    gaps, previous = 0.0, spans[0][1] if spans else exited
    for unique_id, begin, end in spans:
        gaps += max(0.0, begin - previous)
        name, seconds = _short(unique_id), end - begin
        if name.startswith("synthetic_") and stages:
            parts[f"{name}: stages"] = sum(stages.values())
            parts[f"{name}: outside stages"] = seconds - sum(stages.values())
        else:
            parts[name] = parts.get(name, 0.0) + seconds
        previous = end
    parts["between nodes"] = gaps
    parts["finish"] = exited - previous
    return {k: round(v, 2) for k, v in parts.items()}


def cpu_bound(marks: list[tuple[float, float, str | None]], cores: int) -> dict[str, float]:
    """What the build's CPU work allows on ``cores`` cores, from ``Invocation.marks``.

    The build spends ``build_core_s`` CPU seconds (the dbt process tree, its sampling and
    drawing processes included, and the PostgreSQL server; other jobs on the machine are not
    counted, though they slow the build down). Until its
    read stage ends (``read_end_s``: dbt's start-up, parse, the contract and the read, which is
    PostgreSQL evaluating the contract, the floor's COPY out) nothing can be fitted, sampled or
    checked, so that part is taken as it ran; the ``after_read_core_s`` of work that follows
    cannot take less than ``after_read_core_s / cores`` seconds however well it is spread. So
    no schedule of the same work ends before ``bound_s = read_end_s + after_read_core_s /
    cores``: a target below it needs less work, not more overlap.
    """
    (_, busy0, _), (end, busy_end, _) = marks[0], marks[-1]
    read = next(((t, busy) for t, busy, line in marks
                 if line and (m := STAGE_LINE.search(line)) and m["label"].startswith("read")),
                None)
    out: dict = {"build_core_s": round(busy_end - busy0, 1),
                 "busy_cores": round((busy_end - busy0) / end, 2) if end else 0.0}
    # CPU seconds of each stage (from the previous stage line; the read from the line before
    # it) and of what follows the last stage (the rest of the node, tests, publish, finish)
    spans, previous = {}, None
    for i, (t, busy, line) in enumerate(marks):
        m = STAGE_LINE.search(line) if line else None
        if m:
            begin = previous if previous is not None else marks[i - 1]
            spans[m["label"].strip()] = (round(t - begin[0], 2), round(busy - begin[1], 2))
            previous = (t, busy)
    if previous is not None:
        spans["after the stages"] = (round(end - previous[0], 2),
                                     round(busy_end - previous[1], 2))
    out["spans_s_core_s"] = spans
    if read is not None:
        after = busy_end - read[1]
        out.update(read_end_s=round(read[0], 1), after_read_core_s=round(after, 1),
                   after_read_busy_cores=round(after / (end - read[0]), 2) if end > read[0]
                   else 0.0, bound_s=round(read[0] + after / cores, 1))
    return out


FLOOR_SYNTHETIC = """{{ config(materialized='table', schema='floor_staging') }}
select * from {{ ref('contract_transactions') }}
"""
FLOOR_PUBLISH = """{{ config(materialized='table', schema='floor_release', alias='transactions') }}
select * from {{ ref('synthetic_transactions') }}
"""
FLOOR_TESTS = """version: 2
models:
  - name: synthetic_transactions
    columns:
      - {name: age_band, data_tests: [not_null]}
      - {name: region, data_tests: [not_null]}
      - {name: gender, data_tests: [not_null]}
      - {name: channel, data_tests: [not_null]}
"""


def dbt_floor_project(work: Path) -> Path:
    """The demo project with plain table copies for the synthetic and publish models.

    Same profile (the synthdb adapter), package, sources and contract view; the synthetic model
    becomes ``create table as select * from`` the contract, the publish model a table copy of
    that (in the same database: a plain model cannot write into another), and the four synthdb
    data tests become four ``not_null`` tests. What this build costs is dbt's own share.
    """
    project = work / "dbt_floor"
    shutil.rmtree(project, ignore_errors=True)
    models = project / "models" / "partner_demo"
    models.mkdir(parents=True)
    shutil.copytree(PROJECT / "macros", project / "macros")
    shutil.copy(PROJECT / "profiles.yml", project / "profiles.yml")
    text = (PROJECT / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(
        text.replace('model-paths: ["../../models"]', 'model-paths: ["models"]'))
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    shutil.copy(REPO / "models" / "sources.yml", project / "models" / "sources.yml")
    shutil.copy(REPO / "models" / "partner_demo" / "contract_transactions.sql", models)
    (models / "synthetic_transactions.sql").write_text(FLOOR_SYNTHETIC)
    (models / "partner_demo_transactions.sql").write_text(FLOOR_PUBLISH)
    (models / "schema.yml").write_text(FLOOR_TESTS)
    return project


def dbt_floor(work: Path, env: dict[str, str], build_args: list[str], echo: bool,
              cold_parse: bool = False) -> dict:
    """Build the dbt-floor project (``dbt_floor_project``) and attribute its wall clock."""
    import psycopg

    from synthdb import db

    project = dbt_floor_project(work)
    target = work / "target-dbt-floor"  # its own saved parse state, not the demo's
    shutil.rmtree(target, ignore_errors=True)
    env = dict(env, DBT_TARGET_PATH=str(target))
    code, out, _, _ = dbt(["deps"], env, echo, project)
    if code:
        raise SystemExit(f"dbt deps of the dbt floor failed:\n{out}")
    if not cold_parse:  # the parse state the demo's build finds (see one_size)
        code, out, _, _ = dbt(["parse", *build_args[1:]], env, echo, project)
        if code:
            raise SystemExit(f"dbt parse of the dbt floor failed:\n{out}")
    code, out, seconds, _ = dbt(build_args, env, echo, project)
    if code:
        raise SystemExit(f"dbt build of the dbt floor failed:\n{out}")
    parts = attribute(Path(env["DBT_TARGET_PATH"]) / "run_results.json", Invocation.launched,
                      Invocation.exited, {})
    with psycopg.connect(db.settings_from_env().conninfo()) as conn:
        conn.execute("DROP SCHEMA IF EXISTS floor_staging CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS floor_release CASCADE")
    return {"dbt_floor_s": round(seconds, 1), "dbt_floor_parts_s": parts}


def one_size(rows: int, env: dict[str, str], work: Path, seed: int, echo: bool,
             cold_parse: bool = False) -> dict:
    import psycopg

    from synthdb import db
    from synthdb.demo.source import load_demo_source

    settings = db.settings_from_env()
    start = time.perf_counter()
    with psycopg.connect(settings.conninfo()) as conn:
        load_demo_source(conn, customers=max(1, rows // 2), transactions=rows, seed=42)
        conn.commit()
    load_s = time.perf_counter() - start
    build_args = ["build", "--vars", json.dumps({"synthdb_seed": seed})]
    # The contract is created with the build's own --vars, so the build finds dbt's saved
    # parse state valid and parses partially, as a user's repeated `dbt build` of an unchanged
    # project does (other --vars, another project in the same target path, or no saved state
    # make dbt parse everything again: ~1 s idle, 3-5 s at load 8; --cold-parse measures that).
    contract_args = ["run", "-s", "contract_transactions", *build_args[1:]]
    if cold_parse:
        contract_args = contract_args[:3]
    code, out, _, _ = dbt(contract_args, env, echo)
    if code:
        raise SystemExit(f"dbt run of the contract failed:\n{out}")
    with psycopg.connect(settings.conninfo()) as conn:
        before = floor(conn, work / "floor.bin")
    code, out, build_s, rss = dbt(build_args, env, echo)
    if code:
        raise SystemExit(f"dbt build failed at {rows:,} rows:\n{out}")
    parts = attribute(Path(env["DBT_TARGET_PATH"]) / "run_results.json", Invocation.launched,
                      Invocation.exited, stage_timings(out))
    cpu = cpu_bound(Invocation.marks, os.cpu_count() or 1)
    plain = dbt_floor(work, env, build_args, echo, cold_parse)
    with psycopg.connect(settings.conninfo()) as conn:
        after = floor(conn, work / "floor.bin")
    best = min((before, after), key=lambda f: f["floor_s"])
    return {"contract_rows": best["rows"], "source_load_s": round(load_s, 1),
            "dbt_build_s": round(build_s, 1), "floor_s": best["floor_s"],
            "floor_copy_out_s": best["copy_out_s"], "floor_copy_in_s": best["copy_in_s"],
            "floor_runs_s": [before["floor_s"], after["floor_s"]],
            "ratio": round(build_s / best["floor_s"], 2), "peak_rss_mib": round(rss[0]),
            "peak_pss_mib": round(rss[1]),
            "stages_s": stage_timings(out), "nodes_s": node_timings(out),
            "wall_parts_s": parts, "cpu": cpu, **plain, "load_average": os.getloadavg()}


def print_table(results: list[dict]) -> None:
    labels: list[str] = []
    for r in results:
        labels += [k for k in r["stages_s"] if k not in labels]
    print()
    print("| contract rows | dbt build s | floor s (out + in) | ratio | peak RSS / PSS MiB | "
          f"synthetic stages ({' / '.join(labels)}) s | load avg (1/5/15) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        stages = " / ".join(f"{r['stages_s'].get(label, float('nan')):.1f}" for label in labels)
        print(f"| {r['contract_rows']:,} | {r['dbt_build_s']:.1f} | {r['floor_s']:.1f} "
              f"({r['floor_copy_out_s']:.1f} + {r['floor_copy_in_s']:.1f}) | {r['ratio']:.1f}× | "
              f"{r['peak_rss_mib']} / {r.get('peak_pss_mib', '-')} | {stages} | "
              f"{' / '.join(f'{x:.1f}' for x in r['load_average'])} |")


def print_attribution(results: list[dict]) -> None:
    """Where each build's wall clock went, next to the dbt floor's (same parts, seconds)."""
    for r in results:
        print(f"\n{r['contract_rows']:,} rows: dbt build {r['dbt_build_s']:.1f} s "
              f"(parts add up to {sum(r['wall_parts_s'].values()):.1f} s); dbt floor "
              f"{r['dbt_floor_s']:.1f} s (parts {sum(r['dbt_floor_parts_s'].values()):.1f} s)")
        cpu = r.get("cpu") or {}
        if "bound_s" in cpu:
            print(f"CPU: the build kept {cpu['busy_cores']:.2f} cores busy "
                  f"({cpu['build_core_s']:.1f} core-s); its read ended at {cpu['read_end_s']:.1f} s "
                  f"and {cpu['after_read_core_s']:.1f} core-s of work followed "
                  f"({cpu['after_read_busy_cores']:.2f} cores busy): on {os.cpu_count()} cores no "
                  f"schedule of that work ends before {cpu['bound_s']:.1f} s = "
                  f"{cpu['bound_s'] / r['floor_s']:.2f}x the floor")
            print("CPU by span (wall s / CPU s): " + ", ".join(
                f"{k} {w:.1f} / {c:.1f}" for k, (w, c) in cpu["spans_s_core_s"].items()))
        print("| part | build s | dbt floor s |")
        print("|---|---|---|")
        names = list(r["wall_parts_s"])
        names += [k for k in r["dbt_floor_parts_s"] if k not in names]
        for name in names:
            a, b = r["wall_parts_s"].get(name), r["dbt_floor_parts_s"].get(name)
            print(f"| {name} | {'' if a is None else f'{a:.2f}'} | "
                  f"{'' if b is None else f'{b:.2f}'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000,5000000",
                    help="contract row counts, comma-separated")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "synthdb-floor"),
                    help="folder for the embedded server and scratch files")
    ap.add_argument("--seed", type=int, default=7, help="synthdb_seed of the build")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--echo", action="store_true", help="show dbt's output")
    ap.add_argument("--cold-parse", action="store_true",
                    help="builds without dbt's saved parse state (a first build; the default "
                         "is a repeated build of an unchanged project, which parses partially)")
    ap.add_argument("--stop", action="store_true", help="stop the embedded server at the end")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["SYNTHDB_HOME"] = str(work / "server")
    env = dict(os.environ, DBT_PROFILES_DIR=str(PROJECT),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DBT_TARGET_PATH=str(work / "target"), DBT_LOG_PATH=str(work / "logs"))
    # A user's `pip install` leaves compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as in
    # some CI and sandbox shells) every build would compile the modules lacking it again
    # (~0.9 CPU-s of a 100k build's start-up, py-spy). Import what a build imports once first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import dbt.cli.main, synthdb.metrics, "
                    "synthdb.release.synthesize, synthdb.report.html"], env=env, check=True)
    code, out, _, _ = dbt(["deps"], env, args.echo)
    if code:
        raise SystemExit(f"dbt deps failed:\n{out}")
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        print(f"release_floor: {size:,} contract rows ...", flush=True)
        results.append(one_size(size, env, work, args.seed, args.echo, args.cold_parse))
        print(json.dumps(results[-1]), flush=True)
    print_table(results)
    print_attribution(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.stop:
        from synthdb import db

        db.stop_embedded(work / "server")


if __name__ == "__main__":
    main()
