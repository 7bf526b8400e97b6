"""The final weights a search keeps (`search: {keep: pareto | best | all | none}`, default pareto).

A completed trial's worker sends its state_dict with its final result (`trial.job.run(weights=True)`); the driver
writes it, never a worker (a cluster has many disks), to `checkpoint_dir(db, study)/trial_<number>.pt`, mode 0600,
and records the file with the trial (`metrics["checkpoint"]`, relative to that folder). That folder lies in the
study's output folder (`store.study_dir`), created and marked by `util.files.output_folder` (which `scalesearch.run`
has checked before anything was written). After each trial it keeps:

    pareto  the trials on the Pareto front of the study's objectives (plus macs: min when it has one metric), as
            `scalesearch query --pareto` computes it over COMPLETE trials
    best    the best trial of the first objective
    all     every completed trial
    none    nothing (the workers do not send weights)

and deletes the files of the trials no longer kept (their record is cleared). `scalesearch export` reads them.

Training checkpoints (`train: {checkpoint_every: N}`) go the same way: a running trial's worker sends its whole
training state with every N-th epoch's result, and the driver keeps the last one as
`checkpoint_dir(db, study)/resume_<key>.pt` (0600, written atomically). A trial interrupted (the driver killed, a
Ray worker or node lost) starts again from it: the driver puts the state in the trial's config. The file goes when
the trial ends (completed, failed or stopped).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from scalesearch.store import CHECKPOINT_KEY, checkpoint_dir, study_dir
from scalesearch.util.files import check_output_folder, output_folder

__all__ = ["TrainingCheckpoints", "Weights", "check_study_folder", "kept_numbers"]

def _value(rec: Any, name: str) -> float | None:
    if name == "latency":
        return (rec.metrics or {}).get("latency_ms")
    v = getattr(rec, name, None)
    return None if v is None else float(v)


def kept_numbers(records: list[Any], policy: str, objectives: list[tuple[str, str]]) -> set[int]:
    """The numbers of the completed trials `policy` keeps (see the module docstring)."""
    done = [r for r in records if r.state == "completed" and r.val_acc is not None]
    if policy == "none" or not done:
        return set()
    if policy == "all":
        return {r.number for r in done}
    objs = list(objectives)
    first, direction = objs[0]
    sign = {"max": 1.0, "min": -1.0}

    def score(r: Any, name: str, d: str) -> float:
        v = _value(r, name)
        return -float("inf") if v is None else sign[d] * v

    if policy == "best":
        return {max(done, key=lambda r: (score(r, first, direction), -r.number)).number}
    metrics = [o for o in objs if o[0] not in ("macs", "params", "latency")]
    if len(objs) == 1 and metrics:
        objs.append(("macs", "min"))
    points = {r.number: tuple(score(r, n, d) for n, d in objs) for r in done}
    return {n for n, p in points.items()
            if not any(all(a >= b for a, b in zip(q, p, strict=True)) and q != p for m, q in points.items() if m != n)}


def _write_private(path: Any, data: bytes) -> None:
    """Write `data` to `path` atomically (a temporary file renamed over it), mode 0600."""
    tmp = path.parent / f".{path.name}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _remedy(study: str) -> str:
    return f"study {study!r} keeps its weights there: pass another --study or --db"


def check_study_folder(url: str, study: str) -> None:
    """Raise `util.files.OutputFolderError` (one line) when the study's output folder exists and is not scalesearch's;
    writes nothing (a run calls it before the database is opened for writing)."""
    check_output_folder(study_dir(url, study), remedy=_remedy(study))


def _make_checkpoints(folder: Any, study: str) -> None:
    """Create a `checkpoint_dir`, its study's output folder created and marked (or refused) first."""
    output_folder(folder.parent, remedy=_remedy(study))
    folder.mkdir(exist_ok=True)


class TrainingCheckpoints:
    """The driver's keeper of running trials' last training checkpoints (one file per trial key)."""

    def __init__(self, run: Any) -> None:
        self.study = run.name
        self.folder = checkpoint_dir(run.store.url, run.name)

    def path(self, key: str) -> Any:
        return self.folder / f"resume_{key}.pt"

    def save(self, key: str, data_b64: str) -> None:
        _make_checkpoints(self.folder, self.study)
        _write_private(self.path(key), base64.b64decode(data_b64))

    def load(self, key: str) -> str | None:
        """The trial's last checkpoint as base64 text (how it travels in a config), or None."""
        try:
            return base64.b64encode(self.path(key).read_bytes()).decode("ascii")
        except FileNotFoundError:
            return None

    def drop(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass


class Weights:
    """The driver's keeper of a study's weights (one per run)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.policy = run.spec.search.keep
        self.folder = checkpoint_dir(run.store.url, run.name)
        self.objectives = [(o.name, o.direction) for o in run.spec.search.objectives]

    def save(self, number: int, data_b64: str | None) -> None:
        """Write a completed trial's weights (if the policy can keep it), then keep what the policy keeps."""
        if self.policy == "none" or not data_b64:
            return
        _make_checkpoints(self.folder, self.run.name)
        name = f"trial_{number}.pt"
        _write_private(self.folder / name, base64.b64decode(data_b64))
        self.run.store.set_trial_metric(self.run.name, number, CHECKPOINT_KEY, name)
        self.prune()

    def prune(self) -> None:
        """Delete the files of trials the policy no longer keeps, and clear their record."""
        records = self.run.store.trials(self.run.name)
        keep = kept_numbers(records, self.policy, self.objectives)
        for r in records:
            name = (r.metrics or {}).get(CHECKPOINT_KEY)
            if name and r.number not in keep:
                try:
                    (self.folder / name).unlink()
                except FileNotFoundError:
                    pass
                self.run.store.set_trial_metric(self.run.name, r.number, CHECKPOINT_KEY, None)
