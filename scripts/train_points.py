"""Train a spec's baseline and named points, every repeat, without Ray, Optuna or a database.

For a machine where only scalesearch's core and torch are installed (an accelerator lent for minutes, whose image
has neither Ray nor Optuna): each job is the engine's own (`trial.job_for_candidate`, trained by `trial.run`, the
same seeds, data split and recipe as `scalesearch run`), run in parallel worker processes that share the device.
Jobs go seed-major (every point of repeat 0, then of repeat 1, ...), so that what finishes before --deadline-s
is paired by repeat. Written to --out as they finish:

    results.jsonl  one line per finished trial (the result of `trial.run`, its point and parameters)
    trials.csv     one row per trial, the columns of `scalesearch query --format csv` that apply
    epochs.csv     one row per trial and epoch, the columns of a study's committed epochs.csv

`scalesearch.results.compare.compare_frames` recomputes a comparison (with its regime guards) from the two CSVs.

    python scripts/train_points.py spaces/efficientnet_gpu.yaml --out results/efficientnet_gpu --device cuda
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scalesearch.analysis.columns import EPOCH_COLUMNS, TRIAL_HEAD, TRIAL_TAIL  # after the path: run from a checkout

# `trial.run`'s result fields that are trials.csv columns under their own name.
RESULT_FIELDS = ("val_acc", "best_val_acc", "test_acc", "test_loss", "seed", "repeat", "node", "device",
                 "images_per_s", "steps", "key", "error")


def plan(spec_file: str, device: str, repeats: int | None,
         only: list[str] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """The spec and its jobs as (number, point, parameters, cost, job) records, seed-major."""
    from scalesearch.spec import load_spec
    from scalesearch.spec.check import named_point
    from scalesearch.trial.job import job_for_candidate

    spec = load_spec(spec_file)
    points = [(n, spec.point(n)) for n in spec.point_names]  # "baseline" first where there is one
    if not points:
        raise SystemExit(f"{spec_file}: no baseline and no named points to train")
    cands = [(name, named_point(spec, pt)) for name, pt in points]
    out = []
    for r in range(repeats or spec.search.repeats):
        for name, c in cands:
            job = job_for_candidate(c, spec.dataset, study_seed=spec.seed, repeat=r, device=device)
            out.append({"number": len(out), "point": name, "parameters": dict(c.values), "macs": c.macs,
                        "params": c.params, "acts": c.acts, "netspec_hash": c.netspec.hash, "job": job.to_dict()})
    return spec, [d for d in out if not only or d["point"] in only]


def _work(args: tuple[dict[str, Any], int, str | None]) -> dict[str, Any]:
    rec, threads, data_dir = args
    from scalesearch.trial import job as trial

    t0 = time.time()
    res = trial.run(rec["job"], threads=threads, data_dir=data_dir)
    return {**{k: v for k, v in rec.items() if k != "job"}, "wall_s": time.time() - t0,
            "config_key": trial.Job.from_dict(rec["job"]).config_key, "result": res}


def rows(spec: Any, done: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """trials.csv and epochs.csv rows of the finished records."""
    trials, epochs = [], []
    family = spec.architecture.family
    for d in sorted(done, key=lambda d: d["number"]):
        res = d["result"]
        state = "COMPLETE" if res.get("state") == "completed" else "FAIL"
        trials.append({"study": spec.study, "number": d["number"], "state": state, "arch": d["point"],
                       "family": family, "point": d["point"], **d["parameters"],
                       **{k: res.get(k) for k in RESULT_FIELDS}, "macs": d["macs"], "params": d["params"],
                       "acts": d["acts"], "netspec_hash": d["netspec_hash"], "config_key": d["config_key"],
                       "wall_s": d["wall_s"], "train_s": res.get("train_seconds"),
                       "total_s": res.get("total_seconds"), "epochs": len(res.get("epochs") or ())})
        for m in res.get("epochs") or ():
            epochs.append({"study": spec.study, "number": d["number"], "arch": d["point"], "family": family,
                           "config_key": d["config_key"], "repeat": res.get("repeat"), "state": state,
                           **{k: m.get(k) for k in EPOCH_COLUMNS if k in m}, "epoch_s": m.get("seconds"),
                           "eval_s": m.get("eval_seconds")})
    return trials, epochs


def write_csv(path: Path, records: list[dict[str, Any]], head: tuple[str, ...], tail: tuple[str, ...] = ()) -> None:
    """The records as CSV: the `head` columns, any others (a trial's parameters), then the `tail` columns, each
    group in its given order and only the columns some record has."""
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    middle = [c for c in df.columns if c not in head and c not in tail]
    df.reindex(columns=[c for c in (*head, *middle, *tail) if c in df.columns]).to_csv(path, index=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", help="a spec file with a baseline and/or named points")
    ap.add_argument("--out", required=True, help="the folder to write into (created)")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    ap.add_argument("--workers", type=int, default=None, help="parallel jobs (default: search.max_concurrency)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats (default: search.repeats)")
    ap.add_argument("--deadline-s", type=float, default=None,
                    help="stop waiting after this many seconds; finished trials are kept (default: none)")
    ap.add_argument("--data-dir", default=None, help="dataset root (default: $SCALESEARCH_DATA, /usr/share/datasets)")
    ap.add_argument("--points", default=None, help="only these points, comma-separated (default: all); trial "
                    "numbers stay those of the full plan")
    a = ap.parse_args(argv)
    from scalesearch.errors import ScalesearchError

    only = [p.strip() for p in a.points.split(",")] if a.points else None
    try:
        spec, jobs = plan(a.spec, a.device, a.repeats, only)
    except (ScalesearchError, OSError) as e:
        ap.error(" ".join(str(e).split()))
    unknown = sorted(set(only or ()) - set(spec.point_names))
    if unknown:
        ap.error(f"--points: no point {unknown[0]!r}; the spec has {', '.join(spec.point_names)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    workers = a.workers or spec.search.max_concurrency or 1
    print(f"{spec.study}: {len(jobs)} jobs, {workers} at a time on {a.device}", flush=True)
    t0 = time.time()
    done: list[dict[str, Any]] = []
    ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
    pool = ctx.Pool(workers, maxtasksperchild=1)
    pending = pool.imap_unordered(_work, [(j, a.threads, a.data_dir) for j in jobs])
    with open(out / "results.jsonl", "w") as f:
        while len(done) < len(jobs):
            left = None if a.deadline_s is None else a.deadline_s - (time.time() - t0)
            if left is not None and left <= 0:
                print(f"deadline: {len(done)} of {len(jobs)} trials finished in {a.deadline_s:g} s", flush=True)
                break
            try:
                d = pending.next(timeout=left)
            except mp.TimeoutError:
                continue
            done.append(d)
            f.write(json.dumps(d) + "\n")
            f.flush()
            res = d["result"]
            print(f"[{time.time() - t0:6.0f}s] #{d['number']} {d['point']} repeat {res.get('repeat')}: "
                  f"{res.get('state')} val_acc {res.get('val_acc')} ({res.get('train_seconds') or 0:.0f} s, "
                  f"{res.get('images_per_s') or 0:.0f} img/s){' ' + res['error'] if res.get('error') else ''}",
                  flush=True)
    pool.terminate()
    trials, epochs = rows(spec, done)
    write_csv(out / "trials.csv", trials, TRIAL_HEAD, TRIAL_TAIL)
    write_csv(out / "epochs.csv", epochs, EPOCH_COLUMNS)
    print(f"wrote {out}/results.jsonl, trials.csv, epochs.csv: {len(done)} trials in {time.time() - t0:.0f} s")
    return 0 if done else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
