"""`scalesearch ARGS` run through the console script's `main` in the test process: the same exit status, stdout
and stderr as the command line, without paying a Python, torch and pandas start per call. For commands that start
no Ray and install no signal handler (a search is run as a subprocess, `support.search.cli`)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path


def main_in_process(*args: str, cwd: str | os.PathLike[str] | None = None,
                    env: Mapping[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run `scalesearch ARGS` in this process (in `cwd`, with `env` set, a None value unset; both restored)."""
    from scalesearch.cli import main

    out, err, here = io.StringIO(), io.StringIO(), Path.cwd()
    saved = {k: os.environ.get(k) for k in (env or {})}
    try:
        for k, v in (env or {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse: --help, a bad option
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    finally:
        os.chdir(here)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(["scalesearch", *args], code, out.getvalue(), err.getvalue())
