"""A results database written through the store's own writer, shaped as the search driver writes it.

Used by test_results, test_query and test_report. Each study resolves a real spec (costs from
`scalesearch.spec`, keys from `scalesearch.trial.job`) and stores rows the way `scalesearch.search.driver` does:
queued, started, one row per epoch, finished (completed or failed), and rejected candidates. Accuracies are a
deterministic function of the MACs plus seeded noise, so fronts and aggregates have known answers.
"""

from __future__ import annotations

import random
from typing import Any

from scalesearch.spec import enumerate_grid, format_spec, parse_spec
from scalesearch.store import Store
from scalesearch.trial.job import job_for_candidate

SPEC = """study: {name}
seed: {seed}
dataset: {{name: synthetic, train_size: 64, val_size: 32}}
train: {{epochs: 3, batch_size: 32}}
architecture:
  family: cifar_resnet
  args: {{depth: "6 * n + 2", width: width}}
parameters:
  n: {{int: [1, 3]}}
  width: {{grid: [8, 16, 24]}}
constraints:
  - "macs <= 12 * base_macs"
baseline: {{n: 1, width: 8}}
search:
  sampler: grid
  repeats: {repeats}
  objectives: {{val_acc: max, macs: min}}
"""


def accuracy(macs: int, repeat: int, seed: int) -> float:
    """The stored accuracy of a configuration: rising with MACs, with a little seeded noise per repeat."""
    noise = random.Random(f"{macs}:{repeat}:{seed}").uniform(-0.01, 0.01)
    return round(1.0 - 3.0 * macs ** -0.25 + noise, 4)


def write_study(url: str, name: str, *, repeats: int = 2, seed: int = 0, fail: int | None = 2) -> dict[str, Any]:
    """Write one study; `fail` is the index of the feasible configuration whose last repeat fails.

    Returns:
        {"spec": the SearchSpec, "completed": [(number, config values, macs, val_acc)], "failed": [numbers],
         "rejected": [numbers]}
    """
    text = SPEC.format(name=name, seed=seed, repeats=repeats)
    spec = parse_spec(text)
    store = Store(url)
    store.create_study(name=name, spec_text=text, spec_file=None, spec_canonical=format_spec(spec),
                       spec_hash=f"hash-{name}", seed=seed, sampler="grid",
                       objectives=[["val_acc", "max"], ["macs", "min"]], repeats=repeats,
                       versions={"python": "3.x", "torch": "2.13.0"}, hardware={"cpu": "test", "cores": 2})
    out: dict[str, Any] = {"spec": spec, "completed": [], "failed": [], "rejected": []}
    feasible = 0
    for cand in enumerate_grid(spec):
        base = {"parameters": dict(cand.sampled), "values": dict(cand.values), "point": None,
                "netspec": cand.netspec.to_json(), "netspec_hash": cand.netspec.hash, "macs": cand.macs,
                "params": cand.params, "acts": cand.acts}
        if not cand.feasible:
            job = job_for_candidate(cand, spec.dataset, study_seed=seed)
            rec = store.add_rejected(name, base | {"key": job.key, "config_key": job.key,
                                                   "rejected_by": list(cand.rejected_by)})
            out["rejected"].append(rec.number)
            continue
        for r in range(repeats):
            job = job_for_candidate(cand, spec.dataset, study_seed=seed, repeat=r)
            fields = base | {"key": job.key, "config_key": job.config_key, "train": dict(job.train),
                             "data": dict(job.data), "seed": job.seed, "repeat": r}
            rec = store.queue_trial(name, fields)
            store.start_trial(name, job.key)
            acc = accuracy(cand.macs, r, seed)
            epochs = [{"epoch": e, "steps": 2 * e, "lr": 0.1, "train_loss": 2.0 / e, "train_acc": acc - 0.1 / e,
                       "val_loss": 1.5 / e, "val_acc": round(acc - 0.05 * (3 - e), 4), "seconds": 0.5,
                       "images_per_s": 128.0, "eval_seconds": 0.1} for e in (1, 2, 3)]
            if feasible == fail and r == repeats - 1:
                store.add_epoch(name, job.key, epochs[0])
                store.finish_trial(name, job.key, "failed", error="DivergenceError: loss is nan at epoch 2",
                                   node="node-a")
                out["failed"].append(rec.number)
                continue
            for e in epochs[:-1]:
                store.add_epoch(name, job.key, e)
            store.finish_trial(name, job.key, "completed", epochs=epochs[-1:], val_acc=acc, best_val_acc=acc,
                               test_acc=round(acc - 0.01, 4), node="node-a",
                               metrics={"train_seconds": 1.5, "total_seconds": 2.0, "images_per_s": 128.0,
                                        "steps": 6, "device": "cpu", "test_loss": 0.5})
            out["completed"].append((rec.number, dict(cand.values), cand.macs, acc))
        feasible += 1
    store.close()
    return out


# --------------------------------------------------------------------------------------------------------------
# A tiny real search, run once per test session through the CLI (`scalesearch run` in a subprocess)

TINY_SPEC = """study: tiny
seed: 0
dataset: {name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 300, num_test: 50, val_size: 100}
train: {epochs: 2, batch_size: 50, warmup_epochs: 0}
architecture:
  family: cifar_resnet
  args: {depth: "6 * n + 2", width: width}
parameters:
  n: {int: [1, 2]}
  width: {grid: [4, 8]}
constraints:
  - "macs <= 5 * base_macs"
baseline: {n: 1, width: 4}
search:
  sampler: grid
  repeats: 1
  objectives: {val_acc: max, macs: min}
  resources: {cpus: 1, gpus: 0}
  max_concurrency: 2
"""

def real_search(folder: Any, address: str) -> dict[str, Any]:
    """Run `scalesearch run` on TINY_SPEC (synthetic data, 4 grid points, 1 rejected) once per test session, on the
    session's Ray at `address`; returns {"url", "path", "spec", "stdout"}. `folder` is a tmp_path_factory folder:
    the run lives beside the session's base temp folder, under a file lock, so that every pytest worker (xdist)
    reads the one run. Skips the calling test when the search engine cannot run here."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pytest
    from filelock import FileLock

    pytest.importorskip("ray")
    pytest.importorskip("optuna")
    base = Path(folder).parent
    shared = base.parent if base.name.startswith("popen-gw") else base  # xdist: one base folder per worker
    root = shared / "real_search"
    root.mkdir(exist_ok=True)
    done = root / "run.json"
    with FileLock(str(root / "lock")):
        if done.exists():
            return {k: (Path(v) if k in ("path", "spec") else v) for k, v in json.loads(done.read_text()).items()}
        spec = root / "tiny.yaml"
        spec.write_text(TINY_SPEC)
        path = root / "tiny.db"
        url = f"sqlite:///{path}"
        r = subprocess.run([sys.executable, "-m", "scalesearch", "run", str(spec), "--db", url, "--address", address],
                           capture_output=True, text=True, timeout=900, cwd=root, check=False)
        if r.returncode != 0:
            raise AssertionError(f"scalesearch run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        out = {"url": url, "path": str(path), "spec": str(spec), "stdout": r.stdout}
        done.write_text(json.dumps(out))
        return {**out, "path": path, "spec": spec}
