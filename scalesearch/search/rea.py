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
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from scalesearch.analysis.mosort import mo_order
from scalesearch.errors import InputError

__all__ = ["REASampler"]


def _told(t: FrozenTrial) -> tuple[Any, int]:
    """When a trial's result was told (its completion time; the trial number breaks ties)."""
    return (t.datetime_complete or t.datetime_start, t.number)


def _grid_values(low: float, high: float, step: float) -> int:
    return math.floor((high - low) / step + 1e-9) + 1


class REASampler(optuna.samplers.BaseSampler):
    """Regularized evolution (see the module docstring).

    Args:
        population: P, the number of most recent results that can be parents.
        tournament: S, how many of them one tournament draws.
        seed: seeds the random draws (the initial population, tournaments, mutations).
    """

    def __init__(self, population: int, tournament: int, *, seed: int | None = None) -> None:
        if population < 2 or not 1 <= tournament <= population:
            raise InputError(f"REA needs population >= 2 and 1 <= tournament <= population, got {population}, "
                             f"{tournament}")
        self.population = population
        self.tournament = tournament
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 1)
        self.lineage: dict[int, tuple[int, str, tuple[int, ...]]] = {}
        self._members: tuple[Any, list[FrozenTrial], dict[int, int] | None] | None = None

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def members(self, study: optuna.Study) -> list[FrozenTrial]:
        """The current population: the last P trials told COMPLETE, oldest first (cached until another is)."""
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        key = (id(study), len(done), done[-1].number if done else -1)
        if self._members is None or self._members[0] != key:
            last = heapq.nlargest(self.population, done, key=_told)
            self._members = (key, last[::-1], None)
        return self._members[1]

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        members = self.members(study)
        if len(members) < self.population:
            return {}
        return {k: d for k, d in members[-1].distributions.items()
                if all(m.distributions.get(k) == d for m in members)}

    def parent(self, members: list[FrozenTrial], directions: list[Any]) -> tuple[FrozenTrial, list[FrozenTrial]]:
        """(the tournament's winner, the tournament): S members drawn without replacement, the winner the first of
        them in `mo_order` over the whole population."""
        cached = self._members is not None and self._members[1] is members
        position = self._members[2] if cached else None
        if position is None:
            signs = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in directions])
            values = np.array([m.values for m in members], dtype=float) * signs  # COMPLETE: finite (Optuna's)
            position = {idx: pos for pos, idx in enumerate(mo_order(values))}
            if cached:
                self._members = (self._members[0], members, position)
        drawn = self._rng.choice(len(members), size=self.tournament, replace=False)
        return members[min((int(i) for i in drawn), key=lambda i: position[i])], [members[int(i)] for i in drawn]

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        members = self.members(study)
        parent, drawn = self.parent(members, list(study.directions))
        child = {k: parent.params[k] for k in search_space if k in parent.params}
        mutable = sorted(k for k in child if not search_space[k].single())
        if not mutable:
            return child
        name = mutable[self._rng.randint(len(mutable))]
        child[name] = self._mutate(search_space[name], child[name])
        self.lineage[trial.number] = (parent.number, name, tuple(m.number for m in drawn))
        return child

    def _mutate(self, dist: BaseDistribution, value: Any) -> Any:
        """Another value of `dist` than `value`, drawn uniformly (log-uniformly for a log range)."""
        rng = self._rng
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

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)
