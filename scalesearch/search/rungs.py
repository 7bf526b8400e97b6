"""Successive-halving rungs, asynchronous (ASHA, Li et al. 2020) for one objective or several (MO-ASHA, Schmucker
et al. 2021), as plain Python: the Ray Tune scheduler (`scalesearch.search.moasha`) and the simulator use this one
class, so that a replayed study stops the trials a real search would.

Rungs sit at epochs grace, grace * eta, grace * eta**2, ... below the number of epochs (Ray's ASHA with one
bracket, whose top rung at the last epoch decides nothing: a trial that gets there has finished). A trial reaching a rung is compared with the trials recorded there before it: with the values turned
into ones to minimise, it goes on when it is among the first ceil(n / eta) of the n (itself included) in
`mo_order` (non-dominated fronts, an epsilon-net order inside a front; with one objective simply by value, ties to
the earlier trial), and it is recorded there either way. The first trial at a rung always goes on. With one
objective this is Ray's ASHA rule (a trial goes on when it is at least the (1 - 1/eta) quantile of those before it)
up to how the quantile of a few values is interpolated.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from scalesearch.analysis.mosort import mo_order

__all__ = ["Decision", "Rungs", "hyperband_brackets", "milestones"]


def milestones(grace: int, eta: int, max_t: int) -> list[int]:
    """The rung epochs: grace * eta**k below max_t.

    Example:
        >>> milestones(1, 3, 10), milestones(1, 3, 9)
        ([1, 3, 9], [1, 3])
    """
    if grace < 1 or eta < 2:
        raise ValueError(f"rungs need grace >= 1 and eta >= 2, got {grace}, {eta}")
    out, m = [], grace
    while m < max_t:
        out.append(m)
        m *= eta
    return out


@dataclass(frozen=True)
class Decision:
    """What a rung decided: go on or not, at which rung, the trial's place there (0 = best) and how many go on."""

    go_on: bool
    rung: int
    place: int
    promoted: int
    seen: int


class Rungs:
    """The rungs of one search (see the module docstring).

    Args:
        grace: the first rung's epoch.
        eta: the reduction factor.
        max_t: the number of epochs of a full trial.
    """

    def __init__(self, grace: int, eta: int, max_t: int) -> None:
        self.eta = eta
        self.milestones = milestones(grace, eta, max_t)
        self.recorded: dict[int, dict[Hashable, tuple[float, ...]]] = {m: {} for m in self.milestones}

    def on_result(self, trial: Hashable, epoch: int, values: Sequence[float]) -> Decision | None:
        """Record a trial's result at the rung it has just reached; None when `epoch` reaches no new rung (the
        trial goes on). `values`: its objectives, each to be minimised (a maximised metric negated)."""
        vector = tuple(float(v) for v in values)
        if any(math.isnan(v) for v in vector):
            return None
        for m in reversed(self.milestones):
            if epoch < m:
                continue
            if trial in self.recorded[m]:
                return None  # decided at this rung already
            before = self.recorded[m]
            points = [vector, *before.values()]
            place = mo_order(points).index(0)
            promoted = math.ceil(len(points) / self.eta)
            before[trial] = vector
            return Decision(go_on=place < promoted, rung=m, place=place,
                            promoted=promoted, seen=len(points))
        return None


def hyperband_brackets(grace: int, eta: int, max_t: int, brackets: int | None = None) -> list[Rungs]:
    """Hyperband's brackets (Li et al. 2018), asynchronous: bracket s has its first rung at grace * eta**s, so the
    last ones stop less or not at all (a bracket with no rung below max_t trains every trial fully). Default: every
    bracket from s = 0 to the first with no rung. Trials are dealt to the brackets in turn (`RungScheduler`).

    Example:
        >>> [b.milestones for b in hyperband_brackets(1, 3, 10)]
        [[1, 3, 9], [3, 9], [9], []]
    """
    n = len(milestones(grace, eta, max_t)) + 1 if brackets is None else brackets
    if n < 1:
        raise ValueError(f"hyperband needs at least one bracket, got {n}")
    return [Rungs(grace * eta ** s, eta, max_t) for s in range(n)]
