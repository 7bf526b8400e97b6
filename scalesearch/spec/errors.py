"""Errors of a spec file and where a value came from: `SpecError`, `InvalidArchitecture`, `Loc`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def one_line(s: str) -> str:
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
        self.problem = one_line(problem)
        self.expected = one_line(expected)
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


NOLOC = Loc()


def loc_field(default: Loc | None = None) -> Any:
    return field(default=default, compare=False, repr=False)
