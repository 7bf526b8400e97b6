"""The parameter kinds of a spec, one class each, registered once in `PARAMETER_CLASSES`.

A kind is one frozen dataclass that owns everything that differs between kinds, so that no caller asks which kind
it holds:

- its form in a spec file: `kind` (its key there), `options` (the keys it takes beside it), `parse` (from the YAML
  node, every problem a located one-line SpecError) and `yaml_form` (writing it back: `parse` of it gives it again);
- its values: `sampled`, `settable` (whether a point may give it a value), `size()` (how many values a grid
  enumerates, counted without listing them), `values()`, `suggest()` (a draw through the suggest protocol),
  `contains()` (whether a value is one it can give) and `point_value()` (the value a point gives it);
- its resolution: `exprs()` / `deps` (the expressions it evaluates and the names they use) and `resolve()` (its
  value at a candidate whose given values lack it).

The generic side is written once over the registry, as optuna's `distributions.py` is over its
`DISTRIBUTION_CLASSES`: `parse_parameter` finds the class by the kind's key in `KINDS`, `yaml_form` writes any kind
back. A new kind is a class here and one entry in `PARAMETER_CLASSES`; parsing, writing, points, grids and sampling
pick it up.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from scalesearch.errors import InputError
from scalesearch.spec.diagnostics import NOLOC, Loc
from scalesearch.spec.expr import Expr
from scalesearch.spec.yamlnodes import (
    Node,
    check_keys,
    got,
    literal,
    member,
    num_or_expr,
    read_bool,
    read_condition,
    read_distinct,
    read_expr,
    read_int,
    read_num,
    read_pair,
    read_scalar,
    read_str,
)
from scalesearch.util.text import short, show, type_name

MAX_GRID = 100_000  # points of a grid, counted before any is listed (and values of one grid or choice list)
MAX_STEPS = 100_000  # values a matched parameter may range over
METRICS = ("macs", "params", "acts")  # what a matched parameter matches


class Suggest(Protocol):
    """What `sample_params` needs: an Optuna `Trial` qualifies, and so does `RandomSuggest`."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


class Resolving(Protocol):
    """What a kind's `resolve` is given: the resolver of one candidate (`scalesearch.spec.resolve.Resolver`)."""

    def label(self) -> str: ...

    def eval(self, e: Expr, loc: Loc | None, what: str) -> Any: ...

    def match(self, p: MatchedParam) -> int: ...


@dataclass(frozen=True)
class Parameter:
    """Base of the parameter kinds; `name` is how expressions refer to it."""

    name: str

    kind: ClassVar[str] = ""  # the key in a spec file: int, float, grid, choice, fixed, derived, match
    options: ClassVar[tuple[str, ...]] = ()  # the keys it takes beside its kind's (step, log)
    sampled: ClassVar[bool] = False  # a sampler chooses it (int, float, grid, choice)
    settable: ClassVar[bool] = True  # a point may give it a value (derived ones are computed)

    # -- its form in a spec file

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> Parameter:
        """The parameter `name` from its node `n` holding the mapping `m` (`{kind: ..., option: ...}`, whose keys
        `parse_parameter` has checked); every problem is a SpecError located at the node at fault."""
        raise NotImplementedError(cls.__name__)

    def yaml_form(self) -> dict[str, Any]:
        """Its mapping in a spec file, the inverse of `parse` (options at their defaults left out)."""
        raise NotImplementedError(type(self).__name__)

    # -- its values

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

    def point_value(self, vn: Node) -> Any:
        """The value a point (or the baseline) gives it, read from the scalar node `vn` as the parameter holds it
        (settable kinds only)."""
        raise TypeError(f"parameter {self.name!r} ({self.kind}) cannot be given a value")

    # -- its resolution

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        """(key, expression) of every expression it evaluates, keyed as in the spec file."""
        return ()

    @property
    def deps(self) -> frozenset[str]:
        """The names its expressions use."""
        return frozenset(n for _, e in self.exprs() for n in e.names)

    def resolve(self, r: Resolving) -> Any:
        """Its value at the candidate `r` resolves, whose given values lack it: for a sampled one, an error."""
        raise (self.loc or NOLOC).error(f"no value for the sampled parameter {self.name!r} ({r.label()})",
                                        "a value for every sampled parameter")


def _changed(p: Parameter, keys: tuple[str, ...]) -> dict[str, Any]:
    """The fields among `keys` that differ from their defaults (what a spec file leaves out)."""
    defaults = {f.name: f.default for f in dataclasses.fields(p)}
    return {k: getattr(p, k) for k in keys if getattr(p, k) != defaults[k]}


@dataclass(frozen=True)
class IntParam(Parameter):
    """An integer in [low, high] (both included) with `step`; `log` samples log-uniformly (step must be 1)."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "int"
    options: ClassVar[tuple[str, ...]] = ("step", "log")
    sampled: ClassVar[bool] = True

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> IntParam:
        """`{int: [low, high], step:, log:}`."""
        v = m["int"]
        lo, hi = read_pair(v, "integers")
        log = read_bool(m["log"]) if "log" in m else False
        low, high = read_int(lo), read_int(hi)
        step = read_int(m["step"], 1) if "step" in m else 1
        if low > high:
            raise v.err(f"empty range: low {low} > high {high}", "low <= high")
        if log and low < 1:
            raise lo.err(f"a log range needs low >= 1, got {low}", "low >= 1 with log: true")
        if log and step != 1:
            raise m["step"].err(f"a log range takes step 1, got {step}", "no step with log: true")
        return cls(name, low, high, step, log, loc=n.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: [self.low, self.high], **_changed(self, self.options)}

    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)

    def suggest(self, suggest: Suggest) -> int:
        return suggest.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        return type(value) is int and self.low <= value <= self.high and (value - self.low) % self.step == 0

    def point_value(self, vn: Node) -> int:
        """An integer (any, not only those of the range)."""
        return read_int(vn)  # type: ignore[return-value]


@dataclass(frozen=True)
class FloatParam(Parameter):
    """A float in [low, high]; `step` makes it discrete (and enumerable); `log` samples log-uniformly."""

    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "float"
    options: ClassVar[tuple[str, ...]] = ("step", "log")
    sampled: ClassVar[bool] = True

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> FloatParam:
        """`{float: [low, high], step:, log:}`."""
        v = m["float"]
        lo, hi = read_pair(v, "numbers")
        log = read_bool(m["log"]) if "log" in m else False
        low, high = read_num(lo), read_num(hi)
        step = read_num(m["step"], 0.0, low_open=True, null=True) if "step" in m else None
        if low > high or (low == high and step is None):
            raise v.err(f"empty range: low {low} >= high {high}", "low < high (or a fixed value)")
        if log and low <= 0:
            raise lo.err(f"a log range needs low > 0, got {low}", "low > 0 with log: true")
        if log and step is not None:
            raise m["step"].err("a log range takes no step", "either log: true or a step")
        if step is not None and (high - low) / step > MAX_GRID:
            raise m["step"].err(f"step {step} gives more than {MAX_GRID} values", "a larger step")
        return cls(name, low, high, step, log, loc=n.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: [self.low, self.high], **_changed(self, self.options)}

    def size(self) -> int | None:
        if self.step is None:
            return None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    def values(self) -> tuple[float, ...]:
        """low, low+step, ... <= high (rounded to 12 significant digits), for grid enumeration."""
        n = self.size()
        if n is None:
            raise InputError(f"{self.name}: a float range without step cannot be enumerated")
        return tuple(float(f"{self.low + i * self.step:.12g}") for i in range(n))

    def suggest(self, suggest: Suggest) -> float:
        return suggest.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        if type(value) not in (int, float) or not self.low <= value <= self.high:
            return False
        if self.step is None:
            return True
        k = (value - self.low) / self.step
        return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))

    def point_value(self, vn: Node) -> float:
        """A number, as a float."""
        return read_num(vn)  # type: ignore[return-value]


def _grid_item(it: Node) -> None:
    """A grid value is a number."""
    if isinstance(it.v, bool) or not isinstance(it.v, (int, float)):
        raise it.err(got(it), "a number (use choice for strings)")


def _choice_item(it: Node) -> None:
    """A choice is a string, number or boolean."""
    if isinstance(it.v, (dict, list)) or it.v is None:
        raise it.err(got(it), "a string, number or boolean")


@dataclass(frozen=True)
class GridParam(Parameter):
    """An ordered list of numbers: enumerated by the grid sampler, categorical for the others."""

    grid: tuple[int | float, ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "grid"
    sampled: ClassVar[bool] = True

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> GridParam:
        """`{grid: [numbers]}`."""
        return cls(name, read_distinct(m["grid"], "grid", "numbers", _grid_item, MAX_GRID), loc=n.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: list(self.grid)}

    def size(self) -> int:
        return len(self.grid)

    def values(self) -> tuple[int | float, ...]:
        return self.grid

    def suggest(self, suggest: Suggest) -> Any:
        return suggest.suggest_categorical(self.name, list(self.grid))

    def contains(self, value: Any) -> bool:
        return member(value, self.grid)

    def point_value(self, vn: Node) -> Any:
        """A number; an integer where every grid value is one."""
        read_num(vn)
        if all(type(g) is int for g in self.values()) and type(vn.v) is not int:
            raise vn.err(got(vn), "an integer, like the grid's values")
        return vn.v


@dataclass(frozen=True)
class ChoiceParam(Parameter):
    """A categorical choice among scalars (strings, numbers, booleans)."""

    choices: tuple[Any, ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "choice"
    sampled: ClassVar[bool] = True

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> ChoiceParam:
        """`{choice: [scalars]}`."""
        return cls(name, read_distinct(m["choice"], "choice", "choices", _choice_item, MAX_GRID), loc=n.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: list(self.choices)}

    def size(self) -> int:
        return len(self.choices)

    def values(self) -> tuple[Any, ...]:
        return self.choices

    def suggest(self, suggest: Suggest) -> Any:
        return suggest.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        return member(value, self.choices)

    def point_value(self, vn: Node) -> Any:
        """One of the choices (same type and value)."""
        if not self.contains(vn.v):
            raise vn.err(f"{literal(vn.v)} is not one of the choices",
                         f"one of {', '.join(map(literal, self.values()))}")
        return vn.v


@dataclass(frozen=True)
class FixedParam(Parameter):
    """A constant (the baseline and points may override it)."""

    value: Any = None
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "fixed"

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> FixedParam:
        """`{fixed: value}` (a bare number is read by `parse_parameter`)."""
        v = m["fixed"]
        x = read_scalar(v, "a number, string or boolean")
        if x is None:
            raise v.err("got null", "a number, string or boolean")
        return cls(name, x, loc=n.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: self.value}

    def point_value(self, vn: Node) -> Any:
        """A value of the fixed value's type (numbers are interchangeable)."""
        x, want = vn.v, self.value
        numbers = all(isinstance(y, (int, float)) and not isinstance(y, bool) for y in (x, want))
        if x is None or (type(x) is not type(want) and not numbers):
            raise vn.err(got(vn), f"{'a number' if numbers else type_name(want)} like the fixed value")
        return x

    def resolve(self, r: Resolving) -> Any:
        return self.value


@dataclass(frozen=True)
class DerivedParam(Parameter):
    """An expression of other parameters (and base_macs/base_params/base_acts), evaluated per candidate."""

    expr: Expr = None  # type: ignore[assignment]
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "derived"
    settable: ClassVar[bool] = False

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> DerivedParam:
        """`{derived: "expression"}`: an arithmetic expression of other parameters."""
        v = m["derived"]
        e = read_expr(v, "an expression of other parameters")
        if e.kind == "bool":
            raise v.err(f"{short(e.source)!r} is a condition, not a value", "an arithmetic expression")
        return cls(name, e, loc=v.loc)

    def yaml_form(self) -> dict[str, Any]:
        return {self.kind: self.expr.source}

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        return (("derived", self.expr),)

    def resolve(self, r: Resolving) -> Any:
        """The expression, evaluated; it must give a number or a string."""
        v = r.eval(self.expr, self.loc, f"parameter {self.name}")
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise (self.loc or NOLOC).error(f"{short(self.expr.source)!r} gives {show(v)} {r.label()}", "a number")
        return v


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
    loc: Loc | None = field(default=None, compare=False, repr=False)

    kind: ClassVar[str] = "match"
    SETTINGS: ClassVar[tuple[str, ...]] = ("target", "metric", "low", "high", "step", "when", "otherwise")

    @classmethod
    def parse(cls, name: str, n: Node, m: dict[str, Node]) -> MatchedParam:
        """`{match: {target:, metric:, low:, high:, step:, when:, otherwise:}}`."""
        v = m["match"]
        mm = check_keys(v, cls.SETTINGS, required=("target", "low", "high"), what="match settings")
        target = read_expr(mm["target"], "the target complexity")
        if target.kind == "bool":
            raise mm["target"].err(f"{short(target.source)!r} is a condition, not a number",
                                   "an arithmetic expression such as 2 * base_macs")
        metric = read_str(mm["metric"], METRICS) if "metric" in mm else "macs"
        low, high = read_int(mm["low"]), read_int(mm["high"])
        step = read_int(mm["step"], 1) if "step" in mm else 1
        if low > high:
            raise mm["low"].err(f"empty range: low {low} > high {high}", "low <= high")
        if (high - low) // step + 1 > MAX_STEPS:
            raise mm["high"].err(f"the range has more than {MAX_STEPS} values", "a narrower range or a larger step")
        when = otherwise = None
        if "when" in mm:
            when = read_condition(mm["when"], "cardinality > 1")
            if "otherwise" not in mm:
                raise mm["when"].key_err("'when' needs 'otherwise' (the value where the condition is false)",
                                         "otherwise: an integer or expression")
            otherwise = read_expr(mm["otherwise"], "the value where 'when' is false")
        elif "otherwise" in mm:
            raise mm["otherwise"].key_err("'otherwise' without 'when'", "when: a condition, or no otherwise")
        return cls(name, target, metric, low, high, step, when, otherwise, loc=v.loc)

    def yaml_form(self) -> dict[str, Any]:
        m: dict[str, Any] = {"target": num_or_expr(self.target), "metric": self.metric, "low": self.low,
                             "high": self.high, **_changed(self, ("step",))}
        if self.when is not None:
            m["when"] = self.when.source
            m["otherwise"] = num_or_expr(self.otherwise) if self.otherwise is not None else None
        return {self.kind: m}

    def values(self) -> range:
        """The values the match searches (not a grid: a matched parameter is never enumerated)."""
        return range(self.low, self.high + 1, self.step)

    def point_value(self, vn: Node) -> int:
        """An integer (pinning the match; any, not only those of the range)."""
        return read_int(vn)  # type: ignore[return-value]

    def exprs(self) -> tuple[tuple[str, Expr], ...]:
        return tuple((k, e) for k, e in (("target", self.target), ("when", self.when),
                                          ("otherwise", self.otherwise)) if e is not None)

    def resolve(self, r: Resolving) -> int:
        """`otherwise` where `when` is false, else the value whose cost comes closest to the target."""
        return r.match(self)


# ---------------------------------------------------------------------------------------------------------------
# The registry: every kind, once, in the order messages list them; and the generic side over it.

PARAMETER_CLASSES: tuple[type[Parameter], ...] = (IntParam, FloatParam, GridParam, ChoiceParam, FixedParam,
                                                  DerivedParam, MatchedParam)
KINDS: dict[str, type[Parameter]] = {cls.kind: cls for cls in PARAMETER_CLASSES}  # a kind's key -> its class


def parse_parameter(name: str, n: Node) -> Parameter:
    """One parameter: a bare number is fixed; a mapping has exactly one kind key, and that kind's class reads it."""
    if not isinstance(n.v, dict):
        if isinstance(n.v, (int, float, bool)):
            return FixedParam(name, n.v, loc=n.loc)
        raise n.err(got(n),
                    "{int: [low, high]}, {float: [low, high]}, {grid: [...]}, {choice: [...]}, {fixed: value}, "
                    "{derived: \"expr\"}, {match: {...}} or a number")
    m = n.v
    kinds = [k for k in m if k in KINDS]
    if len(kinds) != 1:
        if not kinds:
            bad = next(iter(m), None)
            if bad is not None:
                raise m[bad].key_err(f"unknown key {bad!r}", f"one of {', '.join(KINDS)}")
            raise n.err("empty parameter", f"one of {', '.join(KINDS)}")
        raise m[kinds[1]].key_err(f"a parameter has one kind, got both {kinds[0]!r} and {kinds[1]!r}",
                                  f"one of {', '.join(KINDS)}")
    cls = KINDS[kinds[0]]
    check_keys(n, (cls.kind, *cls.options))
    return cls.parse(name, n, m)


def point_value(p: Parameter, vn: Node) -> Any:
    """The value a point gives the settable parameter `p`: a scalar, read by `p`'s kind."""
    read_scalar(vn, "a number, string or boolean")
    return p.point_value(vn)
