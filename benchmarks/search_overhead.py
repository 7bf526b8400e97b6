"""What the search engine costs per trial: N short trainings through `scalesearch run` against the same trainings
called directly, side by side in one run, at concurrency 1 and 2.

The N jobs are the grid points of one spec (one tiny network on synthetic data, N learning rates, so that every
job is its own trial). For each concurrency c:

  engine       `scalesearch run SPEC --address ADDR` as a subprocess, on a Ray this script started beforehand (so
               that Ray's start-up is measured apart), timed from the first trial's start to the last trial's end
               as stored in the database: Optuna's ask/tell, the database writes, Tune's scheduling, the result
               reports, and each reused Ray actor's start (a fresh worker imports torch and warms up its kernels on
               its first trial).
  direct cold  the same Job data through `scalesearch.trial.job.run` (one torch thread each) in a pool of c fresh
               processes created inside the clock: process start, imports, dataset and first-step warm-up
               included, as the engine's actors pay them.
  direct warm  the same in c processes started, given the dataset and warmed up before the clock: training only.
  tune         plain Ray Tune on the same Ray: the same trainable, jobs and data, reused actors, Tune's own grid
               search (no Optuna, no database): what Ray Tune with reused actors costs on its own.

overhead/trial = (engine - direct) * c / N: the time a trial slot spends on anything but what the direct run
does. `steady` is the engine's cost per trial once every actor runs (from the database's timestamps: the span of
trials c+1..N per slot, minus their own training time). The whole command's wall time (process start, imports,
Optuna study, dataset load) and `ray.init` are printed apart.
Target: at most 0.3 s per trial at concurrency 1 and 2 (what Ray Tune with reused actors costs on its own here).

Usage:
    python benchmarks/search_overhead.py [--trials 24] [--epochs 2] [--repeats 3]
                                         [--out results/benchmarks/search_overhead.txt]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

from scalesearch.search.cluster import set_ray_environment

set_ray_environment()  # before Ray is imported

SPEC = """\
study: {study}
seed: 0
dataset: {{name: synthetic, num_classes: 4, in_channels: 1, image_size: 12, num_train: {num_train}, num_test: 50,
          val_size: 200}}
train: {{epochs: {epochs}, batch_size: 50, warmup_epochs: 0, lr: lr}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4}}}}
parameters: {{lr: {{grid: [{lrs}]}}}}
search: {{sampler: grid, max_concurrency: {concurrency}}}
"""


def _spec(study: str, n: int, epochs: int, num_train: int, concurrency: int) -> str:
    lrs = ", ".join(f"{0.02 + 0.01 * i:.2f}" for i in range(n))
    return SPEC.format(study=study, lrs=lrs, epochs=epochs, num_train=num_train, concurrency=concurrency)


def _jobs(text: str) -> list[dict[str, Any]]:
    from scalesearch.spec import grid_space, parse_spec, resolve_candidate
    from scalesearch.trial.job import job_for_candidate

    spec = parse_spec(text, "bench.yaml")
    return [job_for_candidate(resolve_candidate(spec, {"lr": lr}), spec.dataset, study_seed=spec.seed,
                              device="cpu").to_dict() for lr in grid_space(spec)["lr"]]


_DATA: Any = None


def _init_worker(job: dict[str, Any]) -> None:
    """Worker set-up before the clock starts: imports, one torch thread, the dataset, one warm-up training."""
    global _DATA
    import torch

    from scalesearch.trial.job import Job, load_job_data, run

    torch.set_num_threads(1)
    _DATA = load_job_data(Job.from_dict(job), test=False)
    run(job, _DATA, threads=1)


def _run_direct(job: dict[str, Any]) -> float:
    global _DATA
    from scalesearch.trial.job import Job, load_job_data, run

    if _DATA is None:  # a cold worker: its first job loads the dataset
        import torch

        torch.set_num_threads(1)
        _DATA = load_job_data(Job.from_dict(job), test=False)
    r = run(job, _DATA, threads=1)
    assert r["state"] == "completed", r.get("error")
    return float(r["total_seconds"])


def direct(jobs: list[dict[str, Any]], concurrency: int, *, warm: bool) -> float:
    """Seconds to run the jobs in `concurrency` worker processes: started and warmed up before the clock (warm), or
    created inside it (cold: process start, imports, dataset and first-step warm-up included)."""
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    init, initargs = (_init_worker, (jobs[0],)) if warm else (None, ())
    with cf.ProcessPoolExecutor(concurrency, mp_context=ctx, initializer=init, initargs=initargs) as pool:
        if warm:
            list(pool.map(_noop, range(concurrency * 4)))  # every worker up and initialised
            t0 = time.perf_counter()
        list(pool.map(_run_direct, jobs, chunksize=1))
        return time.perf_counter() - t0


def _noop(_: int) -> None:
    time.sleep(0.05)


def bare_tune(jobs: list[dict[str, Any]], concurrency: int, workdir: Path) -> float:
    """Seconds of a plain Ray Tune run of the same jobs with the same trainable, reused actors and data through
    `tune.with_parameters`: Tune's grid search, no Optuna, no database (what Ray Tune costs on its own)."""
    from ray import tune

    from scalesearch.search.run import quiet_tune_loggers
    from scalesearch.search.trainable import trial_trainable
    from scalesearch.trial.job import Job, load_job_data

    data = load_job_data(Job.from_dict(jobs[0]), test=False)
    trainable = tune.with_resources(tune.with_parameters(trial_trainable, data=data), {"cpu": 1})
    tuner = tune.Tuner(trainable, param_space={"job": tune.grid_search(jobs), "threads": 1},
                       tune_config=tune.TuneConfig(max_concurrent_trials=concurrency, reuse_actors=True,
                                                   trial_dirname_creator=lambda t: f"t{t.trial_id}"),
                       run_config=tune.RunConfig(storage_path=str(workdir / "tune"), verbose=0))
    quiet_tune_loggers()
    t0 = time.perf_counter()
    grid = tuner.fit()
    took = time.perf_counter() - t0
    assert not grid.errors and len(grid) == len(jobs)
    return took


def engine(text: str, study: str, address: str, workdir: Path, concurrency: int) -> tuple[float, float, float, int]:
    """(seconds from the first trial's start to the last trial's end, steady-state overhead per trial, whole
    command seconds, trials) of `scalesearch run`."""
    from scalesearch.store import Reader

    spec = workdir / f"{study}.yaml"
    spec.write_text(text)
    db = f"sqlite:///{workdir}/{study}.db"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "scalesearch", "run", str(spec), "--db", db, "--address", address],
                       cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"scalesearch run failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    trials = Reader(db).trials(study)
    assert all(t.state == "completed" for t in trials), [t.state for t in trials]
    first = min(t.started for t in trials)
    last = max(t.finished for t in trials)
    by_end = sorted(trials, key=lambda t: t.finished)
    c = concurrency
    rest = by_end[c:]  # the trials after each slot's first (whose actor had to start)
    span = (last - by_end[c - 1].finished).total_seconds()
    steady = span * c / len(rest) - sum(t.metrics["total_seconds"] for t in rest) / len(rest)
    return (last - first).total_seconds(), steady, wall, len(trials)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24, help="N trials per concurrency (default 24)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per trial (default 2)")
    ap.add_argument("--num-train", type=int, default=1200, help="synthetic images (train+val) per trial")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    ap.add_argument("--out", default=None, help="also write the report to this file")
    args = ap.parse_args()

    from scalesearch.search.cluster import connect

    t0 = time.perf_counter()
    load_before = os.getloadavg()
    session = connect(None, num_cpus=max(args.concurrency) + 1)
    ray_start = time.perf_counter() - t0
    lines = [(f"search overhead: {args.trials} trials of a ResNet-8 (width 4) on 12x12 synthetic images, "
              f"{args.epochs} epochs of {args.num_train - 200} images, one torch thread per trial"),
             (f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({platform.processor() or platform.platform()}); "
              f"python {platform.python_version()}"),
             f"ray.init (local, 127.0.0.1, apart from everything below): {ray_start:.2f} s",
             "",
             (f"seconds: times are medians of {args.repeats} interleaved rounds; overheads per trial are the median "
              "(and the best round) of each round's paired difference"),
             (f"{'conc':>4} {'train/trial':>11} {'warm':>7} {'cold':>7} {'tune':>7} {'engine':>7} {'vs cold':>8} "
              f"{'vs tune':>8} {'tune vs cold':>12} {'steady':>7} {'command':>8}")]
    rows: dict[int, list[tuple[float, ...]]] = {c: [] for c in args.concurrency}
    try:
        with tempfile.TemporaryDirectory(prefix="scalesearch-bench-") as tmp:
            for r in range(args.repeats):  # rounds, so that drifting load on a shared machine hits every figure
                for c in args.concurrency:
                    study = f"overhead-c{c}-r{r}"
                    text = _spec(study, args.trials, args.epochs, args.num_train, c)
                    jobs = _jobs(text)
                    warm = direct(jobs, c, warm=True)
                    cold = direct(jobs, c, warm=False)
                    bare = bare_tune(jobs, c, Path(tmp))
                    e, steady, wall, n = engine(text, study, session.address, Path(tmp), c)
                    assert n == len(jobs)
                    rows[c].append((warm, cold, bare, e, steady, wall))
                    print(f"round {r + 1}/{args.repeats} c={c}: warm {warm:.2f} cold {cold:.2f} tune {bare:.2f} "
                          f"engine {e:.2f} steady {steady:.3f} command {wall:.2f}", flush=True)
    finally:
        session.close()
    # Overheads are paired within a round (the same minute's load on every figure); the median and the minimum over
    # rounds are reported: other work on a shared machine only ever adds time.
    results = []
    n = args.trials
    for c, rs in rows.items():
        per_round = [((e - cold) * c / n, (e - bare) * c / n, (bare - cold) * c / n, steady)
                     for warm, cold, bare, e, steady, wall in rs]
        med = [statistics.median(x) for x in zip(*per_round, strict=True)]
        low = [min(x) for x in zip(*per_round, strict=True)]
        warm, cold, bare, e, steady, wall = (statistics.median(x) for x in zip(*rs, strict=True))
        results.append((c, med[0], med[1], med[3], med[2]))
        lines.append(f"{c:>4} {warm * c / n:>11.3f} {warm:>7.2f} {cold:>7.2f} {bare:>7.2f} {e:>7.2f} "
                     f"{med[0]:>8.3f} {med[1]:>8.3f} {med[2]:>12.3f} {med[3]:>7.3f} {wall:>8.2f}")
        lines.append(f"{'':>4} {'(best round)':>11} {'':>7} {'':>7} {'':>7} {'':>7} "
                     f"{low[0]:>8.3f} {low[1]:>8.3f} {low[2]:>12.3f} {low[3]:>7.3f}")
    worst = {name: max(r[i] for r in results) for name, i in (("cold", 1), ("tune", 2), ("steady", 3))}
    verdict = ", ".join(f"vs {k} {v:.3f} s ({'met' if v <= 0.3 else 'NOT met'})" if k != "steady" else
                        f"steady {v:.3f} s ({'met' if v <= 0.3 else 'NOT met'})" for k, v in worst.items())
    load_after = os.getloadavg()
    lines += ["",
              (f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, after: "
               f"{' '.join(f'{x:.2f}' for x in load_after)} (a shared machine: more than ~2 means other work "
               "competed for the 2 cores and every figure is slower and noisier)"),
              ("columns (seconds): train/trial = warm / N * c; warm/cold: the same Job data through "
               "scalesearch.trial.job.run in c processes warmed up before the clock / created inside it; tune: plain Ray "
               "Tune, same trainable and jobs, reused actors; engine: first trial start to last trial end in the "
               "database of `scalesearch run --address`; vs cold / vs tune = (engine - that) * c / N; tune vs cold = "
               "(tune - cold) * c / N; steady: the engine's cost per trial once every actor runs; command: the whole "
               "`scalesearch run` (imports, Optuna study, data load)."),
              f"target <= 0.3 s per trial, worst over concurrencies: {verdict}"]
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
