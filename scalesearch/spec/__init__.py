"""Search-space spec files: schema, validation with file:line:column errors, resolution to NetSpecs.

A spec (YAML, documented in full in docs/spec.md) names a study, its seed, the dataset, the training recipe, an
architecture family of `scalesearch.arch.GENERATORS` with its arguments, and the search space: sampled parameters
(int/float ranges, categorical choices, grids), fixed, derived (expressions) and matched parameters (an integer
chosen so that the candidate's MACs or params come closest to a target), constraints over parameters and the
candidate's analytic cost, a baseline and named points, and the search settings (sampler, trials, repeats,
objectives, early stopping, resources, concurrency, time budget).

Specs are data: YAML is read with `yaml.SafeLoader` (composed node by node, so that every key and value keeps
its line and column), and expressions are evaluated only by `scalesearch.expr`'s AST whitelist. Every problem is a
`SpecError` (a ValueError) whose message is one line: `file:LINE:COL: field.path: what is wrong; expected ...`.

Flow: `load_spec(path)` / `parse_spec(text, filename)` -> `SearchSpec` (frozen; `format_spec` writes it back as
canonical YAML and `parse_spec(format_spec(s)) == s`) -> `sample_params(spec, suggest)` (any object with Optuna's
suggest_int / suggest_float / suggest_categorical) or `enumerate_grid(spec)` or a named point -> `resolve(spec,
params)` -> `NetSpec` (`resolve_candidate` also gives costs, matched values and the constraints that reject it)
-> `check_space(spec)` costs the whole space without training (what `scalesearch validate` prints).

Legend: a *sampled* parameter is one a sampler chooses (int, float, grid, choice); `values` are every parameter's
value at a candidate (sampled, fixed, derived, matched); `macs`, `params`, `acts` are the candidate's analytic
cost (`scalesearch.cost.count`) and `base_macs`, `base_params`, `base_acts` the baseline's.

Example:
    >>> spec = parse_spec('''
    ... study: demo
    ... dataset: {name: synthetic}
    ... architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: 8}}
    ... parameters: {n: {grid: [1, 2, 3]}}
    ... constraints: ["macs <= 3 * base_macs"]
    ... baseline: {n: 1}
    ... search: {sampler: grid}
    ... ''', "demo.yaml")
    >>> [(p.values["n"], p.feasible) for p in enumerate_grid(spec)]
    [(1, True), (2, True), (3, False)]
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import itertools
import keyword
import math
import random
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, Union

import yaml

from scalesearch.expr import FUNCTIONS, NAME_RE, Expr, ExprError, parse_expr

__all__ = [
    "SpecError", "InvalidArchitecture", "Loc", "SearchSpec", "DatasetSpec", "Architecture", "Parameter", "IntParam",
    "FloatParam", "GridParam", "ChoiceParam", "FixedParam", "DerivedParam", "MatchedParam", "Constraint", "Point",
    "Objective", "EarlyStopping", "Resources", "SearchConfig", "Match", "Candidate", "GridPoint", "SpaceReport",
    "Suggest", "RandomSuggest", "load_spec", "parse_spec", "format_spec", "spec_to_dict", "resolve",
    "resolve_candidate", "resolve_point", "baseline_netspec", "sample_params", "grid_space", "grid_size",
    "enumerate_grid", "check_space", "format_report", "DATASET_INFO", "OBJECTIVES", "SAMPLERS", "COST_NAMES",
    "BASE_NAMES",
]

OBJECTIVES = ("val_acc", "test_acc", "macs", "params", "latency")
DIRECTIONS = ("max", "min")
SAMPLERS = ("grid", "random", "tpe", "nsga2")
METRICS = ("macs", "params", "acts")
COST_NAMES = ("macs", "params", "acts")
BASE_NAMES = ("base_macs", "base_params", "base_acts")
EARLY_STOPPING = ("asha",)
ES_METRICS = ("val_acc",)  # never the test set: searches select on validation
# Dataset facts (in_channels, num_classes, native resolution) so that a spec is checked without loading data
# (scalesearch.data imports torch). tests/test_spec.py checks this table against scalesearch.data.DATASETS.
DATASET_INFO: dict[str, tuple[int, int, int]] = {"fashion-mnist": (1, 10, 28), "cifar10": (3, 10, 32),
                                                 "synthetic": (3, 10, 32)}
# Official (train, test) split sizes, to check train_size/val_size/test_size without loading anything.
DATASET_SIZES: dict[str, tuple[int, int]] = {"fashion-mnist": (60000, 10000), "cifar10": (50000, 10000),
                                             "synthetic": (10000, 2000)}
# Options of the synthetic generator (scalesearch.data._SYNTHETIC_DEFAULTS) a spec may set under `dataset`.
SYNTHETIC_OPTIONS: dict[str, type] = {"num_classes": int, "in_channels": int, "image_size": int, "num_train": int,
                                      "num_test": int, "noise": float, "max_shift": int, "pattern_seed": int}
# Train keys a spec may not set: the driver derives each trial's seed from the study seed and the repeat.
_TRAIN_FORBIDDEN = {"seed": "each trial's training seed is derived from the study `seed` and the repeat"}
# TrainConfig fields, used only when scalesearch.train cannot be imported (checked against it in the tests).
_TRAIN_FALLBACK: dict[str, Any] = {
    "epochs": int, "max_steps": Union[int, None], "batch_size": int, "lr": float, "momentum": float,
    "nesterov": bool, "weight_decay": float, "wd_on_bn_bias": bool, "label_smoothing": float, "schedule": str,
    "milestones": tuple[float, ...], "gamma": float, "warmup_epochs": float, "augment": bool, "crop_padding": int,
    "crop_pad_mode": str, "flip": bool, "seed": int, "device": str, "eval_batch_size": int, "eval_test": bool,
    "bf16": bool, "channels_last": bool, "compile": bool, "nan_check_every": int,
}
_IO_ARGS = ("in_channels", "num_classes")
RESERVED = frozenset(COST_NAMES + BASE_NAMES + tuple(FUNCTIONS) + ("true", "false", "True", "False", "None")
                     + tuple(keyword.kwlist))
STUDY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FILE_BYTES = 1 << 20
MAX_NODES = 20000
MAX_GRID = 100_000
MAX_STEPS = 100_000  # values a matched parameter may range over


# ---------------------------------------------------------------------------------------------------------------
# Errors and locations

def _one_line(s: str) -> str:
    return " ".join(str(s).split())


class SpecError(ValueError):
    """A problem in a spec file; str() is one line: `file:LINE:COL: field: what is wrong; expected ...`.

    Attributes:
        file, line, col: where (1-based; 0 when the spec was built in Python and has no file).
        field: the dotted field path, e.g. `parameters.gamma.derived`.
        problem: what is wrong.
        expected: what is expected ("" when there is nothing useful to say).
    """

    def __init__(self, problem: str, *, file: str = "<spec>", line: int = 0, col: int = 0, field: str = "",
                 expected: str = "") -> None:
        self.file, self.line, self.col = file, line, col
        self.field = field or "(spec)"
        self.problem = _one_line(problem)
        self.expected = _one_line(expected)
        super().__init__(str(self))

    def __str__(self) -> str:
        tail = f"; expected {self.expected}" if self.expected else ""
        return f"{self.file}:{self.line}:{self.col}: {self.field}: {self.problem}{tail}"


class InvalidArchitecture(SpecError):
    """The family generator rejected the arguments of a candidate (e.g. a depth that is not 6n+2); `reason` is
    the generator's message."""

    reason: str = ""
    values: dict[str, Any] = {}


@dataclass(frozen=True)
class Loc:
    """Where a value came from: file, 1-based line and column, and its dotted field path."""

    file: str = "<spec>"
    line: int = 0
    col: int = 0
    field: str = ""

    def error(self, problem: str, expected: str = "", cls: type[SpecError] = SpecError) -> SpecError:
        """A SpecError at this place."""
        return cls(problem, file=self.file, line=self.line, col=self.col, field=self.field, expected=expected)

    def child(self, name: str | int) -> "Loc":
        """Same place, field path extended (for values built without a node of their own)."""
        path = f"{self.field}[{name}]" if isinstance(name, int) else f"{self.field}.{name}" if self.field else name
        return Loc(self.file, self.line, self.col, path)


_NOLOC = Loc()


def _loc_field(default: Loc | None = None) -> Any:
    return field(default=default, compare=False, repr=False)


# ---------------------------------------------------------------------------------------------------------------
# YAML with positions: compose with SafeLoader, convert nodes ourselves (only plain scalars are constructed).

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-3 as a float (YAML 1.2), as PyYAML's 1.1 resolver does not."""


_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789"))

_SCALAR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}


class _N:
    """A YAML value with its place: `v` is a dict[str, _N], list[_N] or a plain scalar."""

    __slots__ = ("v", "loc", "key_loc")

    def __init__(self, v: Any, loc: Loc, key_loc: Loc | None = None) -> None:
        self.v, self.loc, self.key_loc = v, loc, key_loc or loc

    def err(self, problem: str, expected: str = "") -> SpecError:
        return self.loc.error(problem, expected)

    def key_err(self, problem: str, expected: str = "") -> SpecError:
        return self.key_loc.error(problem, expected)

    @property
    def path(self) -> str:
        return self.loc.field


def _compose(text: str, file: str) -> _N:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file, line=1, col=1, field="(file)",
                        expected="a spec of a few kilobytes")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = _one_line(e.problem or e.context or "invalid YAML")
        raise SpecError(f"invalid YAML: {problem}", file=file, line=(mark.line + 1) if mark else 1,
                        col=(mark.column + 1) if mark else 1, field="(yaml)",
                        expected="a valid YAML mapping") from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {_one_line(str(e))[:200]}", file=file, line=1, col=1, field="(yaml)",
                        expected="a valid YAML mapping") from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError("the file is empty", file=file, line=1, col=1, field="(file)",
                        expected="a YAML mapping with study, dataset, architecture, parameters and search")
    constructor = yaml.constructor.SafeConstructor()
    count = [0]

    def conv(node: yaml.Node, path: str, key_loc: Loc | None) -> _N:
        count[0] += 1
        loc = Loc(file, node.start_mark.line + 1, node.start_mark.column + 1, path)
        if count[0] > MAX_NODES:
            raise loc.error(f"the document has more than {MAX_NODES} values (YAML aliases expanding?)",
                            "a spec of a few kilobytes")
        where = path or "(top level)"
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise SpecError(f"unsupported YAML tag {_short(node.tag)}", file=file, line=loc.line, col=loc.col,
                                field=where, expected="plain YAML mappings, lists, numbers, strings, booleans")
            out: dict[str, _N] = {}
            for knode, vnode in node.value:
                kloc = Loc(file, knode.start_mark.line + 1, knode.start_mark.column + 1, path)
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in ("tag:yaml.org,2002:str",
                                                                               "tag:yaml.org,2002:int"):
                    what = "a merge key '<<'" if knode.tag == "tag:yaml.org,2002:merge" else "this key"
                    raise kloc.error(f"{what} is not supported in a spec" if knode.tag.endswith("merge")
                                     else f"key {_short(str(getattr(knode, 'value', '?')))!r} is not a string",
                                     "string keys (quote keys such as yes, no, on, off)")
                key = str(knode.value)
                sub = f"{path}.{key}" if path else key
                if key in out:
                    raise Loc(file, kloc.line, kloc.col, sub).error(f"duplicate key {key!r}", "each key once")
                out[key] = conv(vnode, sub, Loc(file, kloc.line, kloc.col, sub))
            return _N(out, loc, key_loc)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise SpecError(f"unsupported YAML tag {_short(node.tag)}", file=file, line=loc.line, col=loc.col,
                                field=where, expected="plain YAML mappings, lists, numbers, strings, booleans")
            return _N([conv(v, f"{path}[{i}]", None) for i, v in enumerate(node.value)], loc, key_loc)
        if node.tag not in _SCALAR_TAGS:
            kind = node.tag.rsplit(":", 1)[-1]
            raise SpecError(f"unsupported YAML value of type {_short(kind)!r} ({_short(str(node.value))!r})",
                            file=file, line=loc.line, col=loc.col, field=where,
                            expected="a number, string, boolean or null (quote strings such as dates)")
        try:
            value = constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            raise loc.error(f"cannot read value {_short(str(node.value))!r}: {_short(str(e), 80)}",
                            "a number, string, boolean or null") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise loc.error(f"{value} is not a finite number", "a finite number")
        if type(value) is int and abs(value) > 10 ** 15:
            raise loc.error(f"integer {_short(str(value))} is too large", "|n| <= 10**15")
        return _N(value, loc, key_loc)

    return conv(root, "", None)


def _short(s: str, n: int = 40) -> str:
    s = _one_line(s)
    return s if len(s) <= n else s[: n - 3] + "..."


# ---------------------------------------------------------------------------------------------------------------
# Reading typed values from nodes

def _tname(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def _show(v: Any) -> str:
    if isinstance(v, _N):
        v = v.v
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return _short(repr(v))


def _mapping(n: _N, expected: str) -> dict[str, _N]:
    if not isinstance(n.v, dict):
        raise n.err(f"got {_tname(n.v)} {_show(n)}" if not isinstance(n.v, (dict, list)) else f"got {_tname(n.v)}",
                    expected)
    return n.v


def _check_keys(n: _N, allowed: Iterable[str], required: Iterable[str] = (), what: str = "") -> dict[str, _N]:
    m = _mapping(n, f"a mapping{' of ' + what if what else ''}")
    allowed = list(allowed)
    for k, sub in m.items():
        if k not in allowed:
            close = difflib.get_close_matches(k, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise sub.key_err(f"unknown key {k!r}{hint}", f"one of {', '.join(allowed)}")
    for k in required:
        if k not in m:
            raise n.err(f"missing required key {k!r}", f"{k} among the keys of {n.path or 'the file'}")
    return m


def _int(n: _N, low: int | None = None, high: int | None = None, *, null: bool = False) -> int | None:
    v = n.v
    if v is None and null:
        return None
    if type(v) is not int:
        raise n.err(f"got {_tname(v)} {_show(v)}", _range_text("an integer", low, high, null))
    if (low is not None and v < low) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range_text("an integer", low, high, null))
    return v


def _num(n: _N, low: float | None = None, high: float | None = None, *, null: bool = False,
         low_open: bool = False) -> float | None:
    v = n.v
    if v is None and null:
        return None
    if type(v) not in (int, float):
        raise n.err(f"got {_tname(v)} {_show(v)}", _range_text("a number", low, high, null, low_open))
    if (low is not None and (v < low or (low_open and v == low))) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range_text("a number", low, high, null, low_open))
    return float(v)


def _range_text(kind: str, low: Any, high: Any, null: bool = False, low_open: bool = False) -> str:
    s = kind
    if low is not None and high is not None:
        s += f" in {'(' if low_open else '['}{low}, {high}]"
    elif low is not None:
        s += f" {'>' if low_open else '>='} {low}"
    elif high is not None:
        s += f" <= {high}"
    return s + (" or null" if null else "")


def _str(n: _N, choices: Sequence[str] | None = None) -> str:
    v = n.v
    if not isinstance(v, str):
        raise n.err(f"got {_tname(v)} {_show(v)}", f"one of {', '.join(choices)}" if choices else "a string")
    if choices is not None and v not in choices:
        close = difflib.get_close_matches(v, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise n.err(f"unknown value {_short(v)!r}{hint}", f"one of {', '.join(choices)}")
    return v


def _bool(n: _N) -> bool:
    if not isinstance(n.v, bool):
        raise n.err(f"got {_tname(n.v)} {_show(n)}", "true or false")
    return n.v


def _list(n: _N, expected: str) -> list[_N]:
    if not isinstance(n.v, list):
        raise n.err(f"got {_tname(n.v)} {_show(n)}" if not isinstance(n.v, dict) else "got a mapping", expected)
    return n.v


def _scalar(n: _N, expected: str) -> Any:
    if isinstance(n.v, (dict, list)):
        raise n.err(f"got {_tname(n.v)}", expected)
    return n.v


def _expr(n: _N, what: str = "an expression") -> Expr:
    """An Expr from a node holding a string or a number (numbers are constant expressions)."""
    v = n.v
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise n.err(f"got {_tname(v)} {_show(v)}", f"{what} (a string such as \"2 * base_macs\") or a number")
    try:
        return parse_expr(v if isinstance(v, str) else repr(v))
    except ExprError as e:
        raise n.err(f"{_short(str(v), 60)!r}: {e.problem}", e.expected or "an expression of numbers, names, "
                    "+ - * / ** %, comparisons, and/or/not and min/max/abs/sqrt/log/exp/round/ceil/floor") from None


# ---------------------------------------------------------------------------------------------------------------
# The model

@dataclass(frozen=True)
class DatasetSpec:
    """The dataset: `name` (one of DATASET_INFO), split sizes (None = all; val carved from train), the input
    resolution (None = native) and, for `synthetic` only, generator options."""

    name: str
    train_size: int | None = None
    val_size: int = 5000
    test_size: int | None = None
    resolution: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    loc: Loc | None = _loc_field()

    @property
    def in_channels(self) -> int:
        """Image channels (from the synthetic options where set)."""
        return int(dict(self.options).get("in_channels", DATASET_INFO[self.name][0]))

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return int(dict(self.options).get("num_classes", DATASET_INFO[self.name][1]))

    @property
    def input_resolution(self) -> int:
        """The resolution images are given to the network at: `resolution` or the native one."""
        if self.resolution is not None:
            return self.resolution
        return int(dict(self.options).get("image_size", DATASET_INFO[self.name][2]))

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `scalesearch.data.load_dataset(name, **kwargs)` (without seed and device)."""
        kw: dict[str, Any] = {"train_size": self.train_size, "val_size": self.val_size, "test_size": self.test_size,
                              "resolution": self.resolution}
        kw.update(self.options)
        return kw


@dataclass(frozen=True)
class Architecture:
    """A family of `scalesearch.arch.GENERATORS` and its arguments: literals, `Expr`s of parameters, or tuples of
    those (for tuple arguments). `in_channels` and `num_classes` come from the dataset; `resolution` (or
    `base_resolution` of `efficientnet_compound`) defaults to the dataset's input resolution."""

    family: str
    args: tuple[tuple[str, Any], ...] = ()
    loc: Loc | None = _loc_field()
    arg_locs: tuple[tuple[str, Loc], ...] = _loc_field(())


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
    loc: Loc | None = _loc_field()

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
    loc: Loc | None = _loc_field()

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
    loc: Loc | None = _loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: True)

    def values(self) -> tuple[Any, ...]:
        return self.grid


@dataclass(frozen=True)
class ChoiceParam(Parameter):
    """A categorical choice among scalars (strings, numbers, booleans)."""

    choices: tuple[Any, ...] = ()
    loc: Loc | None = _loc_field()

    sampled = property(lambda self: True)
    enumerable = property(lambda self: True)

    def values(self) -> tuple[Any, ...]:
        return self.choices


@dataclass(frozen=True)
class FixedParam(Parameter):
    """A constant (the baseline and points may override it)."""

    value: Any = None
    loc: Loc | None = _loc_field()


@dataclass(frozen=True)
class DerivedParam(Parameter):
    """An expression of other parameters (and base_macs/base_params/base_acts), evaluated per candidate."""

    expr: Expr = None  # type: ignore[assignment]
    loc: Loc | None = _loc_field()


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
    loc: Loc | None = _loc_field()

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)


@dataclass(frozen=True)
class Constraint:
    """A boolean expression over parameters and `macs`/`params`/`acts`/`base_*`; false rejects a candidate."""

    expr: Expr
    loc: Loc | None = _loc_field()

    @property
    def name(self) -> str:
        return self.expr.source


@dataclass(frozen=True)
class Point:
    """A named configuration: values of every sampled parameter, optionally of fixed and matched ones."""

    name: str
    values: tuple[tuple[str, Any], ...]
    loc: Loc | None = _loc_field()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class Objective:
    """A metric to optimise: one of OBJECTIVES, direction "max" or "min"."""

    name: str
    direction: str


@dataclass(frozen=True)
class EarlyStopping:
    """ASHA: stop the worst trials at epochs grace_epochs * reduction_factor**k on `metric` (maximised)."""

    type: str = "asha"
    grace_epochs: int = 1
    reduction_factor: int = 3
    metric: str = "val_acc"
    loc: Loc | None = _loc_field()


@dataclass(frozen=True)
class Resources:
    """Per trial: CPU cores and GPU fraction."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass(frozen=True)
class SearchConfig:
    """How to search: sampler, trials (None: every grid point), repeats (seeds per configuration), objectives,
    early stopping, resources, concurrency and time budget; `points_only` evaluates the named points only."""

    sampler: str
    trials: int | None = None
    repeats: int = 1
    objectives: tuple[Objective, ...] = (Objective("val_acc", "max"),)
    early_stopping: EarlyStopping | None = None
    resources: Resources = Resources()
    max_concurrency: int = 1
    time_budget_s: float | None = None
    points_only: bool = False
    loc: Loc | None = _loc_field()


@dataclass(frozen=True)
class SearchSpec:
    """A whole spec file. Frozen; compare with ==, which ignores file positions.

    Attributes:
        study: the study name (results/<study>/).
        seed: seeds the sampler and every trial's training seed.
        dataset: the DatasetSpec.
        train: overrides of `scalesearch.train.TrainConfig`: literals or `Expr`s of parameters.
        architecture: the family and its arguments.
        parameters: every parameter, in file order.
        constraints: rejection rules, in file order.
        baseline: the reference point (defines base_macs/base_params/base_acts) or None.
        points: named points to evaluate first (or only, with search.points_only).
        search: the SearchConfig.
        file: the file it was read from (not compared).
    """

    study: str
    dataset: DatasetSpec
    architecture: Architecture
    search: SearchConfig
    seed: int = 0
    train: tuple[tuple[str, Any], ...] = ()
    parameters: tuple[Parameter, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    baseline: Point | None = None
    points: tuple[Point, ...] = ()
    file: str = field(default="<spec>", compare=False, repr=False)
    train_locs: tuple[tuple[str, Loc], ...] = _loc_field(())

    @functools.cached_property
    def params_by_name(self) -> dict[str, Parameter]:
        """name -> Parameter."""
        return {p.name: p for p in self.parameters}

    @property
    def sampled(self) -> tuple[Parameter, ...]:
        """The parameters a sampler chooses, in file order."""
        return tuple(p for p in self.parameters if p.sampled)

    @property
    def matched(self) -> tuple[MatchedParam, ...]:
        return tuple(p for p in self.parameters if isinstance(p, MatchedParam))

    @property
    def train_dict(self) -> dict[str, Any]:
        """The train overrides as a dict (values may be Exprs; see `Candidate.train` for evaluated ones)."""
        return dict(self.train)

    @property
    def point_names(self) -> list[str]:
        """"baseline" (when there is one), then the named points, in file order."""
        return ["baseline"] * (self.baseline is not None) + [p.name for p in self.points]

    def point(self, name: str) -> Point:
        """The named point ("baseline" for the baseline)."""
        if name == "baseline" and self.baseline is not None:
            return self.baseline
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"no point {name!r}; the spec has {', '.join(self.point_names) or 'none'}")


# ---------------------------------------------------------------------------------------------------------------
# Types of generator / TrainConfig arguments

@dataclass(frozen=True)
class _Type:
    base: Any  # int, float, str, bool, tuple, or None for anything
    item: Any = None
    optional: bool = False

    def text(self) -> str:
        names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
        if self.base is tuple:
            s = f"a list of {names.get(self.item, 'values').replace('an ', '').replace('a ', '')}s"
        else:
            s = names.get(self.base, "a value")
        return s + (" or null" if self.optional else "")


def _type_of(hint: Any) -> _Type:
    optional = False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return _Type(None, optional=optional)
        hint = args[0]
        origin = typing.get_origin(hint)
    if hint in (int, float, str, bool):
        return _Type(hint, optional=optional)
    if origin is tuple:
        a = typing.get_args(hint)
        return _Type(tuple, a[0] if a and a[0] in (int, float, str, bool) else None, optional)
    return _Type(None, optional=optional)


@functools.lru_cache(maxsize=None)
def _generator_args(family: str) -> dict[str, tuple[_Type, Any]]:
    from scalesearch.arch import GENERATORS

    gen = GENERATORS[family]
    try:
        hints = typing.get_type_hints(gen)
    except Exception:  # pragma: no cover - unresolvable annotations: accept any value
        hints = {}
    return {name: (_type_of(hints.get(name, Any)), p.default) for name, p in inspect.signature(gen).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@functools.lru_cache(maxsize=None)
def _train_fields() -> dict[str, _Type]:
    try:
        from scalesearch.train import TrainConfig
    except ImportError:  # pragma: no cover - train.py missing: the known fields
        return {k: _type_of(v) for k, v in _TRAIN_FALLBACK.items()}
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: _type_of(hints.get(f.name, Any)) for f in dataclasses.fields(TrainConfig)}


def _families() -> list[str]:
    from scalesearch.arch import GENERATORS

    return list(GENERATORS)


# ---------------------------------------------------------------------------------------------------------------
# Parsing

_TOP_KEYS = ("study", "seed", "dataset", "train", "architecture", "parameters", "constraints", "baseline", "points",
             "search")
_PARAM_KINDS = ("int", "float", "grid", "choice", "fixed", "derived", "match")
_PARAM_EXTRA = {"int": ("step", "log"), "float": ("step", "log")}
_MATCH_KEYS = ("target", "metric", "low", "high", "step", "when", "otherwise")
_SEARCH_KEYS = ("sampler", "trials", "repeats", "objectives", "early_stopping", "resources", "max_concurrency",
                "time_budget_s", "points_only")


def load_spec(path: str) -> SearchSpec:
    """Read and check a spec file.

    Args:
        path: a YAML spec file.

    Returns:
        The SearchSpec. Costing the space (infeasible spaces, generator errors) is `check_space`'s job.

    Raises:
        SpecError: any problem, as one line `path:LINE:COL: field: what is wrong; expected ...`.
        OSError: the file cannot be read.

    Example:
        >>> spec = load_spec("spaces/quickstart.yaml")  # doctest: +SKIP
    """
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise OSError(f"{path}: cannot read the spec: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"the file is not UTF-8 text (byte {e.start})", file=path, line=1, col=1, field="(file)",
                        expected="a UTF-8 YAML file") from None
    return parse_spec(text, path)


def parse_spec(text: str, filename: str = "<spec>") -> SearchSpec:
    """Parse and check spec text; `filename` is used in error messages.

    Example:
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet}\\n"
        ...                "search: {sampler: random, trials: 4}\\n")
        >>> s.study, s.search.trials, s.architecture.family
        ('x', 4, 'cifar_resnet')
    """
    root = _compose(text, filename)
    if not isinstance(root.v, dict):
        raise root.err(f"the document is {_tname(root.v)}, not a mapping",
                       "a YAML mapping with study, dataset, architecture, parameters and search")
    top = _check_keys(root, _TOP_KEYS, required=("study", "dataset", "architecture", "search"))
    for k in ("train", "parameters", "constraints", "points"):  # an empty optional section (`train:`) is absent
        if k in top and top[k].v is None:
            del top[k]
    study = _str(top["study"])
    if not STUDY_RE.match(study):
        raise top["study"].err(f"study name {_short(study)!r} is not allowed",
                               "letters, digits, '_', '-', '.' (at most 64, not starting with '.', '-' or '_')")
    seed = _int(top["seed"], 0, 2 ** 32 - 1) if "seed" in top else 0
    dataset = _parse_dataset(top["dataset"])
    params = _parse_parameters(top["parameters"]) if "parameters" in top else ()
    names = {p.name for p in params}
    arch = _parse_architecture(top["architecture"], names)
    constraints = _parse_constraints(top["constraints"], names) if "constraints" in top else ()
    baseline = _parse_point(top["baseline"], "baseline", params) if "baseline" in top else None
    points = _parse_points(top["points"], params) if "points" in top else ()
    search = _parse_search(top["search"])
    train, train_locs = _parse_train(top["train"], names) if "train" in top else ((), ())
    if any(o.name == "test_acc" for o in search.objectives) and dict(train).get("eval_test") is not True:
        node = _mapping(top["search"], "")["objectives"]
        raise _mapping(node, "")["test_acc"].key_err(
            "objective test_acc is only measured with train.eval_test: true, and a search that selects on the "
            "test set overfits it", "val_acc as the objective, or train: {eval_test: true} for a final report")
    spec = SearchSpec(study=study, seed=seed, dataset=dataset, train=train, architecture=arch, parameters=params,
                      constraints=constraints, baseline=baseline, points=points, search=search, file=filename,
                      train_locs=train_locs)
    _check_spec(spec, top)
    return spec


def _parse_dataset(n: _N) -> DatasetSpec:
    m = _check_keys(n, ("name", "train_size", "val_size", "test_size", "resolution", *SYNTHETIC_OPTIONS),
                    required=("name",), what="dataset settings")
    name = _str(m["name"], list(DATASET_INFO))
    options = []
    for k in SYNTHETIC_OPTIONS:
        if k in m:
            if name != "synthetic":
                raise m[k].key_err(f"{k!r} applies to the synthetic dataset only",
                                   "name, train_size, val_size, test_size, resolution")
            t = SYNTHETIC_OPTIONS[k]
            v = _int(m[k], 0 if k in ("max_shift", "pattern_seed") else 1) if t is int else _num(m[k], 0.0)
            options.append((k, v))
    opts = dict(options)
    n_train = int(opts.get("num_train", DATASET_SIZES[name][0]))
    n_test = int(opts.get("num_test", DATASET_SIZES[name][1]))
    val_size = _int(m["val_size"], 0, n_train - 1) if "val_size" in m else min(5000, n_train // 2)
    train_size = _int(m["train_size"], 1, n_train - val_size, null=True) if "train_size" in m else None
    return DatasetSpec(
        name=name, train_size=train_size, val_size=val_size,
        test_size=_int(m["test_size"], 1, n_test, null=True) if "test_size" in m else None,
        resolution=_int(m["resolution"], 4, 1024, null=True) if "resolution" in m else None,
        options=tuple(options), loc=n.loc)


def _parse_parameters(n: _N) -> tuple[Parameter, ...]:
    m = _mapping(n, "a mapping of parameter names to {int: [low, high]}, {float: ...}, {grid: [...]}, "
                    "{choice: [...]}, {derived: expr}, {match: {...}} or a fixed number")
    out: list[Parameter] = []
    for name, pn in m.items():
        if not NAME_RE.match(name) or name in RESERVED or name.startswith("_"):
            why = "is reserved" if name in RESERVED else "is not a valid name"
            raise pn.key_err(f"parameter name {_short(name)!r} {why}",
                             "a name of letters, digits and '_' starting with a letter, not one of "
                             "macs, params, acts, base_macs, base_params, base_acts, true, false, the function "
                             "names or a Python keyword")
        out.append(_parse_parameter(name, pn))
    return tuple(out)


def _parse_parameter(name: str, n: _N) -> Parameter:
    if not isinstance(n.v, dict):
        if isinstance(n.v, (int, float, bool)):
            return FixedParam(name, n.v, loc=n.loc)
        raise n.err(f"got {_tname(n.v)} {_show(n)}",
                    "{int: [low, high]}, {float: [low, high]}, {grid: [...]}, {choice: [...]}, {fixed: value}, "
                    "{derived: \"expr\"}, {match: {...}} or a number")
    m = n.v
    kinds = [k for k in m if k in _PARAM_KINDS]
    if len(kinds) != 1:
        if not kinds:
            bad = next(iter(m), None)
            if bad is not None:
                raise m[bad].key_err(f"unknown key {bad!r}", f"one of {', '.join(_PARAM_KINDS)}")
            raise n.err("empty parameter", f"one of {', '.join(_PARAM_KINDS)}")
        raise m[kinds[1]].key_err(f"a parameter has one kind, got both {kinds[0]!r} and {kinds[1]!r}",
                                  f"one of {', '.join(_PARAM_KINDS)}")
    kind = kinds[0]
    _check_keys(n, (kind, *_PARAM_EXTRA.get(kind, ())))
    v = m[kind]
    if kind in ("int", "float"):
        pair = _list(v, f"[low, high] ({'integers' if kind == 'int' else 'numbers'})")
        if len(pair) != 2:
            raise v.err(f"got {len(pair)} values", "[low, high]")
        log = _bool(m["log"]) if "log" in m else False
        if kind == "int":
            low, high = _int(pair[0]), _int(pair[1])
            step = _int(m["step"], 1) if "step" in m else 1
            if low > high:
                raise v.err(f"empty range: low {low} > high {high}", "low <= high")
            if log and low < 1:
                raise pair[0].err(f"a log range needs low >= 1, got {low}", "low >= 1 with log: true")
            if log and step != 1:
                raise m["step"].err(f"a log range takes step 1, got {step}", "no step with log: true")
            return IntParam(name, low, high, step, log, loc=n.loc)
        low, high = _num(pair[0]), _num(pair[1])
        step = _num(m["step"], 0.0, low_open=True, null=True) if "step" in m else None
        if low > high or (low == high and step is None):
            raise v.err(f"empty range: low {low} >= high {high}", "low < high (or a fixed value)")
        if log and low <= 0:
            raise pair[0].err(f"a log range needs low > 0, got {low}", "low > 0 with log: true")
        if log and step is not None:
            raise m["step"].err("a log range takes no step", "either log: true or a step")
        if step is not None and (high - low) / step > MAX_GRID:
            raise m["step"].err(f"step {step} gives more than {MAX_GRID} values", "a larger step")
        return FloatParam(name, low, high, step, log, loc=n.loc)
    if kind in ("grid", "choice"):
        items = _list(v, "a non-empty list of numbers" if kind == "grid" else "a non-empty list of choices")
        if not items:
            raise v.err(f"empty {kind}: the parameter has no values",
                        "a non-empty list" + (" of numbers" if kind == "grid" else ""))
        vals = []
        for it in items:
            x = it.v
            if kind == "grid":
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise it.err(f"got {_tname(x)} {_show(it)}", "a number (use choice for strings)")
            elif isinstance(x, (dict, list)) or x is None:
                raise it.err(f"got {_tname(x)}", "a string, number or boolean")
            if any(type(x) is type(y) and x == y for y in vals):
                raise it.err(f"duplicate value {_show(it)}", "distinct values")
            vals.append(x)
        if len(vals) > MAX_GRID:
            raise v.err(f"{len(vals)} values", f"at most {MAX_GRID}")
        return GridParam(name, tuple(vals), loc=n.loc) if kind == "grid" else ChoiceParam(name, tuple(vals), loc=n.loc)
    if kind == "fixed":
        x = _scalar(v, "a number, string or boolean")
        if x is None:
            raise v.err("got null", "a number, string or boolean")
        return FixedParam(name, x, loc=n.loc)
    if kind == "derived":
        e = _expr(v, "an expression of other parameters")
        if e.kind == "bool":
            raise v.err(f"{_short(e.source)!r} is a condition, not a value", "an arithmetic expression")
        return DerivedParam(name, e, loc=v.loc)
    # match
    mm = _check_keys(v, _MATCH_KEYS, required=("target", "low", "high"), what="match settings")
    target = _expr(mm["target"], "the target complexity")
    if target.kind == "bool":
        raise mm["target"].err(f"{_short(target.source)!r} is a condition, not a number",
                               "an arithmetic expression such as 2 * base_macs")
    metric = _str(mm["metric"], METRICS) if "metric" in mm else "macs"
    low, high = _int(mm["low"]), _int(mm["high"])
    step = _int(mm["step"], 1) if "step" in mm else 1
    if low > high:
        raise mm["low"].err(f"empty range: low {low} > high {high}", "low <= high")
    if (high - low) // step + 1 > MAX_STEPS:
        raise mm["high"].err(f"the range has more than {MAX_STEPS} values", "a narrower range or a larger step")
    when = otherwise = None
    if "when" in mm:
        when = _expr(mm["when"], "a condition")
        if when.kind == "num":
            raise mm["when"].err(f"{_short(when.source)!r} is a number, not a condition", "a boolean expression")
        if "otherwise" not in mm:
            raise mm["when"].key_err("'when' needs 'otherwise' (the value where the condition is false)",
                                     "otherwise: an integer or expression")
        otherwise = _expr(mm["otherwise"], "the value where 'when' is false")
    elif "otherwise" in mm:
        raise mm["otherwise"].key_err("'otherwise' without 'when'", "when: a condition, or no otherwise")
    return MatchedParam(name, target, metric, low, high, step, when, otherwise, loc=v.loc)


def _expr_value(n: _N, t: _Type, params: set[str], what: str) -> Any:
    """A literal or Expr for an argument of type t; strings are expressions for numeric/bool arguments and
    parameter references (exactly a parameter's name) for string arguments."""
    v = n.v
    if t.base is tuple and not isinstance(v, str):
        items = _list(n, t.text())
        return tuple(_expr_value(it, _Type(t.item), params, what) for it in items)
    if isinstance(v, str):
        if t.base is str or (t.base is tuple and t.item is str) or (t.base is None and not _looks_like_expr(v)):
            if v in params:
                return parse_expr(v)
            return v
        e = _expr(n, f"{t.text()} or an expression of parameters")
        _check_names(n, e, params, what)
        return e
    if v is None:
        if t.optional or t.base is None:
            return None
        raise n.err("got null", t.text())
    if isinstance(v, (dict, list)):
        raise n.err(f"got {_tname(v)}", t.text())
    return _literal(n, v, t)


def _looks_like_expr(s: str) -> bool:
    return any(c in s for c in "+-*/%()<>= ")


def _literal(n: _N, v: Any, t: _Type) -> Any:
    b = t.base
    if b is None:
        return v
    if b is int and (type(v) is not int):
        raise n.err(f"got {_tname(v)} {_show(v)}", t.text())
    if b is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise n.err(f"got {_tname(v)} {_show(v)}", t.text())
        return float(v)
    if b is bool and not isinstance(v, bool):
        raise n.err(f"got {_tname(v)} {_show(v)}", t.text())
    if b is str and not isinstance(v, str):
        raise n.err(f"got {_tname(v)} {_show(v)}", t.text())
    if b is tuple:
        raise n.err(f"got {_tname(v)} {_show(v)}", t.text())
    return v


def _check_names(n: _N, e: Expr, allowed: set[str], what: str, extra: Sequence[str] = ()) -> None:
    for name in sorted(e.names):
        if name not in allowed and name not in extra:
            if name in COST_NAMES:
                hint = f"{name!r} (the candidate's cost) is known only in constraints"
            elif name in BASE_NAMES:
                hint = f"{name!r} cannot be used in {what}"
            else:
                close = difflib.get_close_matches(name, sorted(allowed | set(extra)), n=1)
                hint = f"undefined name {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            names = ", ".join(sorted(allowed | set(extra))) or "none"
            raise n.err(f"{_short(e.source)!r}: {hint}", f"names among: {_short(names, 120)}")


def _parse_architecture(n: _N, params: set[str]) -> Architecture:
    m = _check_keys(n, ("family", "args"), required=("family",), what="family and args")
    family = _str(m["family"], _families())
    sig = _generator_args(family)
    args: list[tuple[str, Any]] = []
    locs: list[tuple[str, Loc]] = []
    if "args" in m:
        am = _mapping(m["args"], f"a mapping of {family} arguments")
        for k, an in am.items():
            if k in _IO_ARGS:
                raise an.key_err(f"{k!r} is set by the dataset",
                                 f"one of {', '.join(a for a in sig if a not in _IO_ARGS)}")
            if k not in sig:
                choices = [a for a in sig if a not in _IO_ARGS]
                close = difflib.get_close_matches(k, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise an.key_err(f"{family} has no argument {k!r}{hint}", f"one of {', '.join(choices)}")
            args.append((k, _expr_value(an, sig[k][0], params, "architecture arguments")))
            locs.append((k, an.loc))
    return Architecture(family, tuple(args), loc=m["family"].loc, arg_locs=tuple(locs))


def _parse_train(n: _N, params: set[str]) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Loc], ...]]:
    m = _mapping(n, "a mapping of training settings (fields of scalesearch.train.TrainConfig)")
    fields = _train_fields()
    out, locs = [], []
    for k, vn in m.items():
        if k in _TRAIN_FORBIDDEN:
            raise vn.key_err(f"{k!r} cannot be set here: {_TRAIN_FORBIDDEN[k]}",
                             "the top-level seed: key instead")
        if k not in fields:
            choices = [f for f in fields if f not in _TRAIN_FORBIDDEN]
            close = difflib.get_close_matches(k, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise vn.key_err(f"unknown training setting {k!r}{hint}", f"one of {', '.join(choices)}")
        out.append((k, _expr_value(vn, fields[k], params, "training settings")))
        locs.append((k, vn.loc))
    return tuple(out), tuple(locs)


def _parse_constraints(n: _N, params: set[str]) -> tuple[Constraint, ...]:
    items = _list(n, "a list of conditions such as \"macs <= 2 * base_macs\"")
    out = []
    for it in items:
        e = _expr(it, "a condition")
        if e.kind == "num":
            raise it.err(f"{_short(e.source)!r} is a number, not a condition",
                         "a comparison such as \"macs <= 2 * base_macs\"")
        _check_names(it, e, params, "constraints", COST_NAMES + BASE_NAMES)
        out.append(Constraint(e, loc=it.loc))
    return tuple(out)


def _parse_point(n: _N, name: str, params: tuple[Parameter, ...]) -> Point:
    m = _mapping(n, "a mapping of parameter names to values")
    by = {p.name: p for p in params}
    vals = []
    for k, vn in m.items():
        p = by.get(k)
        if p is None:
            close = difflib.get_close_matches(k, list(by), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise vn.key_err(f"unknown parameter {k!r}{hint}",
                             f"names among: {', '.join(by) or 'none (the spec has no parameters)'}")
        if isinstance(p, DerivedParam):
            raise vn.key_err(f"{k!r} is derived (computed from other parameters) and cannot be set",
                             "values for sampled, fixed or matched parameters")
        x = _scalar(vn, "a number, string or boolean")
        if isinstance(p, IntParam) or isinstance(p, MatchedParam):
            _int(vn)
        elif isinstance(p, (FloatParam, GridParam)):
            _num(vn)
            if isinstance(p, GridParam) and all(type(g) is int for g in p.grid) and type(x) is not int:
                raise vn.err(f"got {_tname(x)} {_show(x)}", "an integer, like the grid's values")
            x = float(x) if isinstance(p, FloatParam) else x
        elif isinstance(p, ChoiceParam):
            if not any(type(x) is type(c) and x == c for c in p.choices):
                raise vn.err(f"{_show(x)} is not one of the choices", f"one of {', '.join(map(repr, p.choices))}")
        elif isinstance(p, FixedParam):
            if x is None or (type(x) is not type(p.value) and not (
                    isinstance(x, (int, float)) and isinstance(p.value, (int, float))
                    and not isinstance(x, bool) and not isinstance(p.value, bool))):
                raise vn.err(f"got {_tname(x)} {_show(x)}", f"{_tname(p.value)} like the fixed value")
        vals.append((k, x))
    for p in params:
        if p.sampled and p.name not in m:
            raise n.err(f"no value for the sampled parameter {p.name!r}",
                        f"a value for each of {', '.join(q.name for q in params if q.sampled)}")
    return Point(name, tuple(vals), loc=n.loc)


def _parse_points(n: _N, params: tuple[Parameter, ...]) -> tuple[Point, ...]:
    m = _mapping(n, "a mapping of point names to parameter values")
    out = []
    for name, pn in m.items():
        if not STUDY_RE.match(name) or name == "baseline":
            raise pn.key_err(f"point name {_short(name)!r} is not allowed",
                             "letters, digits, '_', '-', '.' other than 'baseline'")
        out.append(_parse_point(pn, name, params))
    return tuple(out)


def _parse_search(n: _N) -> SearchConfig:
    m = _check_keys(n, _SEARCH_KEYS, required=("sampler",), what="search settings")
    sampler = _str(m["sampler"], SAMPLERS)
    objectives: tuple[Objective, ...] = (Objective("val_acc", "max"),)
    if "objectives" in m:
        om = _mapping(m["objectives"], "a mapping of objectives to max or min, e.g. {val_acc: max, macs: min}")
        if not om:
            raise m["objectives"].err("no objectives", "at least one of " + ", ".join(OBJECTIVES))
        objs = []
        for k, dn in om.items():
            if k not in OBJECTIVES:
                close = difflib.get_close_matches(k, OBJECTIVES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise dn.key_err(f"unknown objective {k!r}{hint}", f"one of {', '.join(OBJECTIVES)}")
            objs.append(Objective(k, _str(dn, DIRECTIONS)))
        objectives = tuple(objs)
    es = None
    if "early_stopping" in m and m["early_stopping"].v is not None:
        em = _check_keys(m["early_stopping"], ("type", "grace_epochs", "reduction_factor", "metric"),
                         required=("type",), what="early-stopping settings")
        es = EarlyStopping(type=_str(em["type"], EARLY_STOPPING),
                           grace_epochs=_int(em["grace_epochs"], 1) if "grace_epochs" in em else 1,
                           reduction_factor=_int(em["reduction_factor"], 2) if "reduction_factor" in em else 3,
                           metric=_str(em["metric"], ES_METRICS) if "metric" in em else "val_acc",
                           loc=(em.get("grace_epochs") or m["early_stopping"]).loc)
    res = Resources()
    if "resources" in m:
        rm = _check_keys(m["resources"], ("cpus", "gpus"), what="per-trial resources")
        res = Resources(cpus=_num(rm["cpus"], 0.0, 1024, low_open=True) if "cpus" in rm else 1.0,
                        gpus=_num(rm["gpus"], 0.0, 64) if "gpus" in rm else 0.0)
    trials = _int(m["trials"], 1, 10 ** 7, null=True) if "trials" in m else None
    points_only = _bool(m["points_only"]) if "points_only" in m else False
    if trials is None and sampler != "grid" and not points_only:
        raise n.err(f"the {sampler} sampler needs a number of trials", "trials: an integer >= 1")
    budget = _num(m["time_budget_s"], 0.0, null=True, low_open=True) if "time_budget_s" in m else None
    return SearchConfig(sampler=sampler, trials=trials,
                        repeats=_int(m["repeats"], 1, 1000) if "repeats" in m else 1,
                        objectives=objectives, early_stopping=es, resources=res,
                        max_concurrency=_int(m["max_concurrency"], 1, 10000) if "max_concurrency" in m else 1,
                        time_budget_s=budget, points_only=points_only, loc=n.loc)


# ---------------------------------------------------------------------------------------------------------------
# Cross-field checks

def _param_deps(p: Parameter) -> set[str]:
    if isinstance(p, DerivedParam):
        return set(p.expr.names)
    if isinstance(p, MatchedParam):
        out = set(p.target.names)
        for e in (p.when, p.otherwise):
            if e is not None:
                out |= e.names
        return out
    return set()


def _exprs_of(p: Parameter) -> list[tuple[str, Expr]]:
    if isinstance(p, DerivedParam):
        return [("derived", p.expr)]
    if isinstance(p, MatchedParam):
        return [(k, e) for k, e in (("target", p.target), ("when", p.when), ("otherwise", p.otherwise))
                if e is not None]
    return []


def _check_spec(spec: SearchSpec, top: dict[str, _N]) -> None:
    names = set(spec.params_by_name)
    pn = top.get("parameters")
    pm = pn.v if pn is not None else {}
    # names used by parameter expressions
    for p in spec.parameters:
        for key, e in _exprs_of(p):
            node = pm[p.name]
            node = node.v[key] if key == "derived" else node.v["match"].v[key]
            if p.name in e.names:
                raise node.err(f"parameters form a cycle: {p.name} -> {p.name} ({key} refers to itself)",
                               "an expression of other parameters")
            _check_names(node, e, names - {p.name}, f"parameter {p.name}", BASE_NAMES)
    # cycles among derived and matched parameters
    deps = {p.name: _param_deps(p) & names for p in spec.parameters}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for w in sorted(deps[u]):
            if state.get(w) == 1:
                cyc = stack[stack.index(w):] + [w]
                p = spec.params_by_name[w]
                raise (p.loc or _NOLOC).error(f"parameters form a cycle: {' -> '.join(cyc)}",
                                              "derived and matched parameters that depend on each other acyclically")
            if state.get(w) is None:
                visit(w)
        stack.pop()
        state[u] = 2

    for p in spec.parameters:
        if state.get(p.name) is None:
            visit(p.name)
    # base_* need a baseline
    if spec.baseline is None:
        uses: list[tuple[Loc | None, Expr]] = [(c.loc, c.expr) for c in spec.constraints]
        for p in spec.parameters:
            uses += [(p.loc, e) for _, e in _exprs_of(p)]
        for loc, e in uses:
            used = sorted(e.names & set(BASE_NAMES))
            if used:
                raise (loc or _NOLOC).error(f"{_short(e.source)!r} uses {used[0]}, but the spec has no baseline",
                                            "a `baseline:` point (it defines base_macs, base_params, base_acts)")
    # the grid sampler needs enumerable parameters
    s = spec.search
    if s.sampler == "grid" and not s.points_only:
        for p in spec.sampled:
            if not p.enumerable:
                raise (p.loc or _NOLOC).error(f"the grid sampler cannot enumerate the float range {p.name!r}",
                                              "a step, a grid: [...] list, or another sampler")
        size = grid_size(spec)
        if size > MAX_GRID:
            raise (s.loc or _NOLOC).error(f"the grid has {size} points", f"at most {MAX_GRID}")
    if s.points_only and not spec.points and spec.baseline is None:
        raise (s.loc or _NOLOC).error("points_only is set but the spec has no points", "points: or a baseline:")
    es = s.early_stopping
    if es is not None:
        epochs = spec.train_dict.get("epochs")
        if isinstance(epochs, int) and es.grace_epochs >= epochs:
            raise (es.loc or s.loc or _NOLOC).error(
                f"grace_epochs {es.grace_epochs} leaves nothing to stop in {epochs} epochs",
                f"grace_epochs < train.epochs ({epochs})")
    if len({o.name for o in s.objectives}) != len(s.objectives):  # pragma: no cover - mapping keys are unique
        raise (s.loc or _NOLOC).error("duplicate objective", "each objective once")


# ---------------------------------------------------------------------------------------------------------------
# Formatting (canonical YAML)

def _out(v: Any) -> Any:
    if isinstance(v, Expr):
        return v.source
    if isinstance(v, tuple):
        return _FlowSeq(_out(x) for x in v)
    return v


def _num_or_expr(e: Expr) -> Any:
    """A number where the expression is exactly a number literal (reads back as the same Expr), else its text."""
    src = e.source
    try:
        if str(int(src)) == src:
            return int(src)
    except ValueError:
        pass
    try:
        if repr(float(src)) == src:
            return float(src)
    except ValueError:
        pass
    return src


def _param_dict(p: Parameter) -> dict[str, Any]:
    if isinstance(p, IntParam):
        d: dict[str, Any] = {"int": [p.low, p.high]}
        if p.step != 1:
            d["step"] = p.step
        if p.log:
            d["log"] = True
        return d
    if isinstance(p, FloatParam):
        d = {"float": [p.low, p.high]}
        if p.step is not None:
            d["step"] = p.step
        if p.log:
            d["log"] = True
        return d
    if isinstance(p, GridParam):
        return {"grid": list(p.grid)}
    if isinstance(p, ChoiceParam):
        return {"choice": list(p.choices)}
    if isinstance(p, FixedParam):
        return {"fixed": p.value}
    if isinstance(p, DerivedParam):
        return {"derived": p.expr.source}
    if isinstance(p, MatchedParam):
        m: dict[str, Any] = {"target": _num_or_expr(p.target), "metric": p.metric, "low": p.low, "high": p.high}
        if p.step != 1:
            m["step"] = p.step
        if p.when is not None:
            m["when"] = p.when.source
            m["otherwise"] = _num_or_expr(p.otherwise) if p.otherwise is not None else None
        return {"match": m}
    raise TypeError(f"unknown parameter type {type(p).__name__}")  # pragma: no cover


def spec_to_dict(spec: SearchSpec) -> dict[str, Any]:
    """The canonical plain-data form of a spec (what `format_spec` writes as YAML)."""
    ds = spec.dataset
    dd: dict[str, Any] = {"name": ds.name}
    if ds.train_size is not None:
        dd["train_size"] = ds.train_size
    dd["val_size"] = ds.val_size
    if ds.test_size is not None:
        dd["test_size"] = ds.test_size
    if ds.resolution is not None:
        dd["resolution"] = ds.resolution
    dd.update(ds.options)
    d: dict[str, Any] = {"study": spec.study, "seed": spec.seed, "dataset": _Flow(dd) if len(dd) <= 5 else dd}
    if spec.train:
        train = {k: _out(v) for k, v in spec.train}
        d["train"] = _Flow(train) if len(train) <= 5 else train
    arch: dict[str, Any] = {"family": spec.architecture.family}
    if spec.architecture.args:
        arch["args"] = _Flow((k, _out(v)) for k, v in spec.architecture.args)
    d["architecture"] = arch
    if spec.parameters:
        d["parameters"] = {p.name: _Flow(_param_dict(p)) for p in spec.parameters}
    if spec.constraints:
        d["constraints"] = [c.expr.source for c in spec.constraints]
    if spec.baseline is not None:
        d["baseline"] = _Flow(spec.baseline.values)
    if spec.points:
        d["points"] = {p.name: _Flow(p.values) for p in spec.points}
    s = spec.search
    sd: dict[str, Any] = {"sampler": s.sampler}
    if s.trials is not None:
        sd["trials"] = s.trials
    sd["repeats"] = s.repeats
    sd["objectives"] = _Flow((o.name, o.direction) for o in s.objectives)
    if s.early_stopping is not None:
        es = s.early_stopping
        sd["early_stopping"] = _Flow(type=es.type, grace_epochs=es.grace_epochs,
                                     reduction_factor=es.reduction_factor, metric=es.metric)
    sd["resources"] = _Flow(cpus=s.resources.cpus, gpus=s.resources.gpus)
    sd["max_concurrency"] = s.max_concurrency
    if s.time_budget_s is not None:
        sd["time_budget_s"] = s.time_budget_s
    if s.points_only:
        sd["points_only"] = True
    d["search"] = sd
    return d


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never writes aliases and quotes strings that `_Loader` would read as floats (1e-3)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789"))


class _Flow(dict):
    """A mapping written on one line ({a: 1, b: [2, 3]})."""


class _FlowSeq(list):
    """A list written on one line ([1, 2])."""


_Dumper.add_representer(_FlowSeq, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data,
                                                                       flow_style=True))


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                    flow_style=True))


def format_spec(spec: SearchSpec) -> str:
    """Canonical YAML of a spec: `parse_spec(format_spec(s)) == s`.

    Example:
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet}\\n"
        ...                "search: {sampler: grid}\\n")
        >>> parse_spec(format_spec(s)) == s
        True
    """
    return yaml.dump(spec_to_dict(spec), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)


# ---------------------------------------------------------------------------------------------------------------
# Resolution: parameter values -> NetSpec, costs, matched values, constraint verdicts

@dataclass(frozen=True)
class Match:
    """How a matched parameter was resolved at one candidate."""

    name: str
    metric: str
    target: float
    value: int
    achieved: int

    @property
    def rel_error(self) -> float:
        """(achieved - target) / target."""
        return (self.achieved - self.target) / self.target if self.target else math.inf * (self.achieved != 0)


@dataclass(frozen=True)
class Candidate:
    """One resolved candidate.

    Attributes:
        values: every parameter's value (sampled, fixed, derived, matched), in spec order.
        netspec: the network (with the dataset's in_channels and classes).
        macs, params, acts: its analytic cost.
        train: the training overrides evaluated at this candidate.
        matches: how each active matched parameter was chosen.
        rejected_by: the sources of the constraints it violates (empty: feasible).
    """

    values: dict[str, Any]
    netspec: Any
    macs: int
    params: int
    acts: int
    train: dict[str, Any]
    matches: tuple[Match, ...] = ()
    rejected_by: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.rejected_by

    @property
    def hash(self) -> str:
        return self.netspec.hash


@functools.lru_cache(maxsize=1 << 16)
def _cost(netspec: Any) -> tuple[int, int, int]:
    from scalesearch.cost import count

    c = count(netspec)
    return c.macs, c.params, c.acts


def _fmt_values(values: Mapping[str, Any], limit: int = 6) -> str:
    items = [f"{k}={_short(repr(v), 16) if isinstance(v, str) else _fmt_num(v)}" for k, v in values.items()]
    if len(items) > limit:
        items = items[:limit] + ["..."]
    return ", ".join(items)


def _fmt_num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class _NoBase(Exception):
    """base_* asked for while resolving the baseline itself."""


class _Resolver:
    """Lazy evaluation of parameters at one candidate, with cycle and nested-matching detection."""

    def __init__(self, spec: SearchSpec, env: dict[str, Any], where: str, base: Callable[[], tuple[int, int, int]]
                 | None, matching: tuple[str, ...] = ()) -> None:
        self.spec, self.env, self.where, self.base, self.matching = spec, env, where, base, matching
        self.busy: list[str] = []
        self.matches: dict[str, Match] = {}

    def label(self) -> str:
        sampled = {p.name: self.env[p.name] for p in self.spec.sampled if p.name in self.env}
        return self.where or (f"at {_fmt_values(sampled)}" if sampled else "at the fixed values")

    def get(self, name: str) -> Any:
        if name in self.env:
            return self.env[name]
        if name in BASE_NAMES:
            if self.base is None:
                raise _NoBase(name)  # turned into a located SpecError by the caller
            return self.base()[BASE_NAMES.index(name)]
        p = self.spec.params_by_name.get(name)
        if p is None:
            raise (self.spec.architecture.loc or _NOLOC).error(f"undefined name {name!r}", "a parameter name")
        if name in self.busy:
            cyc = self.busy[self.busy.index(name):] + [name]
            raise (p.loc or _NOLOC).error(f"parameters form a cycle through the architecture: {' -> '.join(cyc)}",
                                          "a matched parameter whose target does not depend on itself")
        self.busy.append(name)
        try:
            if isinstance(p, FixedParam):
                v = p.value
            elif isinstance(p, DerivedParam):
                v = self.eval(p.expr, p.loc, f"parameter {name}")
                if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                    raise (p.loc or _NOLOC).error(f"{_short(p.expr.source)!r} gives {_tname(v)} {self.label()}",
                                                  "a number")
            elif isinstance(p, MatchedParam):
                v = self.match(p)
            else:
                raise (p.loc or _NOLOC).error(f"no value for the sampled parameter {name!r} ({self.label()})",
                                              "a value for every sampled parameter")
        finally:
            self.busy.pop()
        self.env[name] = v
        return v

    def eval(self, e: Expr, loc: Loc | None, what: str) -> Any:
        env = {}
        for n in e.names:
            try:
                env[n] = self.get(n)
            except _NoBase:
                raise (loc or _NOLOC).error(f"{_short(e.source)!r} uses {n}, which the baseline defines, in "
                                            f"{self.where or 'the baseline'}",
                                            "a baseline that does not depend on base_macs/base_params/base_acts") \
                    from None
        try:
            return e(env)
        except ExprError as ex:
            raise (loc or _NOLOC).error(f"{_short(e.source)!r} {self.label()}: {ex.problem}",
                                        ex.expected or "an expression that evaluates everywhere in the space") \
                from None

    def match(self, p: MatchedParam) -> int:
        if p.when is not None:
            cond = self.eval(p.when, p.loc.child("when") if p.loc else None, p.name)
            if type(cond) is not bool:
                raise (p.loc or _NOLOC).child("when").error(f"{_short(p.when.source)!r} gives {_tname(cond)}",
                                                            "a boolean")
            if not cond:
                v = self.eval(p.otherwise, p.loc.child("otherwise") if p.loc else None, p.name)
                if type(v) is float and v.is_integer():
                    v = int(v)
                if type(v) is not int:
                    raise (p.loc or _NOLOC).child("otherwise").error(
                        f"{_short(p.otherwise.source)!r} gives {_tname(v)} {_show(v)} {self.label()}",
                        "an integer")
                return v
        if self.matching:
            raise (p.loc or _NOLOC).error(
                f"matched parameters {self.matching[-1]!r} and {p.name!r} are both active {self.label()}",
                "at most one active matched parameter per candidate (use when: to switch between them)")
        target = self.eval(p.target, p.loc.child("target") if p.loc else None, p.name)
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise (p.loc or _NOLOC).child("target").error(f"target gives {_tname(target)}", "a number")
        frozen = dict(self.env)
        metric = METRICS.index(p.metric)
        errors: list[InvalidArchitecture] = []

        def cost(x: int) -> int | None:
            child = _Resolver(self.spec, {**frozen, p.name: x}, self.where, self.base, self.matching + (p.name,))
            try:
                return _cost(child.netspec())[metric]
            except InvalidArchitecture as e:
                errors.append(e)
                return None

        from scalesearch.arch import search_int

        value, achieved = search_int(cost, float(target), p.values())
        if value is None:
            e = errors[0] if errors else None
            raise (p.loc or _NOLOC).error(
                f"no value in [{p.low}, {p.high}] gives a valid architecture {self.label()}"
                + (f" (e.g. {p.name}={p.low}: {e.field}: {e.problem})" if e else ""),
                "a range of values the family accepts")
        self.matches[p.name] = Match(p.name, p.metric, float(target), value, achieved)
        return value

    def arg(self, v: Any, t: _Type, loc: Loc | None, field_name: str, coerce: bool = True) -> Any:
        if isinstance(v, Expr):
            x = self.eval(v, loc, field_name)
            return _coerce(x, t, loc, f"{_short(v.source)!r} gives {{}} {self.label()}") if coerce else x
        if isinstance(v, tuple):
            return tuple(self.arg(x, _Type(t.item), loc, field_name, coerce) for x in v)
        return v

    def netspec(self) -> Any:
        from scalesearch.arch import GENERATORS

        spec = self.spec
        arch = spec.architecture
        sig = _generator_args(arch.family)
        locs = dict(arch.arg_locs)
        kwargs = {}
        for k, v in arch.args:
            kwargs[k] = self.arg(v, sig[k][0], locs.get(k, arch.loc), k)
        ds = spec.dataset
        kwargs["in_channels"], kwargs["num_classes"] = ds.in_channels, ds.num_classes
        if "resolution" in sig and "resolution" not in kwargs:
            kwargs["resolution"] = ds.input_resolution
        elif "base_resolution" in sig and "base_resolution" not in kwargs and "resolution" not in sig:
            kwargs["base_resolution"] = ds.input_resolution
        try:
            return GENERATORS[arch.family](**kwargs)
        except (ValueError, TypeError) as e:
            msg = _one_line(str(e))
            head = msg.split(":", 1)[0].split("=", 1)[0].split("[", 1)[0].strip()
            loc = locs.get(head) or (arch.loc or _NOLOC)
            if head not in locs and arch.loc is not None:
                loc = Loc(arch.loc.file, arch.loc.line, arch.loc.col, "architecture")
            shown = _fmt_values({k: v for k, v in kwargs.items() if k not in _IO_ARGS})
            err = loc.error(f"{arch.family} rejects {shown} {self.label()}: {msg}", "arguments the family accepts",
                            cls=InvalidArchitecture)
            err.reason = msg
            raise err from None

    def train(self) -> dict[str, Any]:
        fields = _train_fields()
        locs = dict(self.spec.train_locs)
        return {k: self.arg(v, fields.get(k, _Type(None)), locs.get(k), k) for k, v in self.spec.train}


def _coerce(x: Any, t: _Type, loc: Loc | None, fmt: str) -> Any:
    """Check an evaluated argument against its type; integral floats become ints for int arguments."""
    b = t.base
    ok = True
    if b is int:
        if type(x) is float and x.is_integer():
            x = int(x)
        ok = type(x) is int
    elif b is float:
        ok = type(x) in (int, float)
        x = float(x) if ok else x
    elif b is bool:
        ok = type(x) is bool
    elif b is str:
        ok = type(x) is str
    if not ok:
        hint = "; wrap it in round(), ceil() or floor()" if b is int and type(x) is float else ""
        raise (loc or _NOLOC).error(fmt.format(f"{_tname(x)} {_show(x)}") + hint, t.text())
    return x


def _check_values(spec: SearchSpec, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    env: dict[str, Any] = {}
    by = spec.params_by_name
    for k, v in values.items():
        p = by.get(k)
        if p is None:
            raise SpecError(f"unknown parameter {k!r} ({where})", file=spec.file, field="parameters",
                            expected=f"names among {', '.join(by) or 'none'}")
        if isinstance(p, DerivedParam):
            raise (p.loc or _NOLOC).error(f"{k!r} is derived and cannot be given a value ({where})",
                                          "values for sampled, fixed or matched parameters")
        env[k] = v
    for p in spec.sampled:
        if p.name not in env:
            raise (p.loc or _NOLOC).error(f"no value for the sampled parameter {p.name!r} ({where})",
                                          f"values for {', '.join(q.name for q in spec.sampled)}")
    return env


@functools.lru_cache(maxsize=256)
def _baseline(spec: SearchSpec) -> Candidate:
    if spec.baseline is None:  # pragma: no cover - callers check
        raise SpecError("the spec has no baseline", file=spec.file, field="baseline")
    return _resolve(spec, spec.baseline.as_dict(), "for the baseline", is_baseline=True)


def _resolve(spec: SearchSpec, values: Mapping[str, Any], where: str = "", *, is_baseline: bool = False) -> Candidate:
    env = _check_values(spec, values, where or "resolve")
    base = None if is_baseline or spec.baseline is None else (lambda: _base_cost(spec))
    r = _Resolver(spec, env, where, base)
    for p in spec.parameters:
        r.get(p.name)
    try:
        ns = r.netspec()
    except InvalidArchitecture as e:
        e.values = {p.name: r.env[p.name] for p in spec.parameters}
        raise
    macs, params, acts = _cost(ns)
    train = r.train()
    out_values = {p.name: r.env[p.name] for p in spec.parameters}
    rejected = []
    if spec.constraints:
        cenv = dict(out_values)
        cenv.update(macs=macs, params=params, acts=acts)
        if is_baseline:
            cenv.update(base_macs=macs, base_params=params, base_acts=acts)
        elif spec.baseline is not None and any(c.expr.names & set(BASE_NAMES) for c in spec.constraints):
            cenv.update(zip(BASE_NAMES, _base_cost(spec)))
        for c in spec.constraints:
            try:
                ok = c.expr(cenv)
            except ExprError as e:
                raise (c.loc or _NOLOC).error(f"{_short(c.expr.source)!r} {r.label()}: {e.problem}",
                                              e.expected or "a condition that evaluates everywhere in the space") \
                    from None
            if type(ok) is not bool:
                raise (c.loc or _NOLOC).error(f"{_short(c.expr.source)!r} gives {_tname(ok)} {r.label()}",
                                              "a condition (true or false)")
            if not ok:
                rejected.append(c.expr.source)
    return Candidate(out_values, ns, macs, params, acts, train, tuple(r.matches.values()), tuple(rejected))


def _base_cost(spec: SearchSpec) -> tuple[int, int, int]:
    b = _baseline(spec)
    return b.macs, b.params, b.acts


def resolve_candidate(spec: SearchSpec, params: Mapping[str, Any], *, where: str = "") -> Candidate:
    """Resolve parameter values (every sampled one; fixed and matched ones optional) to a full Candidate.

    Args:
        spec: the SearchSpec.
        params: values of the sampled parameters (as `sample_params` returns), optionally overriding fixed
            parameters or pinning matched ones.
        where: a label for error messages (e.g. "for point paper").

    Returns:
        The Candidate: values, NetSpec, costs, evaluated training overrides, matches, violated constraints.

    Raises:
        InvalidArchitecture: the family rejects the arguments (a SpecError located at the argument).
        SpecError: a missing value, an expression failing (division by zero, ...), a wrong type.
    """
    return _resolve(spec, params, where)


def resolve(spec: SearchSpec, params: Mapping[str, Any]) -> Any:
    """The NetSpec of a candidate (see `resolve_candidate` for costs and constraint verdicts).

    Example:
        >>> s = parse_spec("study: x\\ndataset: {name: fashion-mnist}\\n"
        ...                "architecture: {family: cifar_resnet, args: {depth: d, width: 8}}\\n"
        ...                "parameters: {d: {grid: [20, 32]}}\\nsearch: {sampler: grid}\\n")
        >>> ns = resolve(s, {"d": 32})
        >>> ns.depth, ns.in_channels, ns.resolution
        (15, 1, 28)
    """
    return _resolve(spec, params).netspec


def resolve_point(spec: SearchSpec, name: str) -> Candidate:
    """The Candidate of a named point, or of the baseline for name "baseline"."""
    pt = spec.point(name)
    if pt is spec.baseline:
        return _baseline(spec)
    return _resolve(spec, pt.as_dict(), f"for point {name}")


def baseline_netspec(spec: SearchSpec) -> Any:
    """The baseline's NetSpec; without a baseline, the first point's, or the only candidate of a space with no
    sampled parameters."""
    if spec.baseline is not None:
        return _baseline(spec).netspec
    if spec.points:
        return resolve_point(spec, spec.points[0].name).netspec
    if not spec.sampled:
        return _resolve(spec, {}, "for the fixed values").netspec
    raise SpecError("the spec has no baseline or points to pick a network from", file=spec.file, field="baseline",
                    expected="a baseline: point")


# ---------------------------------------------------------------------------------------------------------------
# Sampling and grids

class Suggest(Protocol):
    """What `sample_params` needs: an Optuna `Trial` qualifies, and so does `RandomSuggest`."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


class RandomSuggest:
    """A seeded, Optuna-free `Suggest` drawing uniformly (log-uniformly with log=True); for tests and `validate`."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if log:
            return min(high, max(low, int(round(math.exp(self.rng.uniform(math.log(low), math.log(high + 1)) - 0.5)))))
        return low + step * self.rng.randrange((high - low) // step + 1)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if log:
            return math.exp(self.rng.uniform(math.log(low), math.log(high)))
        if step is not None:
            return float(f"{low + step * self.rng.randrange(int(math.floor((high - low) / step + 1e-9)) + 1):.12g}")
        return self.rng.uniform(low, high)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[self.rng.randrange(len(choices))]


def sample_params(spec: SearchSpec, suggest: Suggest) -> dict[str, Any]:
    """Draw values of the sampled parameters through `suggest` (Optuna's Trial, or a seeded fake).

    Int and float ranges call suggest_int / suggest_float with step and log; grids and choices call
    suggest_categorical. Pass the result to `resolve` / `resolve_candidate`.

    Example:
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet, "
        ...                "args: {width: w}}\\nparameters: {w: {int: [4, 16], step: 4}}\\n"
        ...                "search: {sampler: random, trials: 3}\\n")
        >>> sample_params(s, RandomSuggest(0))["w"] in (4, 8, 12, 16)
        True
    """
    out: dict[str, Any] = {}
    for p in spec.parameters:
        if isinstance(p, IntParam):
            out[p.name] = suggest.suggest_int(p.name, p.low, p.high, step=p.step, log=p.log)
        elif isinstance(p, FloatParam):
            out[p.name] = suggest.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
        elif isinstance(p, (GridParam, ChoiceParam)):
            out[p.name] = suggest.suggest_categorical(p.name, list(p.values()))
    return out


def grid_space(spec: SearchSpec) -> dict[str, list[Any]]:
    """name -> values of every sampled parameter (Optuna's GridSampler search_space)."""
    out = {}
    for p in spec.sampled:
        if not p.enumerable:
            raise (p.loc or _NOLOC).error(f"the float range {p.name!r} cannot be enumerated", "a step or a grid")
        out[p.name] = list(p.values())  # type: ignore[attr-defined]
    return out


def grid_size(spec: SearchSpec) -> int:
    """Number of grid points (product of the sampled parameters' value counts); 0 if one is not enumerable."""
    n = 1
    for p in spec.sampled:
        if not p.enumerable:
            return 0
        n *= len(p.values())  # type: ignore[attr-defined]
    return n


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid: its sampled values, every value, feasibility and cost.

    `rejected_by` holds the violated constraints' sources, or "architecture: <why>" when the family rejects the
    point (then `hash`, `macs`, `params`, `acts` are None).
    """

    sampled: dict[str, Any]
    values: dict[str, Any]
    feasible: bool
    rejected_by: tuple[str, ...]
    hash: str | None
    macs: int | None
    params: int | None
    acts: int | None = None
    matches: tuple[Match, ...] = ()


def _iter_grid(spec: SearchSpec) -> Iterable[dict[str, Any]]:
    space = grid_space(spec)
    names = list(space)
    for combo in itertools.product(*space.values()):
        yield dict(zip(names, combo))


def _point(spec: SearchSpec, sampled: dict[str, Any], where: str = "") -> GridPoint:
    try:
        c = _resolve(spec, sampled, where)
    except InvalidArchitecture as e:
        return GridPoint(sampled, dict(e.values or sampled), False, (f"architecture: {e.reason}",), None, None, None)
    return GridPoint(sampled, c.values, c.feasible, c.rejected_by, c.netspec.hash, c.macs, c.params, c.acts,
                     c.matches)


def enumerate_grid(spec: SearchSpec, *, limit: int = MAX_GRID) -> list[GridPoint]:
    """Every point of a grid space (sampled parameters enumerable), with feasibility and cost.

    Points are in itertools.product order over the sampled parameters in file order (the last varies fastest).

    Raises:
        SpecError: a float range without step, more than `limit` points, or an expression that fails.
    """
    size = grid_size(spec) if all(p.enumerable for p in spec.sampled) else None
    if size is None:
        grid_space(spec)  # raises, located at the parameter
    if size > limit:  # type: ignore[operator]
        raise (spec.search.loc or _NOLOC).error(f"the grid has {size} points", f"at most {limit}")
    return [_point(spec, s) for s in _iter_grid(spec)]


# ---------------------------------------------------------------------------------------------------------------
# Costing a whole space (scalesearch validate)

@dataclass(frozen=True)
class SpaceReport:
    """What `check_space` found. `n_candidates` is None for spaces with continuous parameters; `exhaustive` says
    whether every candidate was costed (else `evaluated` were sampled with RandomSuggest(spec.seed))."""

    study: str
    family: str
    sampler: str
    n_candidates: int | None
    exhaustive: bool
    evaluated: int
    feasible: int
    distinct: int
    macs_range: tuple[int, int] | None
    params_range: tuple[int, int] | None
    rejections: tuple[tuple[str, int], ...]
    invalid: int
    invalid_example: str
    matched: tuple[tuple[str, Match], ...]
    named: tuple[tuple[str, GridPoint], ...]
    warnings: tuple[str, ...]
    trials: int | None
    points: tuple[GridPoint, ...] = ()  # every candidate evaluated, in order (not part of to_dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["points"]
        d["matched"] = [dict(dataclasses.asdict(m), at=at, rel_error=m.rel_error) for at, m in self.matched]
        d["named"] = [{"name": n, **{k: v for k, v in dataclasses.asdict(p).items() if k != "matches"}}
                      for n, p in self.named]
        d["rejections"] = [{"constraint": c, "rejected": k} for c, k in self.rejections]
        return d


def check_space(spec: SearchSpec, *, samples: int = 256, limit: int = 20000) -> SpaceReport:
    """Resolve and cost the space without training: the baseline, the named points and every grid point (or
    `samples` random candidates when the space is continuous or larger than `limit`).

    Raises:
        SpecError: the baseline or a point fails to resolve, an expression fails somewhere in the space, or no
            candidate is feasible (a fully infeasible space).
    """
    _check_train(spec, {k: v for k, v in spec.train if not _has_expr(v)}, "")
    named: list[tuple[str, GridPoint]] = []
    if spec.baseline is not None:
        named.append(("baseline", _named(spec, spec.baseline)))
    for pt in spec.points:
        named.append((pt.name, _named(spec, pt)))
    enumerable = all(p.enumerable for p in spec.sampled)
    n_candidates = grid_size(spec) if enumerable else None
    if spec.search.points_only:
        pts = [p for _, p in named]
        exhaustive = True
        n_candidates = len(pts)
    elif enumerable and n_candidates is not None and n_candidates <= limit:
        pts = enumerate_grid(spec, limit=limit)
        exhaustive = True
    else:
        rs = RandomSuggest(spec.seed)
        pts = [_point(spec, sample_params(spec, rs)) for _ in range(samples)]
        exhaustive = False
    feas = [p for p in pts if p.feasible]
    counts: dict[str, int] = {c.expr.source: 0 for c in spec.constraints}
    invalid, example = 0, ""
    for p in pts:
        for r in p.rejected_by:
            if r.startswith("architecture: "):
                invalid += 1
                example = example or f"{_fmt_values(p.sampled)}: {r[len('architecture: '):]}"
            else:
                counts[r] += 1
    if not feas and invalid == len(pts) and pts:
        _resolve(spec, pts[0].sampled)  # every point is an invalid architecture: raise the first one's error
    if not feas:
        what = (f"all {len(pts)} grid points" if exhaustive else f"all {len(pts)} sampled candidates")
        parts = [f"{c!r} rejects {k}" for c, k in counts.items() if k]
        if invalid:
            parts.append(f"{invalid} invalid architectures (e.g. {example})")
        worst = max(range(len(spec.constraints)), key=lambda i: counts[spec.constraints[i].expr.source], default=None)
        loc = spec.constraints[worst].loc if worst is not None and any(counts.values()) else spec.architecture.loc
        raise (loc or _NOLOC).error(f"the space is infeasible: {what} are rejected ({'; '.join(parts)})",
                                    "at least one candidate that satisfies every constraint")
    matched = tuple((_fmt_values(p.sampled), m) for p in pts for m in p.matches)
    warnings = _warnings(spec)
    if spec.search.sampler == "grid" and spec.search.trials is not None and exhaustive and \
            spec.search.trials > len(feas) + len(named):
        warnings += (f"trials {spec.search.trials} exceeds the {len(feas)} feasible grid points",)
    return SpaceReport(
        study=spec.study, family=spec.architecture.family, sampler=spec.search.sampler, n_candidates=n_candidates,
        exhaustive=exhaustive, evaluated=len(pts), feasible=len(feas), distinct=len({p.hash for p in feas}),
        macs_range=(min(p.macs for p in feas), max(p.macs for p in feas)),  # type: ignore[type-var]
        params_range=(min(p.params for p in feas), max(p.params for p in feas)),  # type: ignore[type-var]
        rejections=tuple(counts.items()), invalid=invalid, invalid_example=example, matched=matched,
        named=tuple(named), warnings=warnings, trials=spec.search.trials, points=tuple(pts))


def _named(spec: SearchSpec, pt: Point) -> GridPoint:
    where = "for the baseline" if pt is spec.baseline else f"for point {pt.name}"
    c = _baseline(spec) if pt is spec.baseline else _resolve(spec, pt.as_dict(), where)
    _check_train(spec, c.train, f" ({where})")
    return GridPoint(pt.as_dict(), c.values, c.feasible, c.rejected_by, c.netspec.hash, c.macs, c.params, c.acts,
                     c.matches)


def _check_train(spec: SearchSpec, values: dict[str, Any], where: str) -> None:
    """Build a TrainConfig from training overrides, so that its own checks run before any training."""
    if not values:
        return
    try:
        from scalesearch.train import TrainConfig
    except ImportError:  # pragma: no cover
        return
    locs = dict(spec.train_locs)
    try:
        TrainConfig(**values)
    except (ValueError, TypeError) as e:
        msg = _one_line(str(e))
        head = re.split(r"[ :=]", msg, maxsplit=1)[0]
        loc = locs.get(head) or next(iter(locs.values()), None) or _NOLOC
        raise loc.error(f"invalid training setting{where}: {msg}", "values TrainConfig accepts") from None


def _has_expr(v: Any) -> bool:
    return isinstance(v, Expr) or (isinstance(v, tuple) and any(_has_expr(x) for x in v))


def _warnings(spec: SearchSpec) -> tuple[str, ...]:
    used: set[str] = set()
    for _, v in spec.architecture.args + spec.train:
        for e in _exprs(v):
            used |= e.names
    for c in spec.constraints:
        used |= c.expr.names
    for p in spec.parameters:
        used |= _param_deps(p)
    out = []
    for p in spec.parameters:
        if p.name not in used:
            out.append(f"parameter {p.name!r} is not used by the architecture, training, constraints or other "
                       "parameters")
    return tuple(out)


def _exprs(v: Any) -> list[Expr]:
    if isinstance(v, Expr):
        return [v]
    if isinstance(v, tuple):
        return [e for x in v for e in _exprs(x)]
    return []


def format_report(report: SpaceReport, spec: SearchSpec) -> str:
    """The human-readable summary `scalesearch validate` prints."""
    from scalesearch.cost import human

    def pct(x: float) -> str:
        return f"{100 * x:+.1f}%"

    ds = spec.dataset
    s = spec.search
    lines = [f"study        {spec.study}  ({spec.file})",
             f"family       {spec.architecture.family}  on {ds.name} {ds.in_channels}x{ds.input_resolution}x"
             f"{ds.input_resolution}, {ds.num_classes} classes"]
    objs = ", ".join(f"{o.name} {o.direction}" for o in s.objectives)
    trials = "every grid point" if s.trials is None else f"{s.trials} trials"
    es = f", early stopping {s.early_stopping.type}" if s.early_stopping else ""
    lines.append(f"search       {s.sampler}, {trials} x {s.repeats} repeat{'s' * (s.repeats > 1)}, objectives "
                 f"{objs}{es}, {s.max_concurrency} concurrent")
    if s.points_only:
        what = f"{report.n_candidates} named points only"
    elif report.n_candidates is None:
        what = "continuous space"
    else:
        what = f"{report.n_candidates} {'grid points' if s.sampler == 'grid' else 'candidates'}"
    how = "all costed" if report.exhaustive else f"{report.evaluated} sampled (seed {spec.seed})"
    lines.append(f"candidates   {what} ({how}): {report.feasible} feasible, {report.distinct} distinct "
                 f"architectures, {report.evaluated - report.feasible} rejected")
    if report.macs_range and report.params_range:
        lines.append(f"MACs         {human(report.macs_range[0])} .. {human(report.macs_range[1])} (feasible)")
        lines.append(f"params       {human(report.params_range[0])} .. {human(report.params_range[1])} (feasible)")
    if report.rejections or report.invalid:
        width = max([len(c) for c, _ in report.rejections] + [12])
        first = True
        for c, k in report.rejections:
            lines.append(f"{'constraints' if first else '':12} {c:{width}}  rejects {k}")
            first = False
        if report.invalid:
            lines.append(f"{'constraints' if first else '':12} {'(invalid architecture)':{width}}  rejects "
                         f"{report.invalid}, e.g. {_short(report.invalid_example, 100)}")
    if report.matched:
        by: dict[str, list[tuple[str, Match]]] = {}
        for at, m in report.matched:
            by.setdefault(m.name, []).append((at, m))
        first = True
        for name, ms in by.items():
            errs = [m.rel_error for _, m in ms]
            plural = "s" * (len(ms) > 1)
            lines.append(f"{'matched' if first else '':12} {name} ({ms[0][1].metric}): {len(ms)} candidate{plural}, "
                         f"achieved vs target {pct(min(errs))} .. {pct(max(errs))}")
            first = False
            shown = 12 if report.exhaustive else 4
            for at, m in ms[:shown]:
                lines.append(f"{'':14}{at or '-'}: {name}={m.value}, {human(m.achieved)} vs target "
                             f"{human(m.target)} ({pct(m.rel_error)})")
            if len(ms) > shown:
                lines.append(f"{'':14}... {len(ms) - shown} more")
    first = True
    for name, p in report.named:
        verdict = "feasible" if p.feasible else "rejected by " + "; ".join(p.rejected_by)
        mt = "".join(f", {m.name}={m.value} ({pct(m.rel_error)} of target)" for m in p.matches)
        lines.append(f"{'points' if first else '':12} {name}: {_fmt_values(p.sampled, 8) or '-'}: MACs "
                     f"{human(p.macs or 0)}, params {human(p.params or 0)}{mt}, {verdict}")
        first = False
    for w in report.warnings:
        lines.append(f"warning      {w}")
    return "\n".join(lines)
