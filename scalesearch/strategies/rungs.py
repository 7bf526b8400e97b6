"""Successive-halving rungs, asynchronous (ASHA, Li et al. 2020) for one objective or several (MO-ASHA, Schmucker
et al. 2021), as plain Python: the Ray Tune scheduler (`scalesearch.strategies.moasha`) and the simulator use this one
class, so that a replayed study stops the trials a real search would.

Rungs sit at epochs grace, grace * eta, grace * eta**2, ... below the number of epochs (Ray's ASHA with one
bracket, whose top rung at the last epoch decides nothing: a trial that gets there has finished). A trial reaching
a rung is compared with the trials recorded there before it, and recorded there either way; the first trial at a
rung always goes on. With one objective the rule is Ray's ASHA's exactly (`ray.tune.schedulers.async_hyperband`):
the trial goes on when its value is at least the (1 - 1/eta) percentile (numpy's linear interpolation) of those
recorded before it, so a tie goes on. With several (the values turned into ones to minimise) it goes on when it is
among the first ceil(n / eta) of the n (itself included) in `mo_order`: non-dominated fronts, an epsilon-net order
inside a front, the new trial first among equal points.

Cost bands (several objectives, optional): a trial is compared only with the trials of its own cost band at the rung
(`band_of`: the band of a result vector, e.g. `cost_bands(i, 4.0)`: MACs within a factor of 4), so that a cheap
network, ahead early because it trains faster, never displaces a dear one, and each band keeps its own top 1/eta.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from scalesearch.analysis.mosort import mo_order
from scalesearch.errors import InputError

__all__ = ["Decision", "Rungs", "cost_bands", "hyperband_brackets", "hyperband_order", "hyperband_shares",
           "milestones", "rung_plan"]

COSTS = ("macs", "params", "acts")  # the objectives a cost band reads


def milestones(grace: int, eta: int, max_t: int) -> list[int]:
    """The rung epochs: grace * eta**k below max_t.

    Example:
        >>> milestones(1, 3, 10), milestones(1, 3, 9)
        ([1, 3, 9], [1, 3])
    """
    if grace < 1 or eta < 2:
        raise InputError(f"rungs need grace >= 1 and eta >= 2, got {grace}, {eta}")
    out, m = [], grace
    while m < max_t:
        out.append(m)
        m *= eta
    return out


def cost_bands(index: int, ratio: float) -> Callable[[Sequence[float]], int]:
    """The band of a result vector by its cost at `index`: floor(log(cost) / log(ratio)), so each band spans a
    factor of `ratio`.

    Example:
        >>> band = cost_bands(1, 4.0)
        >>> [band((-0.9, m)) for m in (1e6, 3e6, 5e6, 1.6e7, 2e7)]
        [9, 10, 11, 11, 12]
    """
    if not ratio > 1:
        raise InputError(f"cost bands need a ratio > 1, got {ratio}")
    log_ratio = math.log(ratio)
    return lambda v: math.floor(math.log(max(float(v[index]), 1.0)) / log_ratio + 1e-9)


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
        band_of: with several objectives, the cost band of a result vector (`cost_bands`); a trial is then
            compared only with those of its band. None: every trial with every other.
    """

    def __init__(self, grace: int, eta: int, max_t: int,
                 band_of: Callable[[Sequence[float]], Hashable] | None = None) -> None:
        self.eta = eta
        self.band_of = band_of
        self._band: dict[Hashable, Hashable] = {}  # each recorded trial's band (its cost is the same at every rung)
        self.milestones = milestones(grace, eta, max_t)
        self.recorded: dict[int, dict[Hashable, tuple[float, ...]]] = {m: {} for m in self.milestones}
        self._values: dict[int, list[float]] = {}  # one objective: each rung's recorded values, maximised

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
            recorded = self.recorded[m]
            if self.band_of is not None and len(vector) > 1:
                if trial not in self._band:
                    self._band[trial] = self.band_of(vector)
                band = self._band[trial]
                before = {t: v for t, v in recorded.items() if self._band[t] == band}
            else:
                before = recorded
            n = len(before) + 1
            promoted = math.ceil(n / self.eta)
            if len(vector) == 1:  # Ray's ASHA: at least the (1 - 1/eta) percentile of those before (maximised)
                values = self._values.setdefault(m, [])
                now = -vector[0]
                go_on = not values or now >= np.percentile(values, (1 - 1 / self.eta) * 100)
                place = sum(v > now for v in values)
                values.append(now)
            else:
                place = mo_order([vector, *before.values()]).index(0)
                go_on = place < promoted
            recorded[trial] = vector
            return Decision(go_on=bool(go_on), rung=m, place=place, promoted=promoted, seen=n)
        return None


def hyperband_brackets(grace: int, eta: int, max_t: int, brackets: int | None = None) -> list[Rungs]:
    """Hyperband's brackets (Li et al. 2018), asynchronous: bracket b has its first rung at grace * eta**b, so the
    later ones stop less, and the last (no rung below max_t) trains every trial fully. At most, and by default,
    every bracket from b = 0 to that last one. `hyperband_shares` says how many trials each gets.

    Example:
        >>> [b.milestones for b in hyperband_brackets(1, 3, 10)]
        [[1, 3, 9], [3, 9], [9], []]
    """
    most = len(milestones(grace, eta, max_t)) + 1
    n = most if brackets is None else min(brackets, most)
    if n < 1:
        raise InputError(f"hyperband needs at least one bracket, got {n}")
    return [Rungs(grace * eta ** b, eta, max_t) for b in range(n)]


def hyperband_shares(brackets: Sequence[Rungs], eta: int) -> list[int]:
    """How many trials each bracket starts per round, as Hyperband's n = ceil(B / (s + 1) * eta**s) for a bracket
    with s rungs (B brackets): the most aggressive bracket gets the most trials.

    Example:
        >>> hyperband_shares(hyperband_brackets(1, 3, 9), 3)
        [9, 5, 3]
    """
    total = len(brackets)
    return [math.ceil(total / (len(b.milestones) + 1) * eta ** len(b.milestones)) for b in brackets]


def hyperband_order(shares: Sequence[int]) -> list[int]:
    """One round of bracket indices, each bracket `shares[b]` times, spread out (smooth weighted round robin):
    trials are dealt to the brackets in this order, over and over.

    Example:
        >>> hyperband_order([3, 1])
        [0, 0, 1, 0]
    """
    total, current, out = sum(shares), [0] * len(shares), []
    for _ in range(total):
        current = [c + w for c, w in zip(current, shares, strict=True)]
        b = max(range(len(shares)), key=lambda i: current[i])
        current[b] -= total
        out.append(b)
    return out


def rung_plan(kind: str, grace: int, eta: int, max_t: int, objectives: Iterable[tuple[str, str]], *,
              brackets: int | None = None,
              band_ratio: float | None = None) -> tuple[list[Rungs], list[int], tuple[tuple[str, str], ...]]:
    """What early stopping of `kind` runs on, for the Ray Tune scheduler and the simulator alike: its brackets, the
    order trials are dealt to them, and the objectives its rungs rank by. `asha`: one bracket on val_acc; `moasha`:
    one bracket on the search's `objectives`; `hyperband`: its brackets (at most `brackets`) on val_acc, dealt in
    Hyperband's shares. `band_ratio` (moasha only): its rungs compare trials within cost bands of that ratio, on the
    first cost among the objectives (`cost_bands`).

    Example:
        >>> bs, deal, objs = rung_plan("hyperband", 1, 3, 9, [("val_acc", "max"), ("macs", "min")])
        >>> [b.milestones for b in bs], deal, objs
        ([[1, 3], [3], []], [0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 1, 0, 2, 0, 1, 0], (('val_acc', 'max'),))
    """
    one = (("val_acc", "max"),)
    if kind == "hyperband":
        bs = hyperband_brackets(grace, eta, max_t, brackets)
        return bs, hyperband_order(hyperband_shares(bs, eta)), one
    objectives = tuple(objectives)
    if kind != "moasha":
        if band_ratio is not None:
            raise InputError(f"cost bands apply to moasha (its rungs rank by cost), not to {kind}")
        return [Rungs(grace, eta, max_t)], [0], one
    band_of = None
    if band_ratio is not None:
        names = [n for n, _ in objectives]
        costs = [i for i, n in enumerate(names) if n in COSTS]
        if not costs:
            raise InputError(f"cost bands need a cost among the objectives ({', '.join(COSTS)}); got {', '.join(names)}")
        band_of = cost_bands(costs[0], band_ratio)
    return [Rungs(grace, eta, max_t, band_of)], [0], objectives
