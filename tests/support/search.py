"""Shared by the search tests: one Ray for the whole session, and helpers to run tiny studies.

The Ray is started once (bound to 127.0.0.1) in the test process: in-process drivers reuse it, CLI subprocesses
join it with `--address`, so that the search tests pay for one Ray start-up, not one per test.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# A tiny synthetic task: 8x8 one-channel images, 4 classes; a trial of a width-4 ResNet-8 takes a fraction of a
# second once a worker is warm.
DATASET = ("{name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 300, num_test: 50, "
           "val_size: 100}")


def spec_text(study: str, body: str, *, train: str = "epochs: 2, batch_size: 50, warmup_epochs: 0",
              dataset: str = DATASET) -> str:
    """A spec with the tiny dataset and recipe, and `body` (architecture, parameters, search...)."""
    return f"study: {study}\nseed: 0\ndataset: {dataset}\ntrain: {{{train}}}\n{body}"


def run_study_inprocess(text: str, db: str, session: Any, *, filename: str = "t.yaml") -> Any:
    """Parse a spec and run its study in this process on the session's Ray; returns the Outcome."""
    from scalesearch.search.run import run_study
    from scalesearch.search.study import prepare_study
    from scalesearch.spec import parse_spec
    from scalesearch.store import Store

    spec = parse_spec(text, filename)
    store = Store(db)
    try:
        prepare_study(store, spec, spec_text=text, spec_file=filename)
        return run_study(spec, store, store.study(spec.study), session=session)
    finally:
        store.close()


# Commands that start no Ray, no training and no signal handler run through the console script's `main` in the test
# process (support.cli.main_in_process: the same exit status and output, without a Python, torch and pandas start
# per call); `run`, `resume`, `train` and a call with an environment of its own start `python -m scalesearch`.
IN_PROCESS = frozenset({"query", "dump", "load", "status", "studies", "upgrade", "export", "simulate", "validate",
                        "datasets", "plot", "report", "compare", "scores", "fidelity", "count", "presets"})


def cli(*args: str, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess:
    """`scalesearch ARGS` to completion (check=False: callers assert on the returncode): in this process for the
    commands in `IN_PROCESS`, else `python -m scalesearch ARGS`."""
    if args and args[0] in IN_PROCESS and set(kw) <= {"cwd"}:
        from support.cli import main_in_process

        return main_in_process(*args, cwd=kw.get("cwd", REPO))
    return subprocess.run([sys.executable, "-m", "scalesearch", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=kw.pop("cwd", REPO), **kw)


def cli_popen(*args: str, **kw: Any) -> subprocess.Popen:
    """Start `python -m scalesearch ARGS` (stdout and stderr to files or pipes given in kw)."""
    return subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=kw.pop("cwd", REPO), **kw)


def dump(db_path: Path) -> str:
    """Every row of every table, as SQL text (to compare a database before and after)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def optuna_trials(db: str, study: str) -> list[Any]:
    import optuna

    return optuna.load_study(study_name=study, storage=db).get_trials(deepcopy=False)


def study_running(db: str, study: str) -> bool:
    """Whether the study is stored as running (its driver has set it up; the database is in WAL mode)."""
    from scalesearch.store import Reader

    try:
        with Reader(db) as reader:
            return reader.study(study).state == "running"
    except (LookupError, FileNotFoundError, ValueError):
        return False


def env_without_ray_address() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    return env
