"""Typed readers of YAML nodes: each returns the value or raises a located SpecError."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

from scalesearch.checks import range_text
from scalesearch.expr import Expr, ExprError, parse_expr
from scalesearch.spec.constants import BASE_NAMES, COST_NAMES
from scalesearch.spec.yamlnodes import Node
from scalesearch.text import short, show


def got(v: Any) -> str:
    """What a message says it found: 'got an integer 3', "got a string 'x'", 'got a list', 'got null'."""
    return f"got {show(v.v if isinstance(v, Node) else v)}"


def literal(v: Any) -> str:
    """A scalar as a spec file writes it: true, false, null, 3, 0.5, 'text'."""
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    return short(repr(v))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices` to a misspelt `word`, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_mapping(n: Node, expected: str) -> dict[str, Node]:
    """The mapping a node holds."""
    if not isinstance(n.v, dict):
        raise n.err(got(n), expected)
    return n.v


def check_keys(n: Node, allowed: Iterable[str], required: Iterable[str] = (), what: str = "") -> dict[str, Node]:
    """The mapping a node holds, with only `allowed` keys and every `required` one."""
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
    """An integer (not a float, not a boolean) in [low, high]; None for null if `null`."""
    v = n.v
    if v is None and null:
        return None
    if type(v) is not int:
        raise n.err(got(v), _range("an integer", low, high, null))
    if (low is not None and v < low) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range("an integer", low, high, null))
    return v


def read_num(n: Node, low: float | None = None, high: float | None = None, *, null: bool = False,
             low_open: bool = False) -> float | None:
    """A number (not a boolean) in [low, high] (or (low, high] with `low_open`), as a float; None for null if
    `null`."""
    v = n.v
    if v is None and null:
        return None
    if type(v) not in (int, float):
        raise n.err(got(v), _range("a number", low, high, null, low_open))
    if (low is not None and (v < low or (low_open and v == low))) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range("a number", low, high, null, low_open))
    return float(v)


def _range(kind: str, low: Any, high: Any, null: bool = False, low_open: bool = False) -> str:
    """`checks.range_text`, with ' or null' where null is allowed."""
    return range_text(kind, low, high, low_open=low_open) + (" or null" if null else "")


def read_str(n: Node, choices: Sequence[str] | None = None) -> str:
    """A string, one of `choices` if given."""
    v = n.v
    if not isinstance(v, str):
        raise n.err(got(v), f"one of {', '.join(choices)}" if choices else "a string")
    if choices is not None and v not in choices:
        hint = did_you_mean(v, choices)
        raise n.err(f"unknown value {short(v)!r}{hint}", f"one of {', '.join(choices)}")
    return v


def read_bool(n: Node) -> bool:
    """true or false."""
    if not isinstance(n.v, bool):
        raise n.err(got(n), "true or false")
    return n.v


def read_list(n: Node, expected: str) -> list[Node]:
    """The list a node holds."""
    if not isinstance(n.v, list):
        raise n.err(got(n), expected)
    return n.v


def read_scalar(n: Node, expected: str) -> Any:
    """A number, string, boolean or null (not a mapping or list)."""
    if isinstance(n.v, (dict, list)):
        raise n.err(got(n), expected)
    return n.v


def read_expr(n: Node, what: str = "an expression") -> Expr:
    """An Expr from a node holding a string or a number (numbers are constant expressions)."""
    v = n.v
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise n.err(got(v), f"{what} (a string such as \"2 * base_macs\") or a number")
    try:
        return parse_expr(v if isinstance(v, str) else repr(v))
    except ExprError as e:
        raise n.err(f"{short(str(v), 60)!r}: {e.problem}", e.expected or "an expression of numbers, names, "
                    "+ - * / ** %, comparisons, and/or/not and min/max/abs/sqrt/log/exp/round/ceil/floor") from None


def read_condition(n: Node, example: str) -> Expr:
    """A boolean expression, written as a string (a bare number, list or mapping is not a condition)."""
    if not isinstance(n.v, str):
        raise n.err(got(n), f"a condition: a string such as \"{example}\"")
    e = read_expr(n, "a condition")
    if e.kind == "num":
        raise n.err(f"{short(e.source)!r} is a number, not a condition", f"a comparison such as \"{example}\"")
    return e


def check_names(n: Node, e: Expr, allowed: set[str], what: str, extra: Sequence[str] = ()) -> None:
    """Every name `e` uses is in `allowed` or `extra`; else a located error saying why the name is not known."""
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
