"""Regularized evolution (REA; Real et al. 2019, "Regularized Evolution for Image Classifier Architecture Search")
as an Optuna sampler, so that the driver asks and tells it like the others: constraints, dedupe, repeats, the
store and resume need nothing of their own.

The population is the last P configurations Optuna was told a result of (COMPLETE trials, in the order they were
told: the oldest dies when a child joins). Until P exist, candidates are drawn at random. Then each new candidate
is a child: S members of the population are drawn without replacement (the tournament), the best of them is the
parent, and the child is the parent with exactly one parameter changed (the parameter drawn uniformly among those
with more than one value; its new value drawn uniformly among the others, log-uniformly for a log range). With two
or more objectives, "best" is the lowest non-dominated rank within the population, ties by the epsilon-net order
(`scalesearch.analysis.mosort.mo_order`). Rejected candidates (a constraint; told PRUNED) never join.

Everything is read from the study's storage when a candidate is asked, so a resumed search (a killed driver, a
moved study) continues from the stored population; the random stream restarts from the seed. `lineage` keeps
this process's children: trial number -> (parent trial number, mutated parameter, the tournament's trial numbers).

The policy itself is plain functions (`tournament`, `offspring`, `mutate`, `dominance`) that REASampler calls and
that `Evolution` runs over a population told in memory, with no store: the simulator's REA
(`scalesearch.simulate.rea_study`), which makes REASampler's choices without Optuna's ask, storage and tell.

Each ask costs little beside Optuna's own (`benchmarks/simulate_speed.py`): the storage's trial list is read at
every ask, but only the trials unfinished at the last ask and the new ones are examined (a finished trial never
changes), and the population is the last P of the old one and the newly completed trials; each member's
distributions are compared with Optuna's == once, when it joins (as ids of the distinct distributions seen); the
tournament's winner is found without ordering the whole population: the fronts are peeled only down to the first
that holds a drawn member, and that front's epsilon-net order is computed only when it holds two or more and its
first point is not one of them (the same winner as the first drawn member in `mo_order`).
"""

from __future__ import annotations

import heapq
import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from scalesearch.analysis.mosort import epsilon_net_order
from scalesearch.errors import InputError

__all__ = ["Evolution", "REASampler", "check_sizes", "dominance", "mutate", "offspring", "tournament"]


def _told(t: FrozenTrial) -> tuple[Any, int]:
    """When a trial's result was told (its completion time; the trial number breaks ties)."""
    return (t.datetime_complete or t.datetime_start, t.number)


def _grid_values(low: float, high: float, step: float) -> int:
    return math.floor((high - low) / step + 1e-9) + 1


@dataclass
class _Population:
    """What REA knows of one study's storage: the trials examined (the first `seen`; `open`: those unfinished
    then), the population (oldest first) and, per member, its distributions as ids of the distinct ones (`sigs`,
    counted over the members in `agree`); per population (`cache`): its search space, objective values and
    dominance matrix."""

    study: Any  # a weak reference (a strong one makes a cycle: the study holds its sampler), or None
    seen: int = 0
    open: set[int] = field(default_factory=set)
    members: list[FrozenTrial] = field(default_factory=list)
    sigs: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    agree: dict[tuple[str, int], int] = field(default_factory=dict)  # (name, id) -> members with it
    distinct: dict[str, list[BaseDistribution]] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def sig(self, t: FrozenTrial) -> tuple[tuple[str, int], ...]:
        """The trial's distributions as (name, id): equal distributions (Optuna's ==) share an id."""
        out = []
        for name, d in t.distributions.items():
            known = self.distinct.setdefault(name, [])
            i = next((j for j, k in enumerate(known) if k == d), None)
            if i is None:
                i = len(known)
                known.append(d)
            out.append((name, i))
        return tuple(out)

    def set_members(self, members: list[FrozenTrial], added: list[FrozenTrial] | None = None,
                    removed: list[FrozenTrial] | None = None) -> None:
        """The new population, and the trials that joined and left it since the last (found here when None)."""
        if added is None or removed is None:
            was, now = {m.number for m in self.members}, {m.number for m in members}
            added = [m for m in members if m.number not in was]
            removed = [m for m in self.members if m.number not in now]
        for m in removed:
            for item in self.sigs.pop(m.number):
                self.agree[item] -= 1
        for m in added:
            sig = self.sigs[m.number] = self.sig(m)
            for item in sig:
                self.agree[item] = self.agree.get(item, 0) + 1
        self.members = members
        self.cache = {}

    def space(self) -> dict[str, BaseDistribution]:
        """The distributions of the newest member that every member has too."""
        if "space" not in self.cache:
            last = self.members[-1]
            n = len(self.members)
            self.cache["space"] = {name: last.distributions[name] for name, i in self.sigs[last.number]
                                   if self.agree[(name, i)] == n}
        return dict(self.cache["space"])

    def values(self, directions: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        """The members' objective values to minimise and, with two or more objectives, `dom[i, j]`: i dominates
        j (no worse in every objective, better in one)."""
        if "values" not in self.cache:
            signs = [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in directions]
            a = np.array([m.values for m in self.members], dtype=float) * signs  # COMPLETE: finite (Optuna's)
            self.cache["values"] = (a, dominance(a))
        return self.cache["values"]


def dominance(a: np.ndarray) -> np.ndarray | None:
    """`dom[i, j]`: row i of `a` (values to minimise) dominates row j (no worse in every objective, better in
    one); None with one objective."""
    le = lt = None
    for col in a.T if a.shape[1] > 1 else ():  # an objective at a time: faster than one (n, n, d) array
        le = col[:, None] <= col if le is None else le & (col[:, None] <= col)
        lt = col[:, None] < col if lt is None else lt | (col[:, None] < col)
    return None if le is None or lt is None else le & lt


def _winner(values: np.ndarray, dom: np.ndarray | None, drawn: list[int]) -> int:
    """The drawn index first in `mo_order(values)` (values to minimise; `dom[i, j]`: i dominates j): with one
    objective the lowest value (ties: the lower index); else the lowest front holding a drawn index, and within it
    the first drawn one in the front's epsilon-net order, whose distances are normalised over all the points (as
    `mo_order` does; its first point, the front's best in the first objective, is the same on the raw values: the
    rank normalisation keeps each objective's order and ties)."""
    if dom is None:
        return min(drawn, key=lambda i: (values[i, 0], i))
    is_drawn = np.zeros(len(values), dtype=bool)
    is_drawn[drawn] = True
    count = dom.sum(0)
    done = np.zeros(len(values), dtype=bool)
    front = np.flatnonzero(count == 0)
    while not is_drawn[front].any():  # peel the fronts (`nondominated_ranks`) down to the first drawn one
        done[front] = True
        count = count - dom[front].sum(0)
        count[done] = -1
        front = np.flatnonzero(count == 0)
    hits = front[is_drawn[front]]
    if len(hits) == 1:
        return int(hits[0])
    first = int(front[np.lexsort(values[front].T[::-1])[0]])
    if is_drawn[first]:
        return first
    # mosort's normalisation over all the points, of the front's only: (average rank - 1) / (n - 1), the average
    # (1-based) rank of a value being the values below it plus (the values equal to it + 1) / 2, as scipy's rankdata
    f = values[front]
    rank = (f[:, None, :] > values[None, :, :]).sum(1) + ((f[:, None, :] == values[None, :, :]).sum(1) + 1) / 2
    x = (rank - 1) / (len(values) - 1)
    return next(int(front[j]) for j in epsilon_net_order(x, normalised=True) if is_drawn[front[j]])


def check_sizes(population: int, tournament: int) -> None:
    """Raise InputError unless P >= 2 and 1 <= S <= P."""
    if population < 2 or not 1 <= tournament <= population:
        raise InputError(f"REA needs population >= 2 and 1 <= tournament <= population, got {population}, "
                         f"{tournament}")


class REASampler(optuna.samplers.BaseSampler):
    """Regularized evolution (see the module docstring).

    Args:
        population: P, the number of most recent results that can be parents.
        tournament: S, how many of them one tournament draws.
        seed: seeds the random draws (the initial population, tournaments, mutations).
    """

    def __init__(self, population: int, tournament: int, *, seed: int | None = None) -> None:
        check_sizes(population, tournament)
        self.population = population
        self.tournament = tournament
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 1)
        self.lineage: dict[int, tuple[int, str, tuple[int, ...]]] = {}
        self._pop: _Population | None = None
        self._asked: tuple[Any, int] = (None, -1)  # (study's weak reference, trial number): the last space inferred

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def _population(self, study: optuna.Study) -> _Population:
        """The study's population, brought up to date with its storage: the trials unfinished at the last call and
        the new ones are examined; the last P told COMPLETE of the old members and the newly completed ones are
        the last P of all (a COMPLETE trial never changes, and no trial leaves the last P to come back)."""
        trials = study.get_trials(deepcopy=False)
        pop = self._pop
        if pop is None or pop.study is None or pop.study() is not study or len(trials) < pop.seen:
            pop = self._pop = _Population(weakref.ref(study))
        new: list[FrozenTrial] = []
        for n in [*sorted(pop.open), *range(pop.seen, len(trials))]:
            t = trials[n]
            if t.number != n:  # a storage that does not list trial n at index n (Optuna's do): read it all
                self._pop = None
                whole = _Population(None)
                done = [t for t in trials if t.state == TrialState.COMPLETE]
                whole.set_members(heapq.nlargest(self.population, done, key=_told)[::-1])
                return whole
            if t.state == TrialState.COMPLETE:
                new.append(t)
            if t.state.is_finished():
                pop.open.discard(n)
            else:
                pop.open.add(n)
        pop.seen = len(trials)
        if new:
            new.sort(key=_told)
            if not pop.members or _told(new[0]) > _told(pop.members[-1]):  # the usual case: the newest told last
                merged, n = pop.members + new, len(pop.members)
                cut = max(0, len(merged) - self.population)  # the oldest leave
                pop.set_members(merged[cut:], added=merged[max(cut, n):], removed=merged[:min(cut, n)])
            else:
                pop.set_members(heapq.nlargest(self.population, pop.members + new, key=_told)[::-1])
        return pop

    def members(self, study: optuna.Study) -> list[FrozenTrial]:
        """The current population: the last P trials told COMPLETE, oldest first."""
        return self._population(study).members

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        pop = self._population(study)
        self._asked = (pop.study, trial.number)
        return pop.space() if len(pop.members) >= self.population else {}

    def parent(self, members: list[FrozenTrial], directions: list[Any]) -> tuple[FrozenTrial, list[FrozenTrial]]:
        """(the tournament's winner, the tournament): S members drawn without replacement, the winner the first of
        them in `mo_order` over the whole population (`_winner`)."""
        pop = self._pop
        if pop is None or pop.members is not members:
            pop = _Population(None)
            pop.set_members(members)
        values, dom = pop.values(directions)
        winner, drawn = tournament(self._rng, values, dom, self.tournament)
        return members[winner], [members[i] for i in drawn]

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        ref, number = self._asked  # right after its search space: the population it was inferred from
        same = self._pop is not None and ref is not None and ref() is study and number == trial.number
        members = self._pop.members if same else self.members(study)
        parent, drawn = self.parent(members, list(study.directions))
        child, name = offspring(self._rng, parent.params, search_space)
        if name is not None:
            self.lineage[trial.number] = (parent.number, name, tuple(m.number for m in drawn))
        return child

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)


def tournament(rng: np.random.RandomState, values: np.ndarray, dom: np.ndarray | None,
               size: int) -> tuple[int, list[int]]:
    """(the winner's index, the drawn indices): `size` members drawn without replacement, the winner the first of
    them in `mo_order` over all the members' `values` (to minimise; `dom` from `dominance`)."""
    drawn = rng.permutation(len(values))[:size].tolist()  # = rng.choice(n, size, replace=False), without its checks
    return _winner(values, dom, drawn), drawn


def offspring(rng: np.random.RandomState, parent: dict[str, Any], space: dict[str, BaseDistribution], *,
              mutable: list[str] | None = None) -> tuple[dict[str, Any], str | None]:
    """(the child, the mutated parameter or None): the parent's values of the parameters in `space`, one of those
    with more than one value (drawn uniformly, by name order; `mutable`: those names, when the caller knows them
    and the parent has them all) changed by `mutate`."""
    child = {k: parent[k] for k in space if k in parent}
    if mutable is None:
        mutable = sorted(k for k in child if not space[k].single())
    if not mutable:
        return child, None
    name = mutable[rng.randint(len(mutable))]
    child[name] = mutate(rng, space[name], child[name])
    return child, name


def mutate(rng: np.random.RandomState, dist: BaseDistribution, value: Any) -> Any:
    """Another value of `dist` than `value`, drawn uniformly (log-uniformly for a log range)."""
    if isinstance(dist, CategoricalDistribution):
        others = [c for c in dist.choices if not (type(c) is type(value) and c == value)]
        return others[rng.randint(len(others))]
    if isinstance(dist, IntDistribution) and not dist.log:
        n = _grid_values(dist.low, dist.high, dist.step)
        i = rng.randint(n - 1)
        i += i >= (value - dist.low) // dist.step
        return int(dist.low + i * dist.step)
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        n = _grid_values(dist.low, dist.high, dist.step)
        i = rng.randint(n - 1)
        i += i >= round((value - dist.low) / dist.step)
        return float(f"{dist.low + i * dist.step:.12g}")
    for _ in range(1000):  # a log range or a continuous one: draw until it differs
        if dist.log:
            new = math.exp(rng.uniform(math.log(dist.low), math.log(dist.high + (1 if isinstance(
                dist, IntDistribution) else 0))))
        else:
            new = rng.uniform(dist.low, dist.high)
        if isinstance(dist, IntDistribution):
            new = min(dist.high, max(dist.low, math.floor(new)))
        if new != value:
            return new
    return value  # pragma: no cover - a range of one value is `single()` and never mutated


class Evolution:
    """REA's policy without a store: what `REASampler` decides, for a caller that tells it each result as it
    arrives (the simulator, which needs no Optuna study for it).

    `tell` appends a result to the population (the oldest leaves beyond P); `ask` returns None while fewer than P
    are told (the caller draws at random, as REASampler's random sampler does), else the child of a tournament's
    winner over `space`, with the same random draws as REASampler seeded alike (`tournament`, `offspring`). The
    one difference: REASampler orders its population by completion time (trial number on a tie), this by the
    order of `tell`.

    Args:
        population, tournament: P and S, as REASampler's.
        directions: "maximize" or "minimize" per objective.
        seed: as REASampler's.
    """

    def __init__(self, population: int, tournament: int, directions: list[str], *, seed: int | None = None) -> None:
        check_sizes(population, tournament)
        self.population, self.tournament = population, tournament
        self.signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
        self.rng = np.random.RandomState(seed)
        self.members: list[dict[str, Any]] = []  # the population, oldest first
        self.values = np.zeros((0, len(directions)))  # their values to minimise, row by row
        # `dominance(self.values)`, kept up to date as members join and leave (None with one objective)
        self.dom: np.ndarray | None = None if len(directions) == 1 else np.zeros((0, 0), dtype=bool)
        self._mutable: tuple[Any, list[str]] = (None, [])

    def tell(self, params: dict[str, Any], values: list[float]) -> None:
        """A COMPLETE result (finite values, one per objective) joins the population."""
        row = np.asarray(values, dtype=float) * self.signs
        a, dom = self.values, self.dom
        self.members.append(params)
        if len(self.members) > self.population:  # the oldest leaves
            del self.members[0]
            a = a[1:]
            dom = None if dom is None else dom[1:, 1:]
        if dom is not None:  # the newcomer's column (who dominates it) and row (whom it dominates)
            n = len(a)
            no_worse = (a <= row).all(1)  # member i is nowhere worse than the newcomer
            better = (a < row).any(1)  # ... and somewhere better; finite values: row <= a_i is `not better`
            grown = np.zeros((n + 1, n + 1), dtype=bool)
            grown[:n, :n] = dom
            grown[:n, n] = no_worse & better
            grown[n, :n] = ~better & ~no_worse
            dom = grown
        self.values, self.dom = np.concatenate((a, row[None, :])), dom

    def ask(self, space: dict[str, BaseDistribution]) -> dict[str, Any] | None:
        """The next child over `space` (every member has every parameter of it), or None while the population is
        not full."""
        if len(self.members) < self.population:
            return None
        if self._mutable[0] is not space:
            self._mutable = (space, sorted(k for k, d in space.items() if not d.single()))
        winner, _drawn = tournament(self.rng, self.values, self.dom, self.tournament)
        return offspring(self.rng, self.members[winner], space, mutable=self._mutable[1])[0]
