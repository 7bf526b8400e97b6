"""The simulator's speed: simulated trials per second of wall time per strategy, on a hand-made table of N
configurations (a grid of 3 parameters, 12 epochs of 30 s each, 2 workers), side by side with the replay of the
recorded order (no sampler: the event queue alone), the sampler's asks per second (a proposal already trained is
asked again), and the ratio of simulated time to wall time (how much faster than training the replayed run is).

    .venv/bin/python benchmarks/simulate_speed.py [--configs 216] [--seeds 3] [--strategies replay,random,tpe,rea,nsga2]

No Ray, no training: Optuna's samplers on in-memory storage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import time
from types import SimpleNamespace


def table(n_side: int):
    from scalesearch.search.simulate import Table
    from scalesearch.spec import parse_spec

    vals = list(range(1, n_side + 1))
    spec = parse_spec(f"""\
study: bench
dataset: {{name: synthetic}}
architecture: {{family: cifar_resnet, args: {{width: w}}}}
parameters: {{a: {{grid: {vals}}}, b: {{grid: {vals}}}, c: {{grid: {vals}}}, w: {{derived: "4 * a"}}}}
train: {{epochs: 12}}
search: {{sampler: grid, objectives: {{val_acc: max, macs: min}}, max_concurrency: 2}}
""", "bench.yaml")
    trials, eps = [], []
    t0 = dt.datetime(2026, 1, 1)
    for n, (a, b, c) in enumerate(itertools.product(vals, vals, vals)):
        final = 0.5 + 0.3 * ((a * 7 + b * 3 + c) % 11) / 10
        trials.append(SimpleNamespace(number=n, parameters={"a": a, "b": b, "c": c}, state="completed",
                                      epochs_done=12, seconds=360.0, finished=t0 + dt.timedelta(seconds=n),
                                      macs=1e6 * a * b, params=1e3 * a, test_acc=None, val_acc=final, scores=None))
        eps += [SimpleNamespace(number=n, epoch=e, val_acc=final * (1 - 0.5 ** e), seconds=30.0) for e in range(1, 13)]
    return Table.from_records(spec, trials, eps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=216, help="rounded to a cube (216 = 6 x 6 x 6)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--strategies", default="replay,random,tpe,rea,nsga2")
    a = ap.parse_args()
    from scalesearch.search.simulate import simulate

    side = max(2, round(a.configs ** (1 / 3)))
    tab = table(side)
    print(f"table: {len(tab.entries)} configurations x 12 epochs, 2 workers")
    print(f"{'strategy':10} {'scheduler':9} {'trials/s':>10} {'vs replay':>10} {'asks/s':>10} {'sim/wall':>12}")
    base = None
    for strategy in a.strategies.split(","):
        for scheduler in ("none", "moasha"):
            rates, asks, ratios = [], [], []
            for seed in range(1 if strategy == "replay" else a.seeds):
                t = time.perf_counter()
                run = simulate(tab, strategy, scheduler=scheduler, seed=seed)
                wall = time.perf_counter() - t
                rates.append(run.trainings / wall)
                asks.append(run.asks / wall)
                ratios.append(run.trace[-1][0] / wall if run.trace else float("nan"))
            rate = statistics.median(rates)
            base = base or rate
            print(f"{strategy:10} {scheduler:9} {rate:10.0f} {rate / base:10.3f} {statistics.median(asks):10.0f} "
                  f"{statistics.median(ratios):12.3g}")


if __name__ == "__main__":
    main()
