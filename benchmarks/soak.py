"""Soak: 1,000 trials through the real engine (a local Ray on 127.0.0.1, Optuna ask/tell on the stored study, the
SQLite store, Ray Tune with reused actors), to show that a long search does not grow: the driver's memory, the
per-trial cost, and what ends up in the database.

The trials are the grid points of one spec (a width-4 ResNet-8 on 96 synthetic 8x8 images, one epoch of one
batch: a few tens of milliseconds of training, so that the engine's own cost dominates), run one at a time by
`scalesearch.search.run.run_study` in this process (the driver, and Tune's controller inside it). Printed:

  rss          the driver's resident memory (VmRSS of this process) when trial 100, 200, ..., N ended;
               the target: RSS at N within 10% of RSS at 100;
  per trial    for each window of 100 trials, the median time from one trial's end to the next one's end (gap),
               the trial's own time inside its worker (trial.run: build, fit, evaluate), the overhead (gap - own
               time: Optuna's ask/tell, the database writes, Tune's scheduling and reporting), and the driver
               process's CPU time per trial (user + system: the engine's own work, which the other processes of a
               shared machine do not inflate as they do wall times); the target: flat, i.e. the last window
               within 10% (or 10 ms) of the first;
  rows         the exact row counts of every table at the end, checked against what N trials must leave.

`--untrimmed` runs the same with the engine's trimming of ended Tune trials turned off (`run._trim`, what the
engine did before this benchmark found that Tune's per-trial records grew the driver by 87 KB a trial), as the
baseline to compare with (results/benchmarks/soak_untrimmed.txt).

Usage:
    python benchmarks/soak.py [--trials 1000] [--db PATH] [--untrimmed] [--out results/benchmarks/soak.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

import scalesearch.search  # noqa: F401 - sets Ray's environment before Ray is imported
from scalesearch.search.progress import Counts, Progress

WINDOW = 100

SPEC = """\
study: soak
seed: 0
dataset: {{name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 96, num_test: 16,
          val_size: 32}}
train: {{epochs: 1, batch_size: 64, warmup_epochs: 0, lr: lr, weight_decay: wd}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4}}}}
parameters:
  lr: {{grid: [{lrs}]}}
  wd: {{grid: [{wds}]}}
search: {{sampler: grid, max_concurrency: 1, resources: {{cpus: 1}}}}
"""


def rss_mb() -> float:
    """This process's resident memory (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    """CPU time (user + system) of this process so far, in seconds."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Recorder(Progress):
    """Notes when each trial ended (monotonic clock) and the driver's RSS at every WINDOW-th end."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.ended: dict[int, float] = {}
        self.rss: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.t0 = time.monotonic()

    def begin(self, info: Mapping[str, Any], counts: Counts) -> None:
        self.t0 = time.monotonic()
        self.cpu[0] = cpu_s()

    def event(self, kind: str, text: str, counts: Counts) -> None:
        if kind not in ("completed", "failed", "stopped"):
            return
        m = re.match(r"#(\d+) ", text)
        if m:
            self.ended[int(m.group(1))] = time.monotonic()
        n = len(self.ended)
        if n % WINDOW == 0 or n == self.total:
            self.rss[n] = rss_mb()
            self.cpu[n] = cpu_s()
            print(f"  {n:5d} trials  {time.monotonic() - self.t0:7.1f} s  rss {self.rss[n]:7.1f} MiB", flush=True)


def spec_text(trials: int) -> str:
    nwd = 20 if trials % 20 == 0 else 1
    nlr = trials // nwd
    lrs = ", ".join(f"{0.001 + 0.0005 * i:.4f}" for i in range(nlr))
    wds = ", ".join(f"{1e-5 * (i + 1):.6f}" for i in range(nwd))
    return SPEC.format(lrs=lrs, wds=wds)


def row_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        names = sorted(sa.inspect(engine).get_table_names())
        with engine.connect() as c:
            return {n: int(c.execute(sa.select(sa.func.count()).select_from(sa.table(n))).scalar_one()) for n in names}
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--db", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument("--untrimmed", action="store_true", help="keep Tune's ended trials whole (the baseline)")
    ap.add_argument("--out", default=None, help="report file (default: results/benchmarks/soak.txt, or "
                                                 "soak_untrimmed.txt with --untrimmed)")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "results" / "benchmarks" / ("soak_untrimmed.txt" if args.untrimmed else
                                                                  "soak.txt"))
    if args.untrimmed:
        import scalesearch.search.run as run_module

        run_module._trim = lambda trial: None
    n = args.trials
    if n < 2 * WINDOW:
        ap.error(f"--trials must be at least {2 * WINDOW}")

    from scalesearch.search.cluster import connect
    from scalesearch.search.run import run_study
    from scalesearch.search.study import prepare_study
    from scalesearch.spec import parse_spec
    from scalesearch.store import Reader, Store

    db = args.db or os.path.join(tempfile.mkdtemp(prefix="scalesearch-soak-"), "soak.db")
    url = f"sqlite:///{db}"
    text = spec_text(n)
    spec = parse_spec(text, "soak.yaml")
    t_start = time.monotonic()
    session = connect(None, num_cpus=2)
    t_ray = time.monotonic() - t_start
    store = Store(url)
    rec = Recorder(n)
    print(f"soak: {n} trials, one at a time, on a local Ray ({t_ray:.1f} s to start); database {db}", flush=True)
    try:
        prepare_study(store, spec, spec_text=text, spec_file="soak.yaml")
        outcome = run_study(spec, store, store.study("soak"), session=session, progress=rec)
    finally:
        session.close()
        store.close()
    wall = time.monotonic() - t_start

    trials = Reader(url).trials("soak")
    own = {t.number: float((t.metrics or {}).get("total_seconds") or 0.0) for t in trials}
    order = sorted(rec.ended, key=rec.ended.get)
    windows = []
    for w in range(0, len(order), WINDOW):
        gaps, owns = [], []
        for i in range(max(1, w), min(w + WINDOW, len(order))):
            gaps.append(rec.ended[order[i]] - rec.ended[order[i - 1]])
            owns.append(own.get(order[i], 0.0))
        over = [g - o for g, o in zip(gaps, owns, strict=True)]
        end = min(w + WINDOW, len(order))
        cpu = (rec.cpu[end] - rec.cpu[w]) / (end - w) if end in rec.cpu and w in rec.cpu else float("nan")
        windows.append({"trials": f"{w + 1}-{end}", "gap_s": statistics.median(gaps),
                        "own_s": statistics.median(owns), "overhead_s": statistics.median(over),
                        "overhead_mean_s": statistics.fmean(over), "driver_cpu_s": cpu, "rss_mib": rec.rss.get(end)})
    counts = row_counts(url)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state] = states.get(t.state, 0) + 1
    expected = {"scalesearch_studies": 1, "scalesearch_trials": n, "scalesearch_epochs": n, "studies": 1,
                "trials": n, "trial_params": 2 * n, "trial_values": n, "trial_intermediate_values": n}
    mismatches = {k: (counts.get(k), v) for k, v in expected.items() if counts.get(k) != v}

    r100, rn = rec.rss.get(WINDOW), rec.rss.get(n)
    growth = (rn - r100) / r100 if r100 and rn else float("nan")
    first, last = windows[0]["overhead_s"], windows[-1]["overhead_s"]
    flat = abs(last - first) <= max(0.1 * first, 0.010)
    c1, cn = windows[0]["driver_cpu_s"], windows[-1]["driver_cpu_s"]
    cpu_flat = abs(cn - c1) <= max(0.1 * c1, 0.010)
    lines = [
        (f"soak: {n} trials of a width-4 ResNet-8 on 96 synthetic 8x8 images (1 epoch, 1 step), grid sampler, one "
         f"at a time, through run_study (local Ray, Optuna ask/tell, SQLite store) in one driver process")
        + (" -- UNTRIMMED baseline: Tune's ended trials kept whole" if args.untrimmed else ""),
        (f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({platform.platform()}); python "
         f"{platform.python_version()}; load average at the end {os.getloadavg()[0]:.1f} (shared machine)"),
        f"outcome: {outcome.state} ({outcome.message}); states {states}; wall {wall:.0f} s (ray.init {t_ray:.1f} s)",
        "",
        "window        gap/trial  own/trial  overhead (median, mean)  driver CPU/trial  driver RSS at window end",
    ]
    for w in windows:
        rss = f"{w['rss_mib']:.1f} MiB" if w["rss_mib"] is not None else "-"
        lines.append(f"{w['trials']:>11}  {w['gap_s']:8.3f} s {w['own_s']:8.3f} s  {w['overhead_s']:7.3f} s "
                     f"{w['overhead_mean_s']:7.3f} s   {w['driver_cpu_s']:9.3f} s      {rss}")
    lines += [
        "",
        (f"driver RSS: {r100:.1f} MiB at trial {WINDOW}, {rn:.1f} MiB at trial {n}: {growth * 100:+.1f}% "
         f"({'within' if abs(growth) <= 0.10 else 'NOT within'} 10%)"),
        (f"overhead per trial: {first:.3f} s in trials 1-{WINDOW}, {last:.3f} s in the last {WINDOW}: "
         f"{'flat' if flat else 'NOT flat'} (within 10% or 10 ms)"),
        (f"driver CPU per trial: {c1:.3f} s in trials 1-{WINDOW}, {cn:.3f} s in the last {WINDOW}: "
         f"{'flat' if cpu_flat else 'NOT flat'} (within 10% or 10 ms)"),
        "rows at the end: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "expected rows: " + ("all as expected (" + ", ".join(f"{k} {v}" for k, v in expected.items()) + ")"
                             if not mismatches else f"MISMATCH {mismatches}"),
    ]
    report = "\n".join(lines)
    print("\n" + report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"trials": n, "wall_s": wall, "ray_init_s": t_ray,
                                                    "rss_mib": rec.rss, "windows": windows, "rows": counts,
                                                    "expected_rows": expected, "states": states}, indent=1) + "\n",
                                        encoding="utf-8")
    return 0 if not mismatches and outcome.state == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
