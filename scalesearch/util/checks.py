"""Validators of named values: one set for every module (arch, data, train, cli and the spec file reader).

Each check returns the value in canonical form or raises `FieldError`, a ValueError that carries the field's
dotted path, what was expected and what was got as data, so that a caller (the spec reader, the CLI) places it
without parsing its text. Its message is one line: `field: expected <expected>, got <value>`.

Nothing here imports anything of scalesearch except `text`.

Example:
    >>> check_int("stage.depth", 3, 1, 10_000)
    3
    >>> try:
    ...     check_int("stage.depth", 0, 1, 10_000)
    ... except FieldError as e:
    ...     print(e, "|", e.field, "|", e.expected)
    stage.depth: expected an integer in [1, 10000], got 0 | stage.depth | an integer in [1, 10000]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.util.text import short

MAX_SEED = 2 ** 32 - 1  # numpy's and torch's seeds are 32-bit on every path training and data use

__all__ = ["FieldError", "check_bool", "check_choice", "check_float", "check_int", "range_text"]

_NOTHING = object()


class FieldError(ScalesearchError, ValueError):
    """A value of a named field is not what it must be.

    Attributes:
        field: dotted path of the field, e.g. `stage.depth`, `stages[2].width`, `epochs`.
        expected: what the field accepts, e.g. "an integer >= 1".
        got: the offending value (absent for problems that are not about one value).
        problem: what is wrong, when more than "expected X, got Y" is to say.
    """

    def __init__(self, field: str, expected: str = "", got: Any = _NOTHING, *, problem: str = "") -> None:
        self.field, self.expected, self.got, self.problem = field, expected, got, problem
        super().__init__(str(self))

    @property
    def has_value(self) -> bool:
        """Whether the error is about one offending value (`got`)."""
        return self.got is not _NOTHING

    def __str__(self) -> str:
        if self.problem:
            return f"{self.field}: {self.problem}" + (f"; expected {self.expected}" if self.expected else "")
        got = f", got {short(repr(self.got), 60)}" if self.has_value else ""
        return f"{self.field}: expected {self.expected}{got}"

    def within(self, prefix: str, own: str = "") -> FieldError:
        """The same error with its field path placed under `prefix`, replacing the part's own leading name
        `own` if the path starts with it: FieldError('stage.width', ...).within('stages[2]', 'stage') is about
        'stages[2].width'."""
        if own and self.field == own:
            return FieldError(prefix or own, self.expected, self.got, problem=self.problem)
        tail = self.field[len(own) + 1:] if own and self.field.startswith(own + ".") else self.field
        return FieldError(f"{prefix}.{tail}" if prefix else tail, self.expected, self.got, problem=self.problem)


def range_text(kind: str, low: Any = None, high: Any = None, *, low_open: bool = False,
               high_open: bool = False) -> str:
    """'an integer in [1, 8]', 'a number >= 0', 'a number in (0, 1)': the `expected` part of a range error."""
    if low is not None and high is not None and high != math.inf:
        return f"{kind} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low}"
    if high is not None and high != math.inf:
        return f"{kind} {'<' if high_open else '<='} {high}"
    return kind


def check_int(field: str, v: Any, low: int | None = None, high: int | None = None) -> int:
    """`v` as an int if it is an integer (integral floats too; bools never) in [low, high]."""
    expected = range_text("an integer", low, high)
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or (
            not isinstance(v, numbers.Integral) and not (math.isfinite(v) and float(v).is_integer())):
        raise FieldError(field, expected, v)
    if (low is not None and v < low) or (high is not None and v > high):
        raise FieldError(field, expected, v)
    return int(v)


def check_float(field: str, v: Any, low: float | None = None, high: float | None = None, *,
                low_open: bool = False, high_open: bool = False) -> float:
    """`v` as a float if it is a finite real number in the interval (bounds closed unless said open)."""
    expected = range_text("a number", low, high, low_open=low_open, high_open=high_open)
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v):
        raise FieldError(field, expected, v)
    x = float(v)
    if math.isinf(x) and not (high == math.inf and x > 0 and not high_open):
        raise FieldError(field, expected, v)
    if low is not None and (x < low or (low_open and x == low)):
        raise FieldError(field, expected, v)
    if high is not None and (x > high or (high_open and x == high)):
        raise FieldError(field, expected, v)
    return x


def check_choice(field: str, v: Any, options: Sequence[str]) -> str:
    """`v` if it is one of `options`."""
    if not isinstance(v, str) or v not in options:
        raise FieldError(field, f"one of {', '.join(options)}", v)
    return v


def check_bool(field: str, v: Any) -> bool:
    """`v` if it is True or False (not 0/1, not a string)."""
    if not isinstance(v, bool):
        raise FieldError(field, "true or false", v)
    return v
