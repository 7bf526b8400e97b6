"""Small text helpers shared by every module that writes a message or a table: one home, one behaviour.

Nothing here imports anything of scalesearch, so any module may use it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_num", "human", "json_ready", "one_line", "short", "type_name", "show"]


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


def human(n: Any, unit: str = "") -> str:
    """A count with an SI prefix and 3 significant digits: 1234567 -> '1.23M'; NaN or None -> '-'; anything
    that is not a number as str()."""
    if n is None:
        return "-"
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        try:
            n = float(n)
        except (TypeError, ValueError):
            return str(n)
    if isinstance(n, float) and math.isnan(n):
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{prefix}{unit}"
    return f"{n:.3g}{unit}" if isinstance(n, float) else f"{n}{unit}"
