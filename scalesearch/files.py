"""Reading the small text files a user names (spec files, NetSpec JSON): bounded, never blocking, one-line errors.

A FIFO, a device (`/dev/zero`), a directory or a file over the size limit is refused before it is read, so a
mistyped path can neither hang a command nor exhaust memory. Nothing here imports anything of scalesearch.
"""

from __future__ import annotations

import os
import stat

from scalesearch.errors import FileError, InputError

__all__ = ["MAX_FILE_BYTES", "read_text"]

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
