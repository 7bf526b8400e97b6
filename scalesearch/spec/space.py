"""Sampling and grids: the suggest protocol (`Suggest`, which each sampled kind calls), a seeded random suggester,
grid enumeration."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

from scalesearch.spec.diagnostics import NOLOC, InvalidArchitecture
from scalesearch.spec.params import MAX_GRID, Suggest
from scalesearch.spec.resolve import Candidate, resolve_values
from scalesearch.spec.schema import SearchSpec

__all__ = ["RandomSuggest", "Suggest", "check_grid", "enumerate_grid", "grid_point", "grid_size", "grid_space",
           "sample_params"]


class RandomSuggest:
    """A seeded, Optuna-free `Suggest` drawing uniformly (log-uniformly with log=True); for tests and `validate`."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if log:
            return min(high, max(low, round(math.exp(self.rng.uniform(math.log(low), math.log(high + 1)) - 0.5))))
        return low + step * self.rng.randrange((high - low) // step + 1)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if log:
            return math.exp(self.rng.uniform(math.log(low), math.log(high)))
        if step is not None:
            return float(f"{low + step * self.rng.randrange(math.floor((high - low) / step + 1e-9) + 1):.12g}")
        return self.rng.uniform(low, high)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[self.rng.randrange(len(choices))]


def sample_params(spec: SearchSpec, suggest: Suggest) -> dict[str, Any]:
    """Draw values of the sampled parameters through `suggest` (Optuna's Trial, or a seeded fake).

    Int and float ranges call suggest_int / suggest_float with step and log; grids and choices call
    suggest_categorical. Pass the result to `resolve` / `resolve_candidate`.

    Example:
        >>> from scalesearch.spec import parse_spec
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet, "
        ...                "args: {width: w}}\\nparameters: {w: {int: [4, 16], step: 4}}\\n"
        ...                "search: {sampler: random, trials: 3}\\n")
        >>> sample_params(s, RandomSuggest(0))["w"] in (4, 8, 12, 16)
        True
    """
    return {p.name: p.suggest(suggest) for p in spec.sampled}


def grid_space(spec: SearchSpec, *, limit: int = MAX_GRID) -> dict[str, list[Any]]:
    """name -> values of every sampled parameter (Optuna's GridSampler search_space).

    Raises:
        SpecError: a float range without step, or more than `limit` grid points (counted before listing any).
    """
    check_grid(spec, limit=limit)
    return {p.name: list(p.values()) for p in spec.sampled}


def check_grid(spec: SearchSpec, *, limit: int = MAX_GRID) -> None:
    """Raise unless a grid sampler can list the space: every sampled parameter enumerable, at most `limit`
    points (counted, not listed)."""
    for p in spec.sampled:
        if not p.enumerable:
            raise (p.loc or NOLOC).error(f"the grid sampler cannot enumerate the float range {p.name!r}",
                                         "a step, a grid: [...] list, or another sampler")
    size = grid_size(spec)
    if size > limit:
        raise (spec.search.loc or NOLOC).error(f"the grid has {size} points", f"at most {limit}")


def grid_size(spec: SearchSpec) -> int:
    """Number of grid points: the product of the sampled parameters' value counts, computed without listing
    any value (a range of 10**15 integers costs nothing); 0 if one is not enumerable."""
    n = 1
    for p in spec.sampled:
        k = p.size()
        if k is None:
            return 0
        n *= k
    return n


def grid_point(spec: SearchSpec, sampled: dict[str, Any]) -> Candidate:
    """The candidate at `sampled`; one the family rejects is an invalid Candidate instead of an error."""
    try:
        return resolve_values(spec, sampled)
    except InvalidArchitecture as e:
        return Candidate.invalid(sampled, dict(e.values or sampled), e.reason)


def enumerate_grid(spec: SearchSpec, *, limit: int = MAX_GRID) -> list[Candidate]:
    """Every point of a grid space (sampled parameters enumerable), with feasibility and cost.

    Points are in itertools.product order over the sampled parameters in file order (the last varies fastest).

    Raises:
        SpecError: a float range without step, more than `limit` points, or an expression that fails.
    """
    space = grid_space(spec, limit=limit)
    return [grid_point(spec, dict(zip(space, combo, strict=True))) for combo in itertools.product(*space.values())]
