"""The simulator's speed: simulated trainings per second of wall time per strategy (distinct configurations
started under the driver's policy), on a hand-made table of N configurations (a grid of 3 parameters, 12 epochs of
30 s each, 2 workers), side by side with the replay of the recorded order under the same scheduler (no sampler: the
event queue alone; `vs replay`), the sampler's asks per second (a proposal already trained is asked again), and the
ratio of simulated time to wall time (how much faster than training the replayed run is).

The floor of a sampler's run: Optuna's own ask, suggest and tell on the same history alone, i.e. the run's Optuna
trials asked again with the same parameters and told the same results in the same order, on a fresh in-memory study
whose sampler only hands back the recorded values (`floor/s`: the run's trainings over that time; `vs floor`: the
run's trainings/s over the floor's, 1.0 when the strategy and the simulator cost nothing beside Optuna's own ask).
REA runs its policy without an Optuna study (`scalesearch/simulate/rea_study.py`): its floor is that of the same
seed's run through REASampler in an Optuna study (`keep_study`, untimed), which asks and tells the same (tested), so
its `vs floor` above 1 is what skipping Optuna's ask gains.

    .venv/bin/python benchmarks/simulate_speed.py [--configs 216] [--seeds 3] [--strategies replay,random,tpe,rea,nsga2]

No Ray, no training: Optuna's samplers on in-memory storage. Figures are medians over the seeds (the replay, which
draws nothing, is repeated as many times), each strategy and scheduler warmed up first by a short run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import statistics
import time
from types import SimpleNamespace


def table(n_side: int):
    from scalesearch.simulate.replay import Table
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


def optuna_floor(spec, study) -> float:
    """Seconds that Optuna's own ask, suggest and tell take on `study`'s history alone (see the module docstring)."""
    import optuna

    from scalesearch.spec import sample_params

    trials = study.get_trials(deepcopy=False)
    params = {t.number: t.params for t in trials}

    class Recorded(optuna.samplers.BaseSampler):
        """Hands back each trial's recorded values: no sampling work."""

        def infer_relative_search_space(self, study, trial):
            return {}

        def sample_relative(self, study, trial, search_space):
            return {}

        def sample_independent(self, study, trial, param_name, param_distribution):
            return params[trial.number][param_name]

    # asks by start, tells by completion; an ask before a tell at the same instant (its own tell comes after it)
    events = sorted([(t.datetime_start, 0, t.number) for t in trials] +
                    [(t.datetime_complete, 1, t.number) for t in trials if t.datetime_complete is not None])
    fresh = optuna.create_study(directions=list(study.directions), sampler=Recorded())
    asked = {}
    t0 = time.perf_counter()
    for _, kind, number in events:
        if kind == 0:
            asked[number] = fresh.ask()
            sample_params(spec, asked[number])
        else:
            t = trials[number]
            if t.state == optuna.trial.TrialState.COMPLETE:
                fresh.tell(asked.pop(number), t.values)
            else:
                fresh.tell(asked.pop(number), state=t.state)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=216, help="rounded to a cube (216 = 6 x 6 x 6)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--strategies", default="replay,random,tpe,rea,nsga2")
    a = ap.parse_args()
    import scipy.stats  # noqa: F401 - imported here, not inside a timed run (mosort's rank normalisation uses it)

    from scalesearch.simulate.replay import simulate

    side = max(2, round(a.configs ** (1 / 3)))
    tab = table(side)
    print(f"table: {len(tab.entries)} configurations x 12 epochs, 2 workers")
    print(f"{'strategy':10} {'scheduler':9} {'trials/s':>10} {'vs replay':>10} {'asks/s':>10} {'sim/wall':>12} "
          f"{'floor/s':>10} {'vs floor':>10}")
    base: dict[str, float] = {}
    for strategy in a.strategies.split(","):
        for scheduler in ("none", "moasha"):
            rates, asks, ratios, floors, of_floor = [], [], [], [], []
            simulate(tab, strategy, scheduler=scheduler, seed=0, trials=2)  # warm-up: imports, first-call caches
            for seed in range(a.seeds):  # the replay draws nothing: its seeds are repeats
                gc.collect()  # the last run's garbage is not collected inside this one's time
                t = time.perf_counter()
                run = simulate(tab, strategy, scheduler=scheduler, seed=seed, keep_study=strategy != "rea")
                wall = time.perf_counter() - t
                rates.append(run.trainings / wall)
                asks.append(run.asks / wall)
                ratios.append(run.trace[-1][0] / wall if run.trace else float("nan"))
                study = run.study
                if strategy == "rea":  # the same asks and tells through REASampler and Optuna, for the floor
                    study = simulate(tab, strategy, scheduler=scheduler, seed=seed, keep_study=True).study
                if study is not None:
                    gc.collect()
                    floor = optuna_floor(tab.spec, study)
                    floors.append(run.trainings / floor)
                    of_floor.append(floor / wall)
            rate = statistics.median(rates)
            base.setdefault(scheduler, rate)  # the first strategy's: the replay when it runs first
            floor_s, vs_floor = ((f"{statistics.median(floors):10.0f}", f"{statistics.median(of_floor):10.3f}")
                                 if floors else (f"{'-':>10}", f"{'-':>10}"))
            print(f"{strategy:10} {scheduler:9} {rate:10.0f} {rate / base[scheduler]:10.3f} "
                  f"{statistics.median(asks):10.0f} {statistics.median(ratios):12.3g} {floor_s} {vs_floor}")


if __name__ == "__main__":
    main()
