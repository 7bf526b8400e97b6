"""The parameter kinds of a spec: sampled (int, float, grid, choice), fixed, derived and matched."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

from scalesearch.expr import Expr
from scalesearch.spec.errors import Loc, loc_field


@dataclass(frozen=True)
class Parameter:
    """Base of the parameter kinds; `name` is how expressions refer to it."""

    name: str

    @property
    def sampled(self) -> bool:
        """Whether a sampler chooses it (int, float, grid, choice)."""
        return False

    @property
    def enumerable(self) -> bool:
        """Whether a grid sampler can list its values."""
        return False


@dataclass(frozen=True)
class IntParam(Parameter):
    """An integer in [low, high] (both included) with `step`; `log` samples log-uniformly (step must be 1)."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False
    loc: Loc | None = loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: True)

    def values(self) -> tuple[int, ...]:
        """Every value, for grid enumeration."""
        return tuple(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatParam(Parameter):
    """A float in [low, high]; `step` makes it discrete (and enumerable); `log` samples log-uniformly."""

    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    loc: Loc | None = loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: self.step is not None)

    def values(self) -> tuple[float, ...]:
        """low, low+step, ... <= high (rounded to 12 significant digits), for grid enumeration."""
        if self.step is None:
            raise ValueError(f"{self.name}: a float range without step cannot be enumerated")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return tuple(float(f"{self.low + i * self.step:.12g}") for i in range(n))


@dataclass(frozen=True)
class GridParam(Parameter):
    """An ordered list of numbers: enumerated by the grid sampler, categorical for the others."""

    grid: tuple[int | float, ...] = ()
    loc: Loc | None = loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: True)

    def values(self) -> tuple[Any, ...]:
        return self.grid


@dataclass(frozen=True)
class ChoiceParam(Parameter):
    """A categorical choice among scalars (strings, numbers, booleans)."""

    choices: tuple[Any, ...] = ()
    loc: Loc | None = loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: True)

    def values(self) -> tuple[Any, ...]:
        return self.choices


@dataclass(frozen=True)
class FixedParam(Parameter):
    """A constant (the baseline and points may override it)."""

    value: Any = None
    loc: Loc | None = loc_field()


@dataclass(frozen=True)
class DerivedParam(Parameter):
    """An expression of other parameters (and base_macs/base_params/base_acts), evaluated per candidate."""

    expr: Expr = None  # type: ignore[assignment]
    loc: Loc | None = loc_field()


@dataclass(frozen=True)
class MatchedParam(Parameter):
    """An integer in low, low+step, ..., high chosen so that the candidate's `metric` is closest to `target`.

    With `when` (a boolean expression), it is matched only where `when` holds and is `otherwise` elsewhere.
    Ties go to the smaller value. The search is a bisection when the cost is non-decreasing in the parameter
    (widths, depths, cardinality) and falls back to a full scan when a probe shows it is not.
    """

    target: Expr = None  # type: ignore[assignment]
    metric: str = "macs"
    low: int = 1
    high: int = 1
    step: int = 1
    when: Expr | None = None
    otherwise: Expr | None = None
    loc: Loc | None = loc_field()

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)
