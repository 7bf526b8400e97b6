"""Typed readers of YAML nodes: each returns the value or raises a located SpecError."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

from scalesearch.expr import Expr, ExprError, parse_expr
from scalesearch.spec.constants import BASE_NAMES, COST_NAMES
from scalesearch.spec.yamlnodes import Node, short


def tname(v: Any) -> str:
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


def show(v: Any) -> str:
    if isinstance(v, Node):
        v = v.v
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return short(repr(v))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices` to a misspelt `word`, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_mapping(n: Node, expected: str) -> dict[str, Node]:
    if not isinstance(n.v, dict):
        raise n.err(f"got {tname(n.v)} {show(n)}" if not isinstance(n.v, (dict, list)) else f"got {tname(n.v)}",
                    expected)
    return n.v


def check_keys(n: Node, allowed: Iterable[str], required: Iterable[str] = (), what: str = "") -> dict[str, Node]:
    m = read_mapping(n, f"a mapping{' of ' + what if what else ''}")
    allowed = list(allowed)
    for k, sub in m.items():
        if k not in allowed:
            hint = did_you_mean(k, allowed)
            raise sub.key_err(f"unknown key {k!r}{hint}", f"one of {', '.join(allowed)}")
    for k in required:
        if k not in m:
            raise n.err(f"missing required key {k!r}", f"{k} among the keys of {n.path or 'the file'}")
    return m


def read_int(n: Node, low: int | None = None, high: int | None = None, *, null: bool = False) -> int | None:
    v = n.v
    if v is None and null:
        return None
    if type(v) is not int:
        raise n.err(f"got {tname(v)} {show(v)}", range_text("an integer", low, high, null))
    if (low is not None and v < low) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", range_text("an integer", low, high, null))
    return v


def read_num(n: Node, low: float | None = None, high: float | None = None, *, null: bool = False,
         low_open: bool = False) -> float | None:
    v = n.v
    if v is None and null:
        return None
    if type(v) not in (int, float):
        raise n.err(f"got {tname(v)} {show(v)}", range_text("a number", low, high, null, low_open))
    if (low is not None and (v < low or (low_open and v == low))) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", range_text("a number", low, high, null, low_open))
    return float(v)


def range_text(kind: str, low: Any, high: Any, null: bool = False, low_open: bool = False) -> str:
    s = kind
    if low is not None and high is not None:
        s += f" in {'(' if low_open else '['}{low}, {high}]"
    elif low is not None:
        s += f" {'>' if low_open else '>='} {low}"
    elif high is not None:
        s += f" <= {high}"
    return s + (" or null" if null else "")


def read_str(n: Node, choices: Sequence[str] | None = None) -> str:
    v = n.v
    if not isinstance(v, str):
        raise n.err(f"got {tname(v)} {show(v)}", f"one of {', '.join(choices)}" if choices else "a string")
    if choices is not None and v not in choices:
        hint = did_you_mean(v, choices)
        raise n.err(f"unknown value {short(v)!r}{hint}", f"one of {', '.join(choices)}")
    return v


def read_bool(n: Node) -> bool:
    if not isinstance(n.v, bool):
        raise n.err(f"got {tname(n.v)} {show(n)}", "true or false")
    return n.v


def read_list(n: Node, expected: str) -> list[Node]:
    if not isinstance(n.v, list):
        raise n.err(f"got {tname(n.v)} {show(n)}" if not isinstance(n.v, dict) else "got a mapping", expected)
    return n.v


def read_scalar(n: Node, expected: str) -> Any:
    if isinstance(n.v, (dict, list)):
        raise n.err(f"got {tname(n.v)}", expected)
    return n.v


def read_expr(n: Node, what: str = "an expression") -> Expr:
    """An Expr from a node holding a string or a number (numbers are constant expressions)."""
    v = n.v
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise n.err(f"got {tname(v)} {show(v)}", f"{what} (a string such as \"2 * base_macs\") or a number")
    try:
        return parse_expr(v if isinstance(v, str) else repr(v))
    except ExprError as e:
        raise n.err(f"{short(str(v), 60)!r}: {e.problem}", e.expected or "an expression of numbers, names, "
                    "+ - * / ** %, comparisons, and/or/not and min/max/abs/sqrt/log/exp/round/ceil/floor") from None


def check_names(n: Node, e: Expr, allowed: set[str], what: str, extra: Sequence[str] = ()) -> None:
    for name in sorted(e.names):
        if name not in allowed and name not in extra:
            if name in COST_NAMES:
                hint = f"{name!r} (the candidate's cost) is known only in constraints"
            elif name in BASE_NAMES:
                hint = f"{name!r} cannot be used in {what}"
            else:
                hint = f"undefined name {name!r}{did_you_mean(name, sorted(allowed | set(extra)))}"
            names = ", ".join(sorted(allowed | set(extra))) or "none"
            raise n.err(f"{short(e.source)!r}: {hint}", f"names among: {short(names, 120)}")
