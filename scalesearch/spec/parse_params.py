"""Reading the `parameters:` section and the values of the baseline and named points."""

from __future__ import annotations

import difflib

from scalesearch.expr import NAME_RE
from scalesearch.spec.constants import MAX_GRID, MAX_STEPS, METRICS, RESERVED, STUDY_RE
from scalesearch.spec.params import (ChoiceParam, DerivedParam, FixedParam, FloatParam, GridParam, IntParam,
                                     MatchedParam, Parameter)
from scalesearch.spec.readers import (check_keys, read_bool, read_expr, read_int, read_list, read_mapping, read_num,
                                      read_scalar, read_str, show, tname)
from scalesearch.spec.schema import Point
from scalesearch.spec.yamlnodes import Node, short

PARAM_KINDS = ("int", "float", "grid", "choice", "fixed", "derived", "match")
PARAM_EXTRA = {"int": ("step", "log"), "float": ("step", "log")}
MATCH_KEYS = ("target", "metric", "low", "high", "step", "when", "otherwise")


def parse_parameters(n: Node) -> tuple[Parameter, ...]:
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
    if not isinstance(n.v, dict):
        if isinstance(n.v, (int, float, bool)):
            return FixedParam(name, n.v, loc=n.loc)
        raise n.err(f"got {tname(n.v)} {show(n)}",
                    "{int: [low, high]}, {float: [low, high]}, {grid: [...]}, {choice: [...]}, {fixed: value}, "
                    "{derived: \"expr\"}, {match: {...}} or a number")
    m = n.v
    kinds = [k for k in m if k in PARAM_KINDS]
    if len(kinds) != 1:
        if not kinds:
            bad = next(iter(m), None)
            if bad is not None:
                raise m[bad].key_err(f"unknown key {bad!r}", f"one of {', '.join(PARAM_KINDS)}")
            raise n.err("empty parameter", f"one of {', '.join(PARAM_KINDS)}")
        raise m[kinds[1]].key_err(f"a parameter has one kind, got both {kinds[0]!r} and {kinds[1]!r}",
                                  f"one of {', '.join(PARAM_KINDS)}")
    kind = kinds[0]
    check_keys(n, (kind, *PARAM_EXTRA.get(kind, ())))
    v = m[kind]
    if kind in ("int", "float"):
        pair = read_list(v, f"[low, high] ({'integers' if kind == 'int' else 'numbers'})")
        if len(pair) != 2:
            raise v.err(f"got {len(pair)} values", "[low, high]")
        log = read_bool(m["log"]) if "log" in m else False
        if kind == "int":
            low, high = read_int(pair[0]), read_int(pair[1])
            step = read_int(m["step"], 1) if "step" in m else 1
            if low > high:
                raise v.err(f"empty range: low {low} > high {high}", "low <= high")
            if log and low < 1:
                raise pair[0].err(f"a log range needs low >= 1, got {low}", "low >= 1 with log: true")
            if log and step != 1:
                raise m["step"].err(f"a log range takes step 1, got {step}", "no step with log: true")
            return IntParam(name, low, high, step, log, loc=n.loc)
        low, high = read_num(pair[0]), read_num(pair[1])
        step = read_num(m["step"], 0.0, low_open=True, null=True) if "step" in m else None
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
        items = read_list(v, "a non-empty list of numbers" if kind == "grid" else "a non-empty list of choices")
        if not items:
            raise v.err(f"empty {kind}: the parameter has no values",
                        "a non-empty list" + (" of numbers" if kind == "grid" else ""))
        vals = []
        for it in items:
            x = it.v
            if kind == "grid":
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise it.err(f"got {tname(x)} {show(it)}", "a number (use choice for strings)")
            elif isinstance(x, (dict, list)) or x is None:
                raise it.err(f"got {tname(x)}", "a string, number or boolean")
            if any(type(x) is type(y) and x == y for y in vals):
                raise it.err(f"duplicate value {show(it)}", "distinct values")
            vals.append(x)
        if len(vals) > MAX_GRID:
            raise v.err(f"{len(vals)} values", f"at most {MAX_GRID}")
        return GridParam(name, tuple(vals), loc=n.loc) if kind == "grid" else ChoiceParam(name, tuple(vals), loc=n.loc)
    if kind == "fixed":
        x = read_scalar(v, "a number, string or boolean")
        if x is None:
            raise v.err("got null", "a number, string or boolean")
        return FixedParam(name, x, loc=n.loc)
    if kind == "derived":
        e = read_expr(v, "an expression of other parameters")
        if e.kind == "bool":
            raise v.err(f"{short(e.source)!r} is a condition, not a value", "an arithmetic expression")
        return DerivedParam(name, e, loc=v.loc)
    # match
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
        when = read_expr(mm["when"], "a condition")
        if when.kind == "num":
            raise mm["when"].err(f"{short(when.source)!r} is a number, not a condition", "a boolean expression")
        if "otherwise" not in mm:
            raise mm["when"].key_err("'when' needs 'otherwise' (the value where the condition is false)",
                                     "otherwise: an integer or expression")
        otherwise = read_expr(mm["otherwise"], "the value where 'when' is false")
    elif "otherwise" in mm:
        raise mm["otherwise"].key_err("'otherwise' without 'when'", "when: a condition, or no otherwise")
    return MatchedParam(name, target, metric, low, high, step, when, otherwise, loc=v.loc)


def parse_point(n: Node, name: str, params: tuple[Parameter, ...]) -> Point:
    m = read_mapping(n, "a mapping of parameter names to values")
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
        x = read_scalar(vn, "a number, string or boolean")
        if isinstance(p, IntParam) or isinstance(p, MatchedParam):
            read_int(vn)
        elif isinstance(p, (FloatParam, GridParam)):
            read_num(vn)
            if isinstance(p, GridParam) and all(type(g) is int for g in p.grid) and type(x) is not int:
                raise vn.err(f"got {tname(x)} {show(x)}", "an integer, like the grid's values")
            x = float(x) if isinstance(p, FloatParam) else x
        elif isinstance(p, ChoiceParam):
            if not any(type(x) is type(c) and x == c for c in p.choices):
                raise vn.err(f"{show(x)} is not one of the choices", f"one of {', '.join(map(repr, p.choices))}")
        elif isinstance(p, FixedParam):
            if x is None or (type(x) is not type(p.value) and not (
                    isinstance(x, (int, float)) and isinstance(p.value, (int, float))
                    and not isinstance(x, bool) and not isinstance(p.value, bool))):
                raise vn.err(f"got {tname(x)} {show(x)}", f"{tname(p.value)} like the fixed value")
        vals.append((k, x))
    for p in params:
        if p.sampled and p.name not in m:
            raise n.err(f"no value for the sampled parameter {p.name!r}",
                        f"a value for each of {', '.join(q.name for q in params if q.sampled)}")
    return Point(name, tuple(vals), loc=n.loc)


def parse_points(n: Node, params: tuple[Parameter, ...]) -> tuple[Point, ...]:
    m = read_mapping(n, "a mapping of point names to parameter values")
    out = []
    for name, pn in m.items():
        if not STUDY_RE.match(name) or name == "baseline":
            raise pn.key_err(f"point name {short(name)!r} is not allowed",
                             "letters, digits, '_', '-', '.' other than 'baseline'")
        out.append(parse_point(pn, name, params))
    return tuple(out)
