"""A simulator over a recorded study: replay it as a tabular benchmark to compare search strategies without
training (Syne Tune's blackbox simulator is the model; Eggensperger et al. 2021 and Klein & Hutter 2019 argue
for tabular replays).

The table (`scalesearch.simulate.table`): every configuration the study trained to its full number of epochs in
every repeat, with its per-epoch val_acc, times, costs and scores; the configurations a constraint rejected.

A run: an event queue with the recorded number of workers (`max_concurrency`). A free worker asks the strategy's
Optuna sampler (the same classes `scalesearch run` builds, `study.make_sampler`) for a configuration through the
spec's own parameters (`sample_params`); REA, our own sampler, runs its policy in memory instead
(`simulate.rea_study`: the same choices as REASampler seeded alike, without Optuna's ask and storage), except with a
prefilter, a warm start or `keep_study`. A rejected one is told PRUNED at once; one already evaluated in this run is
told its value at once (the driver's dedupe); one the table does not hold is told FAIL, redrawn and counted
(`misses`). Otherwise it "trains": each epoch ends after its recorded seconds, reporting its recorded val_acc to
the scheduler (`none`, `asha` on val_acc, `moasha` on the objectives, `hyperband` on val_acc over its brackets,
dealt to the jobs in turn as they start: all `Rungs`, as in a real search). As in a real search, each
repeat is a job of its own on a worker, and a configuration is told when all its repeats have ended: PRUNED when
the scheduler stopped one, COMPLETE otherwise, with its objectives (val_acc: the repeats' mean). The anytime
value after every event is the table's anytime value of the completed configurations (best objective or
hypervolume; the whole table's front has the largest volume any run can reach).

`replay` is a strategy of its own: the recorded configurations in the recorded order. With the recorded workers
it reproduces the recorded run's completions, so its front after every completion is the recorded one.

A prefilter (`prefilter=(score, pool, keep)`, the spec's `search.prefilter`) is replayed as the driver runs it: the
sampler proposes `pool` candidates, the new recorded ones are ranked by the score stored with their record (a
training-free score, or the counted `params` or `macs`; higher is better, a missing score ranks last), the best
`keep` train and the others are told PRUNED and never trained in that run (`Run.dropped`). Scoring takes no
simulated time (a few forward and backward passes of one mini-batch, small beside a training).

`random` without a prefilter over a finite space that RandomSampler draws uniformly (every sampled parameter a grid,
a choice or an int range without log, at most `MAX_GRID` points; not a float range: Optuna's values on its step,
e.g. 0.30000000000000004, are not the listed ones) draws without replacement (`DistinctDraws`): each ask is uniform
over the points not drawn yet, and the run ends when none is left. Under the driver's policy this trains the same
configurations in the same order, in distribution, as RandomSampler: its redraws of a point already drawn start
nothing and take no simulated time (told at once as known, rejected or not recorded), so its distinct draws are a
uniformly random order too; what differs is the asks, and that a search near the end of its grid is not ended by 200
redraws in a row (the driver's exhaustion rule). The seeded draws differ from RandomSampler's. With a prefilter,
RandomSampler is kept: the driver's pool of `pool` asks holds redraws, which a draw without replacement would not.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import InputError
from scalesearch.search.ask import MAX_IDLE_PROPOSALS
from scalesearch.simulate.rea_study import EvolutionStudy
from scalesearch.simulate.table import DistinctDraws, Entry, Table, config_key
from scalesearch.simulate.tally import summarise
from scalesearch.strategies.names import PREFILTER_SCORES, SIMULATED_SCHEDULERS, SIMULATED_STRATEGIES
from scalesearch.strategies.rungs import Rungs, rung_plan

__all__ = ["Entry", "Run", "Simulation", "Table", "load_table", "parse_prefilter", "simulate", "simulate_many",
           "simulate_study", "strategy_label"]



@dataclass
class Run:
    """One simulated run: its anytime trace (after each completion: time, value, trainings started so far, epochs
    trained so far), what it trained, and what the strategy asked for."""

    strategy: str  # with a prefilter: "<sampler> [<score> <pool>-><keep>]"
    scheduler: str
    seed: int
    trace: list[tuple[float, float, int, int]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # configuration keys in completion order
    stopped: int = 0
    epochs: int = 0  # epochs trained in all
    asks: int = 0
    misses: int = 0
    rejected: int = 0
    known: int = 0
    dropped: int = 0  # candidates a prefilter ranked out of its pool: told PRUNED, never trained
    wall_s: float = 0.0
    study: Any = field(default=None, repr=False)  # the run's Optuna study, with `simulate(keep_study=True)`

    @property
    def trainings(self) -> int:
        """Configurations started (completed or stopped)."""
        return len(self.completed) + self.stopped


def _sampler(table: Table, strategy: str, trials: int, seed: int, prefilter: tuple[str, int, int] | None) -> Any:
    import optuna

    from scalesearch.search.study import make_sampler
    from scalesearch.spec import MAX_GRID, grid_size, grid_space

    uniform = all(p.kind in ("grid", "choice") or (p.kind == "int" and not p.log) for p in table.spec.sampled)
    if strategy == "random" and prefilter is None and uniform and 0 < grid_size(table.spec) <= MAX_GRID:
        class DistinctRandom(optuna.samplers.BaseSampler):
            """`random` without replacement (see the module docstring): one `DistinctDraws` point per trial."""

            def __init__(self) -> None:
                self.draws = DistinctDraws(grid_space(table.spec), seed)
                self.asked: tuple[int, dict[str, Any]] = (-1, {})

            def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
                return {}

            def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
                return {}

            def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
                if self.asked[0] != trial.number:
                    self.asked = (trial.number, self.draws.draw())
                return self.asked[1][param_name]

        return DistinctRandom()
    return make_sampler(_strategy_spec(table, strategy, trials), seed)


def _strategy_spec(table: Table, strategy: str, trials: int) -> Any:
    """The table's spec with `strategy` as its sampler (REA's P and S: the recorded study's, if it ran REA)."""
    s = table.spec.search
    search = dataclasses.replace(s, sampler=strategy, trials=trials,
                                 population=s.population if s.sampler == "rea" else None,
                                 tournament=s.tournament if s.sampler == "rea" else None)
    return dataclasses.replace(table.spec, search=search)


def _valid_prefilter(score: str, pool: int, keep: int) -> bool:
    return score in PREFILTER_SCORES and 1 <= keep <= pool


def parse_prefilter(text: str) -> tuple[str, int, int] | None:
    """`none` or `SCORE:POOL:KEEP` (e.g. `naswot:16:4`) as simulate's `prefilter`."""
    if text.strip() == "none":
        return None
    parts = text.strip().split(":")
    ok = len(parts) == 3 and all(p.isdigit() for p in parts[1:])
    if not ok or not _valid_prefilter(parts[0], int(parts[1]), int(parts[2])):
        raise InputError(f"--prefilter: {text!r} is not none or SCORE:POOL:KEEP with SCORE one of "
                         f"{', '.join(PREFILTER_SCORES)} and 1 <= KEEP <= POOL (e.g. naswot:16:4)")
    return parts[0], int(parts[1]), int(parts[2])


def strategy_label(strategy: str, prefilter: tuple[str, int, int] | None) -> str:
    """A run's strategy as the summary names it: the sampler, and its prefilter if any."""
    return strategy if prefilter is None else f"{strategy} [{prefilter[0]} {prefilter[1]}->{prefilter[2]}]"


def simulate(table: Table, strategy: str, *, scheduler: str = "none", seed: int = 0, trials: int | None = None,
             budget_s: float | None = None, workers: int | None = None, grace_epochs: int = 1,
             reduction_factor: int = 3, prefilter: tuple[str, int, int] | None = None,
             keep_study: bool = False, cost_band: float | None = None, warm_start: Sequence[Any] = ()) -> Run:
    """One simulated run (see the module docstring). `trials`: configurations to start (default: as many as the
    table holds); `budget_s`: simulated seconds after which nothing new starts; `prefilter`: (score, pool, keep);
    `keep_study`: keep the run's Optuna study in `Run.study` (what it was asked and told, for a benchmark; REA then
    runs as REASampler in that study);
    `cost_band`: MO-ASHA's rungs compare trials within cost bands of this ratio (`strategies.rungs.cost_bands`);
    `warm_start`: Optuna trials told to the sampler before its first ask, as a warm-started study's first run tells
    them (`scalesearch.search.warmstart.warm_trials`); they are not this run's trainings."""
    import optuna

    from scalesearch.spec import sample_params

    if strategy not in SIMULATED_STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; expected one of {', '.join(SIMULATED_STRATEGIES)}")
    if prefilter is not None:
        if strategy in ("replay", "grid"):
            raise InputError(f"a prefilter ranks a sampler's proposals; {strategy} proposes in a fixed order")
        if not _valid_prefilter(*prefilter):
            raise InputError(f"prefilter {prefilter!r}: expected (score, pool, keep) with score one of "
                             f"{', '.join(PREFILTER_SCORES)} and 1 <= keep <= pool")
    if scheduler not in SIMULATED_SCHEDULERS:
        raise InputError(f"unknown scheduler {scheduler!r}; expected one of {', '.join(SIMULATED_SCHEDULERS)}")
    if scheduler == "moasha" and any(n not in ("val_acc", "macs", "params") for n, _ in table.objectives):
        raise InputError("moasha ranks by val_acc and the counted costs; this study's objectives include others")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    trials = trials or len(table.entries)
    run = Run(strategy_label(strategy, prefilter), scheduler, seed)
    directions = ["maximize" if d == "max" else "minimize" for _, d in table.objectives]
    replay = sorted(table.entries, key=lambda k: table.entries[k].orders[0]) if strategy == "replay" else None
    plain = strategy == "rea" and prefilter is None and not warm_start and not keep_study
    sampler = None if replay is not None or plain else _sampler(table, strategy, trials, seed, prefilter)
    draws = getattr(sampler, "draws", None)  # random without replacement: nothing left to draw ends the run
    study: Any = None if sampler is None else optuna.create_study(directions=directions, sampler=sampler)
    if plain:  # REA's policy without an Optuna study (`rea_study`): the same draws, little beside the queue
        study = EvolutionStudy(table.spec, *_strategy_spec(table, strategy, trials).search.rea(), directions, seed)
    if warm_start:
        if study is None:
            raise InputError("a warm start tells a sampler old results; replay proposes in the recorded order")
        study.add_trials(list(warm_start))
    brackets, deal, rung_objectives = (([], [], ()) if scheduler == "none" else
                                       rung_plan(scheduler, grace_epochs, reduction_factor, table.epochs,
                                                 table.objectives, band_ratio=cost_band))
    bracket_of: dict[tuple[str, int], Rungs] = {}  # each job's bracket, dealt in `deal`'s order as jobs start
    values: dict[str, list[float]] = {}  # configurations told so far in this run
    queue: list[tuple[float, int, str, int, int]] = []  # (time, tie, key, repeat, epoch): an epoch's end
    pending: list[tuple[str, int]] = []  # jobs waiting for a worker, in the order they were queued
    waiting: dict[str, list[Any]] = {}  # key -> [optuna trials waiting for it, repeats left, stopped]
    stopped_keys: set[str] = set()
    dropped_keys: set[str] = set()  # ranked out of a prefilter's pool: never trained in this run
    started_jobs = [0]  # configurations that started training (their first repeat), stopped ones included
    front: list[str] = []  # the completed configurations' Pareto front, kept as they complete
    current = [math.nan]
    signs = [-1.0 if d == "max" else 1.0 for _, d in table.objectives]
    tie = itertools.count()
    now, busy, started, in_a_row = 0.0, 0, 0, 0
    if replay is not None:  # the recorded jobs in their recorded order
        jobs = sorted((n, k, r) for k in replay for r, n in enumerate(table.entries[k].orders))
        replay_jobs = [(k, r) for _, k, r in jobs]

    def tell(trial: Any, key: str | None, state: str) -> None:
        if study is None or trial is None:
            return
        if state == "COMPLETE":
            study.tell(trial, values[key])
        else:
            study.tell(trial, state=getattr(optuna.trial.TrialState, state))

    def claim() -> bool:
        """Claim one new configuration (its repeats queued as jobs); False when the strategy has nothing left."""
        nonlocal started, in_a_row
        while True:
            if (budget_s is not None and now >= budget_s) or in_a_row >= MAX_IDLE_PROPOSALS:  # the driver's rule
                return False
            if replay is not None:
                if started >= len(replay_jobs):
                    return False
                key, repeat = replay_jobs[started]
                started += 1
                run.asks += 1
                if key not in waiting:
                    values[key] = list(table.vector(key))
                    waiting[key] = [[], len(table.entries[key].curves), False]
                pending.append((key, repeat))
                return True
            if started >= trials or (draws is not None and not draws.left):
                return False
            if prefilter is not None:
                if claim_pool():
                    return True
                continue
            trial = study.ask()
            key = config_key(sample_params(table.spec, trial))
            run.asks += 1
            if not usual(trial, key):
                start(trial, key)
                return True

    def usual(trial: Any, key: str) -> bool:
        """Tell a proposal that starts nothing (rejected, not recorded, known, dropped) and count it; False for a
        new recorded configuration, which the caller starts or ranks."""
        nonlocal in_a_row
        if key in table.rejected or key in dropped_keys:  # a prefilter's drop is stored as rejected too
            run.rejected += 1
            tell(trial, key, "PRUNED")
        elif key not in table.entries:
            run.misses += 1
            tell(trial, key, "FAIL")
        elif key in values:  # evaluated, or training: told its value now or when it ends (the driver's dedupe)
            run.known += 1
            if key in stopped_keys:
                tell(trial, key, "PRUNED")
            elif key in waiting:
                waiting[key][0].append(trial)
            else:
                tell(trial, key, "COMPLETE")
        else:
            return False
        in_a_row += 1
        return True

    def start(trial: Any, key: str) -> None:
        """Claim a new recorded configuration: its repeats queued as jobs."""
        nonlocal started, in_a_row
        in_a_row = 0
        entry = table.entries[key]
        values[key] = list(table.vector(key))
        waiting[key] = [[trial], len(entry.curves), False]
        pending.extend((key, r) for r in range(len(entry.curves)))
        started += 1

    def claim_pool() -> bool:
        """The prefilter: `pool` proposals, the best `keep` new ones by their recorded score start, the other new
        ones are dropped (told PRUNED); a configuration proposed twice in one pool is told with its first copy."""
        assert prefilter is not None
        name, pool, keep = prefilter
        ranked: list[tuple[float, int, str, Any]] = []
        again: list[tuple[Any, str]] = []
        for i in range(pool):
            trial = study.ask()
            key = config_key(sample_params(table.spec, trial))
            run.asks += 1
            if any(k == key for _, _, k, _ in ranked):
                again.append((trial, key))
            elif not usual(trial, key):
                value = table.entries[key].score(name)
                ranked.append((-math.inf if value is None else value, -i, key, trial))
        ranked.sort(key=lambda x: (x[0], x[1]), reverse=True)  # best first; ties: the earlier proposal
        n_keep = min(keep, trials - started)
        for rank, (_, _, key, trial) in enumerate(ranked):
            if rank < n_keep:
                start(trial, key)
            else:
                run.dropped += 1
                dropped_keys.add(key)
                tell(trial, key, "PRUNED")
        for trial, key in again:
            usual(trial, key)
        return n_keep > 0 and bool(ranked)

    def job_ended(key: str, stopped: bool) -> None:
        w = waiting[key]
        w[1] -= 1
        w[2] = w[2] or stopped
        if w[1]:
            return
        del waiting[key]
        for trial in w[0]:
            tell(trial, key, "PRUNED" if w[2] else "COMPLETE")
        if w[2]:
            run.stopped += 1
            stopped_keys.add(key)  # stored as stopped: a later ask of it is told PRUNED, not trained again
        else:
            run.completed.append(key)
            if not front or not _dominated(table.vector(key), [table.vector(k) for k in front], signs):
                front[:] = [k for k in front if not _dominated(table.vector(k), [table.vector(key)], signs)] + [key]
                current[0] = table.anytime(front)  # the anytime value is the front's
            run.trace.append((now, current[0], started_jobs[0], run.epochs))

    n_workers = workers or table.workers
    while True:
        while busy < n_workers and (pending or claim()):
            key, repeat = pending.pop(0)
            if brackets:
                bracket_of[(key, repeat)] = brackets[deal[len(bracket_of) % len(deal)]]
            if repeat == 0:
                started_jobs[0] += 1
            heapq.heappush(queue, (now + table.entries[key].seconds[repeat][0], next(tie), key, repeat, 1))
            busy += 1
        if not queue:
            break
        now, _, key, repeat, epoch = heapq.heappop(queue)
        entry = table.entries[key]
        run.epochs += 1
        if brackets and epoch < table.epochs:
            vec = [-entry.objective(n, epoch, repeat) if d == "max" else entry.objective(n, epoch, repeat)
                   for n, d in rung_objectives]
            decision = bracket_of[(key, repeat)].on_result((key, repeat), epoch, vec)
            if decision is not None and not decision.go_on:
                busy -= 1
                job_ended(key, stopped=True)
                continue
        if epoch < table.epochs:
            heapq.heappush(queue, (now + entry.seconds[repeat][epoch], next(tie), key, repeat, epoch + 1))
            continue
        busy -= 1
        job_ended(key, stopped=False)
    run.wall_s = time.perf_counter() - t0
    run.study = study if keep_study else None
    return run


def simulate_many(table: Table, strategies: Sequence[str], schedulers: Sequence[str] = ("none",), *,
                  seeds: int = 20, prefilters: Sequence[tuple[str, int, int] | None] = (None,),
                  **kw: Any) -> list[Run]:
    """Every strategy x scheduler x prefilter x seed (`replay` and `grid` once per scheduler: they draw nothing at
    random, and without a prefilter: they propose in a fixed order)."""
    out = []
    for strategy in strategies:
        for scheduler in schedulers:
            for prefilter in prefilters:
                if prefilter is not None and strategy in ("replay", "grid"):
                    continue
                for seed in range(1 if strategy in ("replay", "grid") else seeds):
                    out.append(simulate(table, strategy, scheduler=scheduler, seed=seed, prefilter=prefilter, **kw))
    return out


def _dominated(v: Sequence[float], others: Sequence[Sequence[float]], signs: Sequence[float]) -> bool:
    """Whether some point of `others` dominates v (signs: -1 for a maximised objective); an equal point does not."""
    a = [x * s for x, s in zip(v, signs, strict=True)]
    for o in others:
        b = [x * s for x, s in zip(o, signs, strict=True)]
        if all(y <= x for x, y in zip(a, b, strict=True)) and any(y < x for x, y in zip(a, b, strict=True)):
            return True
    return False


@dataclass
class Simulation:
    """What `simulate_study` returns: the table, every run, and the curves and summary DataFrames."""

    table: Table
    runs: list[Run]
    curves: Any
    summary: Any

    def text(self) -> str:
        """The summary as a table with the table's facts above it."""
        t = self.table
        objs = ", ".join(f"{n} {d}" for n, d in t.objectives)
        measure = "best " + t.objectives[0][0] if len(t.objectives) == 1 else "hypervolume"
        head = (f"study {t.spec.study}: {len(t.entries)} recorded configurations x {len(next(iter(t.entries.values())).curves)}"
                f" repeat(s), {t.epochs} epochs, {len(t.rejected)} rejected, {t.workers} worker(s); objectives {objs}; "
                f"anytime value: {measure} (the whole table: {t.anytime(list(t.entries)):.6g})")
        for name, (kept, values) in t.narrowed.items():
            head += (f"\nsampled over the recorded values only: {name} in {list(kept)} of the spec's {list(values)} "
                     "(a partial table)")
        cols = ["strategy", "scheduler", "seeds", "final", "final_ci", "of_best", "reached_98", "trainings_to_98",
                "trainings_to_98_ci", "vs", "trainings_vs", "trainings_vs_lo", "trainings_vs_hi", "hours_to_98",
                "epochs_to_98", "epochs_to_98_ci", "epochs", "trainings", "dropped", "misses", "asks_per_s"]
        return head + "\n" + self.summary[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")


def simulate_study(study: str, *, db: str | None = None, strategies: Sequence[str] = ("random", "tpe", "rea"),
                   schedulers: Sequence[str] = ("none",), seeds: int = 20,
                   prefilters: Sequence[tuple[str, int, int] | None] = (None,), **kw: Any) -> Simulation:
    """Replay the recorded study `study` under each strategy x scheduler x prefilter x seed (`simulate`'s
    keywords: trials, budget_s, workers, grace_epochs, reduction_factor, cost_band). The database is opened
    read-only."""
    for s in strategies:
        if s not in SIMULATED_STRATEGIES:
            raise InputError(f"--strategies: unknown strategy {s!r}; expected some of {', '.join(SIMULATED_STRATEGIES)}")
    for s in schedulers:
        if s not in SIMULATED_SCHEDULERS:
            raise InputError(f"--scheduler: unknown scheduler {s!r}; expected some of {', '.join(SIMULATED_SCHEDULERS)}")
    table = load_table(study, db=db)
    runs = simulate_many(table, strategies, schedulers, seeds=seeds, prefilters=prefilters, **kw)
    curves, summary = summarise(table, runs)
    return Simulation(table, runs, curves, summary)


def load_table(study: str, *, db: str | None = None) -> Table:
    """The recorded study `study` as the simulator's table (the database opened read-only)."""
    from scalesearch.search.study import stored_spec
    from scalesearch.store import Reader

    with Reader(db) as reader:
        spec = stored_spec(reader.study(study))
        return Table.from_records(spec, reader.trials(study), reader.epochs(study))
