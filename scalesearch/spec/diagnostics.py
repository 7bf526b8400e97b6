"""Errors of a spec file and where a value came from: `SpecError`, `InvalidArchitecture`, `Loc`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.util.checks import FieldError
from scalesearch.util.text import one_line, short


class SpecError(ScalesearchError, ValueError):
    """A problem in a spec file; str() is one line: `file:LINE:COL: field: what is wrong; expected ...`.

    Its parts are data, so that a caller (the CLI, an editor, the search driver) places it without parsing it.

    Attributes:
        file, line, col: where (1-based; 0 when the spec was built in Python and has no file).
        field: the dotted field path, e.g. `parameters.gamma.derived`.
        problem: what is wrong.
        expected: what is expected ("" when there is nothing useful to say).
        message: `problem; expected ...`, the text after the location and field.
    """

    def __init__(self, problem: str, *, file: str = "<spec>", line: int = 0, col: int = 0, field: str = "",
                 expected: str = "") -> None:
        self.file, self.line, self.col = file, line, col
        self.field = field or "(spec)"
        self.problem = one_line(problem)
        self.expected = one_line(expected)
        super().__init__(str(self))

    @property
    def message(self) -> str:
        """What is wrong and what is expected, without the location."""
        return self.problem + (f"; expected {self.expected}" if self.expected else "")

    @property
    def loc(self) -> Loc:
        """Where, as a Loc."""
        return Loc(self.file, self.line, self.col, self.field)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file  # no line: built in Python
        return f"{where}: {self.field}: {self.message}"


class InvalidArchitecture(SpecError):
    """The family generator rejected the arguments of a candidate (e.g. a depth that is not 6n+2).

    Attributes:
        reason: the generator's message.
        values: every parameter's value at the candidate, as far as they were resolved.
    """

    def __init__(self, problem: str, *, reason: str = "", values: dict[str, Any] | None = None,
                 **where: Any) -> None:
        self.reason = one_line(reason)
        self.values = dict(values or {})
        super().__init__(problem, **where)


@dataclass(frozen=True)
class Loc:
    """Where a value came from: file, 1-based line and column, and its dotted field path.

    A spec's dataclasses hold theirs in fields declared `field(default=None, compare=False, repr=False)`: not
    compared (specs are equal up to layout) and not shown.
    """

    file: str = "<spec>"
    line: int = 0
    col: int = 0
    field: str = ""

    def error(self, problem: str, expected: str = "") -> SpecError:
        """A SpecError at this place."""
        return SpecError(problem, file=self.file, line=self.line, col=self.col, field=self.field, expected=expected)

    def where(self) -> dict[str, Any]:
        """file, line, col and field as keyword arguments of a SpecError."""
        return {"file": self.file, "line": self.line, "col": self.col, "field": self.field}

    def child(self, name: str | int) -> Loc:
        """Same place, field path extended (for values built without a node of their own)."""
        path = f"{self.field}[{name}]" if isinstance(name, int) else f"{self.field}.{name}" if self.field else name
        return Loc(self.file, self.line, self.col, path)


NOLOC = Loc()


def error_field(e: Exception) -> str:
    """The top-level name a generator's or TrainConfig's error is about: the first name of a FieldError's
    dotted `field` ('depth' of 'depth', 'stages' of 'stages[2].width'); '' for other errors."""
    return re.split(r"[.\[]", e.field, maxsplit=1)[0] if isinstance(e, FieldError) else ""


def error_text(e: Exception) -> tuple[str, str]:
    """(problem, expected) of a generator's or TrainConfig's error: a FieldError's parts as data, else its
    message and ''."""
    if isinstance(e, FieldError):
        got = f"got {short(repr(e.got), 60)}" if e.has_value else "invalid value"
        return f"{e.field}: {e.problem or got}", e.expected
    return one_line(str(e)), ""
