"""Reading the `parameters:` section and the values of the baseline and named points."""

from __future__ import annotations

from typing import Any, Callable

from scalesearch.expr import NAME_RE
from scalesearch.spec.constants import MAX_GRID, MAX_STEPS, METRICS, RESERVED, STUDY_RE
from scalesearch.spec.params import (ChoiceParam, DerivedParam, FixedParam, FloatParam, GridParam, IntParam,
                                     MatchedParam, Parameter, member)
from scalesearch.spec.readers import (check_keys, did_you_mean, got, literal, read_bool, read_condition, read_expr,
                                      read_int, read_list, read_mapping, read_num, read_scalar, read_str)
from scalesearch.spec.schema import Point
from scalesearch.spec.yamlnodes import Node
from scalesearch.text import short, type_name

MATCH_KEYS = ("target", "metric", "low", "high", "step", "when", "otherwise")


def parse_parameters(n: Node) -> tuple[Parameter, ...]:
    """Every parameter of the `parameters:` mapping, in file order."""
    m = read_mapping(n, "a mapping of parameter names to {int: [low, high]}, {float: ...}, {grid: [...]}, "
                        "{choice: [...]}, {derived: expr}, {match: {...}} or a fixed number")
    out: list[Parameter] = []
    for name, pn in m.items():
        if not NAME_RE.match(name) or name in RESERVED or name.startswith("_"):
            why = "is reserved" if name in RESERVED else "is not a valid name"
            raise pn.key_err(f"parameter name {short(name)!r} {why}",
                             "a name of letters, digits and '_' starting with a letter, not one of "
                             "macs, params, acts, base_macs, base_params, base_acts, true, false, the function "
                             "names or a Python keyword")
        out.append(parse_parameter(name, pn))
    return tuple(out)


def parse_parameter(name: str, n: Node) -> Parameter:
    """One parameter: a bare number is fixed; a mapping has exactly one kind key, read by that kind's parser."""
    if not isinstance(n.v, dict):
        if isinstance(n.v, (int, float, bool)):
            return FixedParam(name, n.v, loc=n.loc)
        raise n.err(got(n),
                    "{int: [low, high]}, {float: [low, high]}, {grid: [...]}, {choice: [...]}, {fixed: value}, "
                    "{derived: \"expr\"}, {match: {...}} or a number")
    m = n.v
    kinds = [k for k in m if k in PARSERS]
    if len(kinds) != 1:
        if not kinds:
            bad = next(iter(m), None)
            if bad is not None:
                raise m[bad].key_err(f"unknown key {bad!r}", f"one of {', '.join(PARSERS)}")
            raise n.err("empty parameter", f"one of {', '.join(PARSERS)}")
        raise m[kinds[1]].key_err(f"a parameter has one kind, got both {kinds[0]!r} and {kinds[1]!r}",
                                  f"one of {', '.join(PARSERS)}")
    kind = kinds[0]
    check_keys(n, (kind, *_OPTIONS.get(kind, ())))
    return PARSERS[kind](name, n, m)


def _pair(v: Node, items: str) -> tuple[Node, Node]:
    """[low, high] of an int or float range."""
    pair = read_list(v, f"[low, high] ({items})")
    if len(pair) != 2:
        raise v.err(f"got {len(pair)} values", "[low, high]")
    return pair[0], pair[1]


def _int_param(name: str, n: Node, m: dict[str, Node]) -> IntParam:
    """`{int: [low, high], step:, log:}`."""
    v = m["int"]
    lo, hi = _pair(v, "integers")
    log = read_bool(m["log"]) if "log" in m else False
    low, high = read_int(lo), read_int(hi)
    step = read_int(m["step"], 1) if "step" in m else 1
    if low > high:
        raise v.err(f"empty range: low {low} > high {high}", "low <= high")
    if log and low < 1:
        raise lo.err(f"a log range needs low >= 1, got {low}", "low >= 1 with log: true")
    if log and step != 1:
        raise m["step"].err(f"a log range takes step 1, got {step}", "no step with log: true")
    return IntParam(name, low, high, step, log, loc=n.loc)


def _float_param(name: str, n: Node, m: dict[str, Node]) -> FloatParam:
    """`{float: [low, high], step:, log:}`."""
    v = m["float"]
    lo, hi = _pair(v, "numbers")
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
    return FloatParam(name, low, high, step, log, loc=n.loc)


def _distinct(v: Node, kind: str, expected: str, check: Callable[[Node], None]) -> tuple[Any, ...]:
    """The values of a grid or choice list: non-empty, each passing `check`, no two equal (of one type)."""
    items = read_list(v, f"a non-empty list of {expected}")
    if not items:
        raise v.err(f"empty {kind}: the parameter has no values",
                    "a non-empty list" + (" of numbers" if kind == "grid" else ""))
    vals: list[Any] = []
    for it in items:
        check(it)
        if member(it.v, tuple(vals)):
            raise it.err(f"duplicate value {literal(it.v)}", "distinct values")
        vals.append(it.v)
    if len(vals) > MAX_GRID:
        raise v.err(f"{len(vals)} values", f"at most {MAX_GRID}")
    return tuple(vals)


def _grid_item(it: Node) -> None:
    """A grid value is a number."""
    if isinstance(it.v, bool) or not isinstance(it.v, (int, float)):
        raise it.err(got(it), "a number (use choice for strings)")


def _choice_item(it: Node) -> None:
    """A choice is a string, number or boolean."""
    if isinstance(it.v, (dict, list)) or it.v is None:
        raise it.err(got(it), "a string, number or boolean")


def _grid_param(name: str, n: Node, m: dict[str, Node]) -> GridParam:
    """`{grid: [numbers]}`."""
    return GridParam(name, _distinct(m["grid"], "grid", "numbers", _grid_item), loc=n.loc)


def _choice_param(name: str, n: Node, m: dict[str, Node]) -> ChoiceParam:
    """`{choice: [scalars]}`."""
    return ChoiceParam(name, _distinct(m["choice"], "choice", "choices", _choice_item), loc=n.loc)


def _fixed_param(name: str, n: Node, m: dict[str, Node]) -> FixedParam:
    """`{fixed: value}` (a bare number is read by `parse_parameter`)."""
    v = m["fixed"]
    x = read_scalar(v, "a number, string or boolean")
    if x is None:
        raise v.err("got null", "a number, string or boolean")
    return FixedParam(name, x, loc=n.loc)


def _derived_param(name: str, n: Node, m: dict[str, Node]) -> DerivedParam:
    """`{derived: "expression"}`: an arithmetic expression of other parameters."""
    v = m["derived"]
    e = read_expr(v, "an expression of other parameters")
    if e.kind == "bool":
        raise v.err(f"{short(e.source)!r} is a condition, not a value", "an arithmetic expression")
    return DerivedParam(name, e, loc=v.loc)


def _matched_param(name: str, n: Node, m: dict[str, Node]) -> MatchedParam:
    """`{match: {target:, metric:, low:, high:, step:, when:, otherwise:}}`."""
    v = m["match"]
    mm = check_keys(v, MATCH_KEYS, required=("target", "low", "high"), what="match settings")
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
    return MatchedParam(name, target, metric, low, high, step, when, otherwise, loc=v.loc)


# One parser per kind, chosen by the kind's key (the order is the order error messages list the kinds in).
PARSERS: dict[str, Callable[[str, Node, dict[str, Node]], Parameter]] = {
    "int": _int_param, "float": _float_param, "grid": _grid_param, "choice": _choice_param,
    "fixed": _fixed_param, "derived": _derived_param, "match": _matched_param,
}
# Keys a kind takes beside its own.
_OPTIONS: dict[str, tuple[str, ...]] = {"int": ("step", "log"), "float": ("step", "log")}


# ---------------------------------------------------------------------------------------------------------------
# Values a point gives a parameter: one reader per kind, each returning the value as the parameter holds it.

def _int_value(p: Parameter, vn: Node) -> int:
    """An integer (int and matched parameters; any value, not only those of the range)."""
    return read_int(vn)  # type: ignore[return-value]


def _float_value(p: Parameter, vn: Node) -> float:
    """A number, as a float."""
    return read_num(vn)  # type: ignore[return-value]


def _grid_value(p: Parameter, vn: Node) -> Any:
    """A number; an integer where every grid value is one."""
    read_num(vn)
    if all(type(g) is int for g in p.values()) and type(vn.v) is not int:
        raise vn.err(got(vn), "an integer, like the grid's values")
    return vn.v


def _choice_value(p: Parameter, vn: Node) -> Any:
    """One of the choices (same type and value)."""
    if not p.contains(vn.v):
        raise vn.err(f"{literal(vn.v)} is not one of the choices", f"one of {', '.join(map(literal, p.values()))}")
    return vn.v


def _fixed_value(p: Parameter, vn: Node) -> Any:
    """A value of the fixed value's type (numbers are interchangeable)."""
    x, want = vn.v, p.value  # type: ignore[attr-defined]
    numbers = all(isinstance(y, (int, float)) and not isinstance(y, bool) for y in (x, want))
    if x is None or (type(x) is not type(want) and not numbers):
        raise vn.err(got(vn), f"{'a number' if numbers else type_name(want)} like the fixed value")
    return x


POINT_VALUES: dict[str, Callable[[Parameter, Node], Any]] = {
    "int": _int_value, "match": _int_value, "float": _float_value, "grid": _grid_value, "choice": _choice_value,
    "fixed": _fixed_value,
}


def parse_point(n: Node, name: str, params: tuple[Parameter, ...]) -> Point:
    """A named point (or the baseline): a value for every sampled parameter, optionally fixed and matched ones."""
    m = read_mapping(n, "a mapping of parameter names to values")
    by = {p.name: p for p in params}
    vals = []
    for k, vn in m.items():
        p = by.get(k)
        if p is None:
            raise vn.key_err(f"unknown parameter {k!r}{did_you_mean(k, by)}",
                             f"names among: {', '.join(by) or 'none (the spec has no parameters)'}")
        if not p.settable:
            raise vn.key_err(f"{k!r} is {p.kind} (computed from other parameters) and cannot be set",
                             "values for sampled, fixed or matched parameters")
        read_scalar(vn, "a number, string or boolean")
        vals.append((k, POINT_VALUES[p.kind](p, vn)))
    for p in params:
        if p.sampled and p.name not in m:
            raise n.err(f"no value for the sampled parameter {p.name!r}",
                        f"a value for each of {', '.join(q.name for q in params if q.sampled)}")
    return Point(name, tuple(vals), loc=n.loc)


def parse_points(n: Node, params: tuple[Parameter, ...]) -> tuple[Point, ...]:
    """The `points:` mapping of named points."""
    m = read_mapping(n, "a mapping of point names to parameter values")
    out = []
    for name, pn in m.items():
        if not STUDY_RE.match(name) or name == "baseline":
            raise pn.key_err(f"point name {short(name)!r} is not allowed",
                             "letters, digits, '_', '-', '.' other than 'baseline'")
        out.append(parse_point(pn, name, params))
    return tuple(out)
