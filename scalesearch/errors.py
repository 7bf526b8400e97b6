"""The one root of every error scalesearch raises for a user to catch, and the general kinds under it.

Like optuna's `exceptions.py`: a caller catches `ScalesearchError` and gets every failure that is the input's
(a spec, an option, a database URL, a study name, a file), never a bug. Each class keeps the builtin base it had
before the root existed as its second parent, so `except ValueError` / `except OSError` / `except LookupError`
handlers keep working. The specific errors live beside the code that raises them and subclass these:
`spec.SpecError` (and `InvalidArchitecture`), `checks.FieldError`, `expr.ExprError` (InputError),
`data.DatasetNotFoundError` (FileNotFoundError), `store.StoreWriteError` (OSError), `train.DivergenceError`
(RuntimeError).

Every message is one line naming the file, line, field or option and what is expected: the CLI prints it as
`scalesearch: error: MESSAGE` and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "ConflictError",
    "FileError",
    "InputError",
    "MissingFileError",
    "NotFoundError",
    "ScalesearchError",
]


class ScalesearchError(Exception):
    """Root of every error scalesearch raises about its input or environment (not about its own bugs)."""


class InputError(ScalesearchError, ValueError):
    """A value, option, file content or database URL that is not what is expected."""


class NotFoundError(ScalesearchError, LookupError):
    """A study, trial, preset or column that does not exist where it was looked for."""


class ConflictError(ScalesearchError, ValueError):
    """The request clashes with what is stored: a study that exists with another spec, or that another process
    is running right now."""


class ClusterError(ScalesearchError, ConnectionError):
    """A Ray cluster that cannot be reached or joined."""


class FileError(ScalesearchError, OSError):
    """A file or folder named by the user that cannot be read or written as asked (a folder where a file is
    expected, a FIFO or device, a file too large)."""


class MissingFileError(FileError, FileNotFoundError):
    """A file or folder named by the user, or a database, that does not exist."""
