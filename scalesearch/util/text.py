"""Small text helpers shared by every module that writes a message or a table: one home, one behaviour.

Nothing here imports anything of scalesearch, so any module may use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scalesearch.errors import InputError

__all__ = ["fmt_duration", "fmt_num", "human", "json_ready", "md_table", "one_line", "short", "show", "table",
           "type_name"]


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


def fmt_duration(seconds: float | None, style: str = "compact") -> str:
    """A duration in seconds as text, in one of three forms (None or NaN: '?', or '-' in "decimal"):

    "compact" (progress lines, status, the studies table): 12 -> '12s', 75 -> '1m15s', 3725 -> '1h02m';
    "hms" (the rediscovery notes): 75 -> '0h01m15s', 3725 -> '1h02m05s';
    "decimal" (the study report): 12 -> '12.0 s', 75 -> '1.2 min', 3725 -> '1.03 h'.

    Example:
        >>> fmt_duration(75), fmt_duration(3725), fmt_duration(75, "hms"), fmt_duration(75, "decimal")
        ('1m15s', '1h02m', '0h01m15s', '1.2 min')
    """
    if style not in ("compact", "hms", "decimal"):
        raise InputError(f"style {style!r}: expected 'compact', 'hms' or 'decimal'")
    if seconds is None or math.isnan(seconds):
        return "-" if style == "decimal" else "?"
    if style == "decimal":
        f = float(seconds)
        return f"{f:.1f} s" if f < 60 else f"{f / 60:.1f} min" if f < 3600 else f"{f / 3600:.2f} h"
    s = round(float(seconds))
    h, m = s // 3600, s % 3600 // 60
    if style == "hms":
        return f"{h}h{m:02d}m{s % 60:02d}s"
    return f"{s}s" if s < 60 else f"{m}m{s % 60:02d}s" if s < 3600 else f"{h}h{m:02d}m"


def table(rows: Sequence[Sequence[str]], *, align: str = "", total: bool = False, full_rule: bool = False) -> str:
    """Plain-text columns two spaces apart, each as wide as its widest cell, trailing blanks dropped, a rule of
    dashes under the first row (the header).

    Args:
        rows: the header, then the rows, as text.
        align: one character per column, '<' (left) or '>' (right); columns it does not reach are left-aligned.
        total: the last row is a total: a rule above it too.
        full_rule: each rule is one run of dashes as long as the header line, not one run per column.

    Example:
        >>> print(table([("arch", "macs"), ("n=1", "1,000"), ("n=2", "25,000")], align="<>"))
        arch    macs
        ----  ------
        n=1    1,000
        n=2   25,000
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    align = align.ljust(len(widths), "<")[:len(widths)]  # one character per column
    out = ["  ".join(c.rjust(w) if a == ">" else c.ljust(w) for c, w, a in zip(r, widths, align, strict=True)).rstrip()
           for r in rows]
    rule = "-" * len(out[0]) if full_rule else "  ".join("-" * w for w in widths)
    out.insert(1, rule)
    if total:
        out.insert(len(out) - 1, rule)
    return "\n".join(out)


def md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table of a header and rows; '|' in a cell is escaped and a newline becomes a space.

    Example:
        >>> print(md_table(["claim", "verdict"], [("a|b", "**reproduced**")]))
        | claim | verdict |
        |---|---|
        | a\\|b | **reproduced** |
    """
    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |"

    return "\n".join([line(head), "|" + "---|" * len(head), *map(line, rows)])
