"""The simulator over recorded studies: replaying a committed study in its recorded order reproduces its
completions and front; strategies, misses, schedulers and hypervolume on small hand-made tables; the command."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna")

from support.search import REPO, cli

from scalesearch.analysis import hypervolume
from scalesearch.errors import InputError
from scalesearch.simulate.replay import Table, parse_prefilter, simulate, simulate_many, simulate_study
from scalesearch.simulate.tally import summarise
from scalesearch.spec import parse_spec
from scalesearch.strategies.rungs import Rungs

DUMP = REPO / "results" / "degradation_look1" / "study.jsonl.gz"  # a real run: 4 configurations x 4 seeds, 2 workers


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> str:
    from scalesearch.search.dumpfile import load_study

    db = f"sqlite:///{tmp_path_factory.mktemp('sim')}/r.db"
    load_study(DUMP, db)
    return db


def test_replaying_a_recorded_study_in_its_order_reproduces_its_completions_and_front(recorded):
    from scalesearch.search.study import stored_spec
    from scalesearch.store import Reader

    with Reader(recorded) as r:
        spec = stored_spec(r.study("degradation_look1"))
        trials, epochs = r.trials("degradation_look1"), r.epochs("degradation_look1")
    table = Table.from_records(spec, trials, epochs)
    assert len(table.entries) == 4 and table.workers == 2 and table.epochs == 12
    run = simulate(table, "replay")
    # the recorded run, from the rows alone: configurations in the order their last repeat finished
    last: dict[str, dt.datetime] = {}
    for t in trials:
        k = table.key_of(t.parameters)
        last[k] = max(last.get(k, t.finished), t.finished)
    recorded_order = sorted(last, key=last.get)
    assert run.completed == recorded_order
    for i in range(1, len(recorded_order) + 1):  # the front after every completion is the recorded one
        assert table.front(run.completed[:i]) == table.front(recorded_order[:i])
    # each configuration's value is its repeats' mean final val_acc, as the driver tells Optuna
    for k, e in table.entries.items():
        finals = [t.val_acc for t in trials if table.key_of(t.parameters) == k]
        assert e.objective("val_acc") == pytest.approx(np.mean(finals), abs=1e-12)
    assert run.trace[-1][1] == pytest.approx(max(np.mean([t.val_acc for t in trials if table.key_of(t.parameters) == k])
                                                 for k in table.entries))
    # the simulated time of the last completion: the recorded trials' seconds as their workers measured them, started
    # in their recorded order on the first free of 2 workers (list scheduling, computed here by hand)
    free = [0.0, 0.0]
    for t in sorted(trials, key=lambda t: t.number):
        free.sort()
        assert 0 < t.metrics["total_seconds"] <= t.seconds  # the worker's time is within the driver's
        free[0] += t.metrics["total_seconds"]
    assert run.trace[-1][0] == pytest.approx(max(free))
    assert run.trace[-1][2] == 4 and run.trace[-1][3] == 16 * 12  # 4 configurations started, every epoch trained


def _table(objectives: str = "{val_acc: max}", *, missing=(), rejected=(), epochs: int = 4) -> Table:
    """A hand-made record: a: 1..4, b: x|y (8 configurations, recorded in that order), one repeat, 10 s per
    epoch; val_acc best at a = 3 and higher for y, not in the recorded order; MACs grow with a."""
    spec = parse_spec(f"""\
study: toy
dataset: {{name: synthetic}}
architecture: {{family: cifar_resnet, args: {{width: w}}}}
parameters: {{a: {{grid: [1, 2, 3, 4]}}, b: {{choice: [x, y]}}, w: {{derived: "4 * a"}}}}
train: {{epochs: {epochs}}}
search: {{sampler: grid, objectives: {objectives}, max_concurrency: 1}}
""", "toy.yaml")
    trials, eps = [], []
    n = 0
    t0 = dt.datetime(2026, 1, 1)
    for a in (1, 2, 3, 4):
        for b in ("x", "y"):
            if (a, b) in missing:
                continue
            final = 0.5 + {1: 0.3, 2: 0.1, 3: 0.4, 4: 0.2}[a] + (0.05 if b == "y" else 0)
            state = "rejected" if (a, b) in rejected else "completed"
            trials.append(SimpleNamespace(number=n, parameters={"a": a, "b": b}, state=state, epochs_done=epochs,
                                          seconds=10.0 * epochs, finished=t0 + dt.timedelta(seconds=n),
                                          macs=1e6 * a, params=1e3 * a, test_acc=None, val_acc=final,
                                          scores={"naswot": final, "synflow": -final, "snip": None}))
            if state == "completed":
                for e in range(1, epochs + 1):
                    eps.append(SimpleNamespace(number=n, epoch=e, val_acc=final * e / epochs, seconds=10.0))
            n += 1
    return Table.from_records(spec, trials, eps)


def test_each_strategy_finds_the_best_of_a_table_it_walks_whole():
    table = _table()
    best = 0.5 + 0.4 + 0.05
    for strategy in ("grid", "random", "tpe", "rea", "nsga2", "replay"):
        run = simulate(table, strategy, seed=3)
        assert sorted(run.completed) == sorted(table.entries)  # every configuration once
        assert run.trace[-1][:2] == (pytest.approx(8 * 40.0), pytest.approx(best))
        assert run.epochs == 8 * 4 and run.misses == 0


def test_a_configuration_never_recorded_is_redrawn_and_counted():
    table = _table(missing=((4, "y"), (1, "x")))
    runs = [simulate(table, "random", seed=s) for s in range(5)]
    assert all(sorted(r.completed) == sorted(table.entries) for r in runs)  # the 6 recorded ones, each once
    assert sum(r.misses for r in runs) > 0  # 2 of 8 are not recorded: random asks hit them
    assert all(r.asks == len(r.completed) + r.misses + r.known + r.rejected for r in runs)


def test_a_table_recorded_over_part_of_its_grid_is_sampled_over_that_part():
    table = _table(missing=((4, "x"), (4, "y")))  # a = 4 never trained: a study stopped before its grid was done
    assert table.narrowed == {"a": ((1, 2, 3), (1, 2, 3, 4))}
    for strategy in ("random", "tpe", "rea", "nsga2", "grid"):
        run = simulate(table, strategy, seed=2)
        assert run.misses == 0 and sorted(run.completed) == sorted(table.entries)
    assert not _table(missing=((4, "y"), (1, "x"))).narrowed  # every value of a and b recorded somewhere


def _cube(side: int, objectives: str) -> Table:
    """A hand-made record over a side^3 grid (a, b, c), 3 epochs of 10 s, 2 workers; val_acc is a hash-like
    mix of the values (ties included), MACs grow with a * b."""
    vals = list(range(1, side + 1))
    spec = parse_spec(f"""\
study: cube
dataset: {{name: synthetic}}
architecture: {{family: cifar_resnet, args: {{width: w}}}}
parameters: {{a: {{grid: {vals}}}, b: {{grid: {vals}}}, c: {{choice: {vals}}}, w: {{derived: "4 * a"}}}}
train: {{epochs: 3}}
search: {{sampler: grid, objectives: {objectives}, max_concurrency: 2}}
""", "cube.yaml")
    trials, eps = [], []
    t0 = dt.datetime(2026, 1, 1)
    for n, (a, b, c) in enumerate((a, b, c) for a in vals for b in vals for c in vals):
        final = 0.5 + 0.3 * ((a * 7 + b * 3 + c) % 5) / 4
        trials.append(SimpleNamespace(number=n, parameters={"a": a, "b": b, "c": c}, state="completed",
                                      epochs_done=3, seconds=30.0, finished=t0 + dt.timedelta(seconds=n),
                                      macs=1e6 * a * b, params=1e3 * a, test_acc=None, val_acc=final, scores=None))
        eps += [SimpleNamespace(number=n, epoch=e, val_acc=final * e / 3, seconds=10.0) for e in (1, 2, 3)]
    return Table.from_records(spec, trials, eps)


@pytest.mark.parametrize("objectives,scheduler", [("{val_acc: max}", "none"), ("{val_acc: max, macs: min}", "none"),
                                                  ("{val_acc: max, macs: min}", "moasha")])
def test_rea_in_the_simulator_makes_the_samplers_choices_without_an_optuna_study(objectives, scheduler):
    """The simulator runs REA's policy in memory (`rea_study`); with `keep_study` it runs REASampler in an Optuna
    study: the same seed gives the same asks, the same configurations in the same order and the same trace."""
    from scalesearch.strategies.rea import REASampler

    table = _cube(4, objectives)  # 64 configurations: P = 12, S = 3, most of the run is evolution
    for seed in range(3):
        plain = simulate(table, "rea", seed=seed, scheduler=scheduler)
        optuna_run = simulate(table, "rea", seed=seed, scheduler=scheduler, keep_study=True)
        assert plain.study is None and isinstance(optuna_run.study.sampler, REASampler)
        assert plain.completed == optuna_run.completed and plain.trace == optuna_run.trace
        assert (plain.asks, plain.known, plain.stopped) == (optuna_run.asks, optuna_run.known, optuna_run.stopped)
        assert plain.known > 0  # children already trained were proposed and told, as the driver tells them


def test_reas_population_keeps_its_dominance_matrix_as_members_join_and_leave():
    from scalesearch.strategies.rea import Evolution, dominance

    rng = np.random.default_rng(0)
    evo = Evolution(population=6, tournament=2, directions=["maximize", "minimize", "minimize"], seed=0)
    for i in range(40):
        values = rng.integers(0, 3, size=3).astype(float).tolist()  # small integers: many ties
        evo.tell({"i": i}, values)
        assert [m["i"] for m in evo.members] == list(range(max(0, i - 5), i + 1))  # the last P, oldest first
        assert np.array_equal(evo.values[-1], np.array(values) * [-1, 1, 1])
        assert np.array_equal(evo.dom, dominance(evo.values))


def test_random_over_a_finite_space_draws_each_point_once_uniformly():
    """`random` over a finite space draws without replacement: the first N draws are the N points, each point is
    as likely first (2,400 seeds, 24 points: 100 expected each, every count within 60-140), and a run proposes no
    configuration twice, so that it asks once per training, rejection or miss and trains every recorded one. With
    a prefilter Optuna's RandomSampler is kept: its pools hold redraws, as the driver's do."""
    from scalesearch.simulate.table import DistinctDraws

    space = {"a": [1, 2, 3, 4], "b": ["x", "y"], "c": [0.5, 1.5, 2.5]}
    points = {(a, b, c) for a in space["a"] for b in space["b"] for c in space["c"]}
    d = DistinctDraws(space, seed=0)
    drawn = [tuple(d.draw().values()) for _ in range(24)]
    assert set(drawn) == points and len(drawn) == 24 and d.left == 0
    assert tuple(d.draw().values()) in points  # used up: any point
    first = {p: 0 for p in points}
    for seed in range(2400):
        first[tuple(DistinctDraws(space, seed).draw().values())] += 1
    assert 60 <= min(first.values()) and max(first.values()) <= 140
    table = _table(missing=((4, "y"), (1, "x")), rejected=((2, "x"),))
    for seed in range(5):
        run = simulate(table, "random", seed=seed)
        assert sorted(run.completed) == sorted(table.entries) and run.known == 0
        assert run.asks == len(run.completed) + run.misses + run.rejected and run.misses <= 2 and run.rejected <= 1
    pooled = simulate(_table(), "random", seed=0, trials=1, prefilter=("naswot", 64, 1))
    assert pooled.known > 0  # 64 proposals over 8 configurations: RandomSampler's redraws


def test_a_trials_time_is_what_its_worker_measured_not_its_wait_for_a_worker():
    """A study run with fewer CPUs than trials at a time records, from the driver, the wait for a free worker too;
    the table takes the worker's own `total_seconds` (the simulator models the wait with its own workers), and the
    driver's seconds where a record has none."""
    spec = parse_spec("study: t\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\n"
                      "parameters: {a: {grid: [1, 2]}}\ntrain: {epochs: 2}\nsearch: {sampler: grid}\n", "t.yaml")
    trials = [SimpleNamespace(number=n, parameters={"a": n + 1}, state="completed", epochs_done=2, seconds=100.0,
                              metrics={"total_seconds": 10.0} if n == 0 else {}, finished=dt.datetime(2026, 1, 1),
                              macs=1e6, params=1e3, test_acc=None, val_acc=0.5, scores={}) for n in range(2)]
    eps = [SimpleNamespace(number=n, epoch=e, val_acc=0.5, seconds=3.0 if e == 1 else 1.0) for n in range(2)
           for e in (1, 2)]
    table = Table.from_records(spec, trials, eps)
    first, second = (table.entries[table.key_of({"a": a})] for a in (1, 2))
    assert first.seconds == ((7.5, 2.5),)  # 10 s spread as the epochs' own seconds were (3:1)
    assert second.seconds == ((75.0, 25.0),)


def test_rejected_configurations_take_no_time():
    table = _table(rejected=((1, "x"), (2, "x")))
    run = simulate(table, "grid")
    assert run.rejected == 2 and len(run.completed) == 6 and run.trace[-1][0] == pytest.approx(6 * 40.0)


def test_asha_in_the_simulator_stops_by_the_rung_rule_and_saves_epochs():
    table = _table(epochs=9)
    run = simulate(table, "replay", scheduler="asha", grace_epochs=1, reduction_factor=3)
    rungs = Rungs(1, 3, 9)  # by hand, in the replay's order (one worker): stopped where the rule says
    stopped = 0
    for key in sorted(table.entries, key=lambda k: table.entries[k].orders[0]):
        e = table.entries[key]
        for epoch in range(1, 9):
            d = rungs.on_result((key, 0), epoch, [-e.objective("val_acc", epoch, 0)])
            if d is not None and not d.go_on:
                stopped += 1
                break
    assert run.stopped == stopped > 0 and len(run.completed) == 8 - stopped
    assert run.epochs < 8 * 9
    # hyperband: brackets dealt in turn; its last bracket trains fully, so it stops fewer than one bracket does
    hb = simulate(table, "replay", scheduler="hyperband", grace_epochs=1, reduction_factor=3)
    assert 0 < hb.stopped < run.stopped and run.epochs < hb.epochs < 8 * 9


def test_a_prefilter_trains_the_best_of_its_pool_by_the_stored_score_and_drops_the_rest():
    table = _table()  # naswot stored = the final val_acc (an oracle), synflow = its negative, snip missing
    best = max(table.entries, key=lambda k: table.vector(k)[0])
    worst = min(table.entries, key=lambda k: table.vector(k)[0])
    for seed in range(3):
        # a pool of 64 random proposals over 8 configurations holds all 8 (checked: dropped == 7), so keep 1 of
        # them trains the best by the oracle and the worst by its negative
        oracle = simulate(table, "random", seed=seed, trials=1, prefilter=("naswot", 64, 1))
        assert oracle.completed == [best] and oracle.dropped == 7 and oracle.trainings == 1
        anti = simulate(table, "random", seed=seed, trials=1, prefilter=("synflow", 64, 1))
        assert anti.completed == [worst] and anti.dropped == 7
    for strategy in ("random", "tpe", "rea", "nsga2"):
        run = simulate(table, strategy, seed=1, prefilter=("naswot", 4, 2))
        # every configuration is trained once or dropped once; a dropped one is never trained after
        assert len(run.completed) + run.dropped == 8 and len(set(run.completed)) == len(run.completed)
        assert best in run.completed and run.dropped > 0
        assert run.asks == len(run.completed) + run.stopped + run.misses + run.known + run.rejected + run.dropped
    # a missing score ranks last: keep 7 of a pool holding all 8 drops one, by the earlier-proposal tie rule
    nan = simulate(table, "random", seed=0, trials=7, prefilter=("snip", 64, 7))
    assert len(nan.completed) == 7 and nan.dropped == 1
    runs = simulate_many(table, ["random", "grid"], prefilters=[None, ("naswot", 64, 1)], seeds=3)
    _, summary = summarise(table, runs)
    assert sorted(summary.strategy) == ["grid", "random", "random [naswot 64->1]"]  # no prefilter for grid
    row = summary.set_index("strategy").loc["random [naswot 64->1]"]
    assert row["trainings_to_98"] == 1 and row["epochs_to_98"] == 4 and row["of_best"] == pytest.approx(1.0)
    # each row against its baseline: the prefiltered sampler against the same sampler, any other against random,
    # by Welch's interval over the seeds' trainings to 98% (checked against scipy's)
    from scipy import stats

    def to_98(label: str) -> list[float]:
        best = table.anytime(list(table.entries))
        return [next(n for _, v, n, _ in r.trace if v >= 0.98 * best) for r in runs if r.strategy == label]

    rows = summary.set_index("strategy")
    assert rows.loc["random", "vs"] == "" and math.isnan(rows.loc["random", "trainings_vs"])
    assert rows.loc["random [naswot 64->1]", "vs"] == "random" and rows.loc["grid", "vs"] == "random"
    a, b = to_98("random [naswot 64->1]"), to_98("random")
    with warnings.catch_warnings():  # the oracle's trainings are all 1: scipy warns of their zero variance
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert rows.loc["random [naswot 64->1]", "trainings_vs"] == pytest.approx(np.mean(a) - np.mean(b))
    assert [rows.loc["random [naswot 64->1]", "trainings_vs_lo"], rows.loc["random [naswot 64->1]", "trainings_vs_hi"]] \
        == pytest.approx([ci.low, ci.high])
    assert math.isnan(rows.loc["grid", "trainings_vs"])  # one grid run: no interval
    with pytest.raises(InputError, match="fixed order"):
        simulate(table, "grid", prefilter=("naswot", 4, 2))
    assert parse_prefilter("none") is None and parse_prefilter("macs:16:4") == ("macs", 16, 4)
    for bad in ("naswot:4:8", "jacob:16:4", "naswot:16", "naswot:a:4"):
        with pytest.raises(InputError, match="SCORE:POOL:KEEP"):
            parse_prefilter(bad)


def test_two_objectives_use_the_hypervolume_and_reach_the_tables():
    table = _table("{val_acc: max, macs: min}")
    pts = [[e.objective("val_acc"), e.macs] for e in table.entries.values()]
    whole = hypervolume(pts, table.reference(), ["max", "min"])
    assert whole > 0 and table.anytime(list(table.entries)) == pytest.approx(whole)
    runs = simulate_many(table, ["random", "nsga2"], ["none", "moasha"], seeds=3)
    curves, summary = summarise(table, runs)
    none = summary[summary.scheduler == "none"]
    assert none["of_best"].tolist() == pytest.approx([1.0, 1.0])  # every configuration evaluated: the whole volume
    moasha = summary[summary.scheduler == "moasha"]
    assert (moasha["epochs"] < none["epochs"].to_numpy()).all()
    assert set(curves.columns) >= {"strategy", "scheduler", "time_s", "mean", "lo", "hi"}
    assert not math.isnan(curves["mean"].iloc[-1])


def test_simulate_study_and_the_command(recorded, tmp_path: Path):
    sim = simulate_study("degradation_look1", db=recorded, strategies=["random", "replay"], seeds=4)
    assert set(sim.summary.strategy) == {"random", "replay"}
    assert "4 recorded configurations x 4 repeat(s)" in sim.text()
    r = cli("simulate", "degradation_look1", "--db", recorded, "--strategies", "random,rea", "--seeds", "3",
            "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    for name in ("simulate_curves.csv", "simulate_summary.csv", "simulate.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    bad = cli("simulate", "degradation_look1", "--db", recorded, "--strategies", "random,evolve")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown strategy 'evolve'" in bad.stderr
    pf = cli("simulate", "degradation_look1", "--db", recorded, "--strategies", "random", "--seeds", "2",
             "--prefilter", "none,params:4:1")
    assert pf.returncode == 0, pf.stderr
    assert "random [params 4->1]" in pf.stdout and "dropped" in pf.stdout
    badpf = cli("simulate", "degradation_look1", "--db", recorded, "--prefilter", "naswot:2:3")
    assert badpf.returncode == 2 and badpf.stderr.count("\n") == 1 and "--prefilter" in badpf.stderr
    gone = cli("simulate", "nosuch", "--db", recorded)
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and "nosuch" in gone.stderr


def test_the_speed_benchmark_runs_on_a_small_table():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "simulate_speed.py"), "--configs", "8", "--seeds",
                        "1", "--strategies", "replay,random,rea"], check=False, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "table: 8 configurations x 12 epochs" in r.stdout
    lines = r.stdout.splitlines()
    assert lines[1].split() == ["strategy", "scheduler", "trials/s", "vs", "replay", "asks/s", "sim/wall", "floor/s",
                                "vs", "floor"]
    rows = [line.split() for line in lines[2:]]
    assert [row[:2] for row in rows] == [["replay", "none"], ["replay", "moasha"], ["random", "none"],
                                         ["random", "moasha"], ["rea", "none"], ["rea", "moasha"]]
    assert [row[3] for row in rows[:2]] == ["1.000", "1.000"]  # each scheduler's replay is its own baseline
    assert [row[6:] for row in rows[:2]] == [["-", "-"], ["-", "-"]]  # no sampler, no Optuna floor
    assert all(float(x) > 0 for row in rows[2:] for x in row[6:])


def test_rung_settings_pair_each_seed_with_the_same_sampler_without_early_stopping():
    from scalesearch.simulate.rung_settings import RungSetting, compare_rung_settings

    table = _table("{val_acc: max, macs: min}", epochs=4)
    rows = compare_rung_settings(table, [RungSetting(1, 2), RungSetting(2, 2), RungSetting(1, 2, 2.0)], range(3))
    assert len(rows) == 9 and set(rows["setting"]) == {"grace 1, eta 2", "grace 2, eta 2", "grace 1, eta 2, bands x2"}
    # without early stopping every configuration of the table is trained to its end: its front is the table's
    best = table.anytime(list(table.entries))
    assert np.allclose(rows["value_plain"], best) and (rows["epochs_plain"] == 8 * 4).all()
    assert (rows["configurations"] == 8).all()  # the same number of configurations started
    assert (rows["value_ratio"] <= 1 + 1e-12).all() and (rows["epoch_ratio"] <= 1).all()
    assert (rows["epoch_ratio"] < 1).any() and (rows["stopped"] > 0).any()  # the rungs stopped some


def test_the_goal_is_judged_on_other_seeds_than_the_setting_was_chosen_on():
    import pandas as pd

    from scalesearch.simulate.rung_settings import judge_goal

    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"setting": name, "seed": s, "value_ratio": v + 0.002 * rng.standard_normal(),
                          "epoch_ratio": e + 0.01 * rng.standard_normal()}
                         for name, v, e in (("cheap", 0.95, 0.2), ("good", 0.995, 0.4), ("dear", 0.999, 0.7))
                         for s in range(10)])
    summary, verdict = judge_goal(rows, select=range(5), report=range(5, 10))
    assert verdict.chosen == "good" and verdict.verdict == "met" and verdict.seeds == 5
    assert list(summary["setting"]) == ["cheap", "good", "dear"]
    _, missed = judge_goal(rows[rows["setting"] != "good"], select=range(5), report=range(5, 10))
    assert missed.chosen == "dear" and missed.verdict == "missed"  # none meets it: the best value, too dear
    with pytest.raises(InputError, match="must differ"):
        judge_goal(rows, select=range(6), report=range(5, 10))


def test_the_rung_settings_script_on_a_recorded_study(recorded, tmp_path: Path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(REPO / "scripts" / "rung_settings.py"), "degradation_look1", "--db",
                        recorded, "--settings", "1:2,2:2", "--seeds", "4", "--sampler", "random", "--scheduler",
                        "asha", "--out", str(tmp_path / "out")], check=False, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "choosing half" in r.stdout and "judging half" in r.stdout and "goal: grace " in r.stdout
    rows = __import__("pandas").read_csv(tmp_path / "out" / "rows.csv")
    assert len(rows) == 2 * 4 and set(rows["seed"]) == {0, 1, 2, 3}
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "rung_settings.py"), "degradation_look1", "--db",
                          recorded, "--settings", "1-2"], check=False, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--settings" in bad.stderr


def test_the_command_promotes_within_cost_bands_for_moasha_only(tmp_path: Path):
    from scalesearch.search.dumpfile import load_study

    db = f"sqlite:///{tmp_path}/b.db"
    load_study(REPO / "results" / "benchmark_proxy" / "first_corner" / "study.jsonl.gz", db)  # val_acc and MACs
    common = ("simulate", "benchmark_proxy", "--db", db, "--strategies", "random", "--seeds", "2")
    ok = cli(*common, "--scheduler", "moasha", "--cost-band", "4")
    assert ok.returncode == 0, ok.stderr
    assert any(line.split()[:2] == ["random", "moasha"] for line in ok.stdout.splitlines())
    for extra, message in ((["--scheduler", "asha", "--cost-band", "4"], "apply to moasha"),
                           (["--scheduler", "moasha", "--cost-band", "1"], "ratio > 1")):
        bad = cli(*common, *extra)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr


def test_a_warm_start_is_told_before_the_first_ask_and_is_not_a_training():
    from scalesearch.search.warmstart import WARM_ATTR, warm_trials

    table = _table()
    old = [({"a": a, "b": "y"}, [0.9], i) for i, a in enumerate((1, 2, 3, 4))] + [({"a": 9, "b": "x"}, [0.1], 9)]
    told = warm_trials(table.spec, old, "old")
    assert len(told) == 5 and told[-1].params == {"b": "x"}  # a = 9 is not in the new grid: told with b only
    for strategy in ("rea", "tpe", "nsga2"):
        run = simulate(table, strategy, seed=0, warm_start=told, keep_study=True)
        assert sorted(run.completed) == sorted(table.entries) and run.trainings == 8  # told trials train nothing
        trials = run.study.get_trials(deepcopy=False)
        assert [t.user_attrs.get(WARM_ATTR) for t in trials[:5]] == ["old"] * 5
        assert not any(WARM_ATTR in t.user_attrs for t in trials[5:])
    with pytest.raises(InputError, match="replay proposes in the recorded order"):
        simulate(table, "replay", warm_start=told)


def test_the_warm_start_script_pairs_cold_and_warm_runs_by_seed(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "warm_start.py"), "--dump", str(DUMP), "--param",
                        "depth", "--old", "56", "--strategies", "rea,random", "--seeds", "3", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "old study = 2 configurations with depth in [56] (2 told;" in r.stdout
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert len(rows) == 2 * 3 * 2 and set(rows.start) == {"cold", "warm"}
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("strategy")
    # random ignores what it is told: the same draws, cold or warm
    assert summary.loc["random", "warm_minus_cold"] == 0 and summary.loc["random", "paired"] == 3
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "warm_start.py"), "--dump", str(DUMP), "--param",
                          "nosuch"], capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--param nosuch" in bad.stderr
