"""The parameter kinds of a spec: sampled (int, float, grid, choice), fixed, derived and matched.

Each kind carries what differs between kinds as behaviour, so that no caller asks which kind it holds: `kind`
(its key in a spec file, the key of the parse and write tables), `sampled`, `settable` (whether a point may give
it a value), `size()` (how many values a grid enumerates, counted without listing them), `values()`,
`suggest()` (a draw through the suggest protocol), `contains()` (whether a value is one it can give) and `exprs()` / `deps` (the expressions it evaluates and the
names they use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from scalesearch.expr import Expr
from scalesearch.spec.errors import Loc, loc_field

if TYPE_CHECKING:  # pragma: no cover - typing only (space imports this module)
    from scalesearch.spec.space import Suggest


@dataclass(frozen=True)
class Parameter:
    """Base of the parameter kinds; `name` is how expressions refer to it."""

    name: str

    kind: ClassVar[str] = ""  # the key in a spec file: int, float, grid, choice, fixed, derived, match
    sampled: ClassVar[bool] = False  # a sampler chooses it (int, float, grid, choice)
    settable: ClassVar[bool] = True  # a point may give it a value (derived ones are computed)

    def size(self) -> int | None:
        """How many values a grid sampler enumerates (None: not enumerable), counted without listing them."""
        return None

    @property
    def enumerable(self) -> bool:
        """Whether a grid sampler can list its values."""
        return self.size() is not None

    def values(self) -> Sequence[Any]:
        """Every value, in order (only for enumerable parameters; check `size()` first on large ranges)."""
        raise TypeError(f"parameter {self.name!r} ({self.kind}) has no list of values")

    def suggest(self, suggest: Suggest) -> Any:
        """A value drawn through the suggest protocol (sampled parameters only)."""
        raise TypeError(f"parameter {self.name!r} ({self.kind}) is not sampled")

    def contains(self, value: Any) -> bool:
        """Whether `value` is one the sampler can give (sampled parameters only; False for the others)."""
        return False

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        """(key, expression) of every expression it evaluates, keyed as in the spec file."""
        return ()

    @property
    def deps(self) -> frozenset[str]:
        """The names its expressions use."""
        return frozenset(n for _, e in self.exprs() for n in e.names)


@dataclass(frozen=True)
class IntParam(Parameter):
    """An integer in [low, high] (both included) with `step`; `log` samples log-uniformly (step must be 1)."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "int"
    sampled: ClassVar[bool] = True

    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)

    def suggest(self, suggest: Suggest) -> int:
        return suggest.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        return type(value) is int and self.low <= value <= self.high and (value - self.low) % self.step == 0


@dataclass(frozen=True)
class FloatParam(Parameter):
    """A float in [low, high]; `step` makes it discrete (and enumerable); `log` samples log-uniformly."""

    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "float"
    sampled: ClassVar[bool] = True

    def size(self) -> int | None:
        if self.step is None:
            return None
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def values(self) -> tuple[float, ...]:
        """low, low+step, ... <= high (rounded to 12 significant digits), for grid enumeration."""
        n = self.size()
        if n is None:
            raise ValueError(f"{self.name}: a float range without step cannot be enumerated")
        return tuple(float(f"{self.low + i * self.step:.12g}") for i in range(n))  # type: ignore[operator]

    def suggest(self, suggest: Suggest) -> float:
        return suggest.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        if type(value) not in (int, float) or not self.low <= value <= self.high:
            return False
        if self.step is None:
            return True
        k = (value - self.low) / self.step
        return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))


@dataclass(frozen=True)
class GridParam(Parameter):
    """An ordered list of numbers: enumerated by the grid sampler, categorical for the others."""

    grid: tuple[int | float, ...] = ()
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "grid"
    sampled: ClassVar[bool] = True

    def size(self) -> int:
        return len(self.grid)

    def values(self) -> tuple[int | float, ...]:
        return self.grid

    def suggest(self, suggest: Suggest) -> Any:
        return suggest.suggest_categorical(self.name, list(self.grid))

    def contains(self, value: Any) -> bool:
        return member(value, self.grid)


@dataclass(frozen=True)
class ChoiceParam(Parameter):
    """A categorical choice among scalars (strings, numbers, booleans)."""

    choices: tuple[Any, ...] = ()
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "choice"
    sampled: ClassVar[bool] = True

    def size(self) -> int:
        return len(self.choices)

    def values(self) -> tuple[Any, ...]:
        return self.choices

    def suggest(self, suggest: Suggest) -> Any:
        return suggest.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        return member(value, self.choices)


def member(value: Any, values: tuple[Any, ...]) -> bool:
    """Whether `value` is one of `values`, of the same type (True is not 1, 1 is not 1.0)."""
    return any(type(value) is type(v) and value == v for v in values)


@dataclass(frozen=True)
class FixedParam(Parameter):
    """A constant (the baseline and points may override it)."""

    value: Any = None
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "fixed"


@dataclass(frozen=True)
class DerivedParam(Parameter):
    """An expression of other parameters (and base_macs/base_params/base_acts), evaluated per candidate."""

    expr: Expr = None  # type: ignore[assignment]
    loc: Loc | None = loc_field()

    kind: ClassVar[str] = "derived"
    settable: ClassVar[bool] = False

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        return (("derived", self.expr),)


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

    kind: ClassVar[str] = "match"

    def values(self) -> range:
        """The values the match searches (not a grid: a matched parameter is never enumerated)."""
        return range(self.low, self.high + 1, self.step)

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        return tuple((k, e) for k, e in (("target", self.target), ("when", self.when),
                                          ("otherwise", self.otherwise)) if e is not None)
