"""Reading the small text files a user names (spec files, NetSpec JSON): bounded, never blocking, one-line errors;
and the one rule of where scalesearch may write its outputs (`output_folder`).

A FIFO, a device (`/dev/zero`), a directory or a file over the size limit is refused before it is read, so a
mistyped path can neither hang a command nor exhaust memory. Nothing here imports anything of scalesearch but its
errors.

Output folders. scalesearch writes only into a folder it created and marked as its own (a `.scalesearch` file in
it, `OUTPUT_MARK`), or into one the user named (`report --out DIR`). Every output folder chosen by default (a
study's folder beside its database, with the kept weights and `checkpoints/`; `results/<study>/` of `report`,
`plot` and `rediscover`) goes through `output_folder`: absent, it is created and marked; present and marked, it is
used; present without the mark, it is refused in one line, before anything is written. The mark is a dotfile, so
that `ls` and globs of outputs do not show it (and an image-folder reader skips it: not an image, not a folder);
it says in one line what it is, for whoever finds it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scalesearch.errors import FileError, InputError

__all__ = ["MAX_FILE_BYTES", "OUTPUT_MARK", "OutputFolderError", "check_output_folder", "output_folder", "read_text"]

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a spec or NetSpec JSON is a few KB


def read_text(path: str | os.PathLike[str], *, what: str = "file", limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes.

    Raises:
        OSError: the file cannot be opened or is not a regular file (the message names the path).
        ValueError: the file is larger than `limit` or is not UTF-8 text (the message names the path).
    """
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait; fstat then refuses it.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise FileError(f"{name}: cannot read {what}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise FileError(f"{name}: cannot read {what}: {kind}")
        if st.st_size > limit:
            raise InputError(f"{name}: {what} of {st.st_size:,} bytes; expected at most {limit:,} bytes")
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise InputError(f"{name}: {what} larger than {limit:,} bytes; expected at most {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: {what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") \
            from None


OUTPUT_MARK = ".scalesearch"  # the file that makes a folder scalesearch's own (see the module docstring)
MARK_TEXT = ("scalesearch created this folder for its outputs and writes here by default; without this file it "
             "refuses to write here.\n")


class OutputFolderError(FileError):
    """A default output folder that exists and is not scalesearch's (no `OUTPUT_MARK` in it); one line."""


def check_output_folder(folder: str | os.PathLike[str], *, named: bool = False, remedy: str = "") -> Path:
    """`folder` as a Path when scalesearch may write there (absent, marked, or `named` by the user); writes nothing.

    An existing folder without the mark is refused even when it is empty: an empty folder may be one the user has
    just made for files of their own (`mkdir flowers`, then copy the images in), and scalesearch cannot tell; the
    cost of refusing it is one `rmdir`, the cost of adopting it is outputs mixed into the user's data.

    Raises:
        OutputFolderError: a default folder that exists without the mark, or a file where the folder should be
            (the message names the folder, what is expected, and `remedy`: what to pass instead, e.g. "pass
            --out DIR").
    """
    path = Path(folder)
    if not os.path.lexists(path):
        return path
    if not path.is_dir():
        raise OutputFolderError(f"{'--out ' if named else ''}{path}: is a file; expected a folder")
    if named or (path / OUTPUT_MARK).is_file():
        return path
    raise OutputFolderError(
        f"{path}: the default output folder exists and is not scalesearch's (no {OUTPUT_MARK} file in it); expected "
        f"a folder scalesearch made, or none: {remedy + ', or' if remedy else 'or'} add an empty {path / OUTPUT_MARK} "
        "if it is scalesearch's")


def output_folder(folder: str | os.PathLike[str], *, named: bool = False, remedy: str = "") -> Path:
    """The output folder `folder`, created and marked when absent; refused when it exists unmarked (see
    `check_output_folder`). A folder the user `named` is used as it is when it exists (and marked when created).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     made = output_folder(Path(d) / "results" / "study")
        ...     (made / OUTPUT_MARK).is_file(), output_folder(made) == made
        (True, True)
    """
    path = check_output_folder(folder, named=named, remedy=remedy)
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
    except FileExistsError:  # made meanwhile by someone else: the same rule decides
        return check_output_folder(path, named=named, remedy=remedy)
    (path / OUTPUT_MARK).write_text(MARK_TEXT, encoding="utf-8")
    return path
