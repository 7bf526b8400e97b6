"""Small text helpers shared by every module that writes a message or a table: one home, one behaviour.

Nothing here imports anything of scalesearch, so any module may use it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_num", "json_ready", "one_line", "short", "type_name", "show"]


def one_line(s: Any) -> str:
    """`s` as text with every run of white space (newlines included) folded to one space."""
    return " ".join(str(s).split())


def short(s: Any, n: int = 40) -> str:
    """`one_line(s)` cut to at most `n` characters, ending in '...' when cut."""
    s = one_line(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def fmt_num(v: Any) -> str:
    """A number as a short exact-enough string: integral values without a decimal point ('2', not '2.0'),
    other floats with 6 significant digits; anything else as str()."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or v.is_integer():
        return str(int(v))
    return f"{v:.6g}"


def type_name(v: Any) -> str:
    """The kind of a value as a message names it, with its article: 'an integer', 'a list', 'null'."""
    if v is None:
        return "null"
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
                       ((list, tuple), "a list"), (dict, "a mapping")):
        if isinstance(v, kind):
            return name
    return type(v).__name__


def show(v: Any) -> str:
    """How a message shows a value it got: containers by their kind alone ('a list'), scalars as a short repr
    ('an integer 3', "a string 'x'"), never the kind twice."""
    if isinstance(v, (dict, list, tuple)):
        return type_name(v)
    return f"{type_name(v)} {short(repr(v))}" if v is not None else "null"


def json_ready(value: Any) -> Any:
    """`value` with float NaN/inf replaced by None in nested dicts, lists and tuples (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
