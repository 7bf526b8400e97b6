"""Frozen records: what the store returns. Changing one never changes the database (as Optuna's storages
promise for their FrozenTrial copies); mappings inside are read-only views."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scalesearch.store.models import EPOCH_FIELDS, EpochRow, StudyRow, TrialRow

__all__ = ["EpochRecord", "StudyRecord", "TrialRecord", "epoch_record", "study_record", "trial_record"]


def now() -> dt.datetime:
    """The current UTC time, without tzinfo (as stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return types.MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (datetimes as ISO strings)."""
        return {f.name: _thawed(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class StudyRecord(_Record):
    """A study as stored (see `scalesearch.store.models.StudyRow` for the fields)."""

    name: str
    state: str
    message: str | None
    seed: int
    sampler: str
    objectives: tuple[tuple[str, str], ...]
    repeats: int
    planned: int | None
    spec_text: str
    spec_file: str | None
    spec_canonical: str
    spec_hash: str
    versions: Mapping[str, Any]
    hardware: Mapping[str, Any]
    created: dt.datetime
    started: dt.datetime
    updated: dt.datetime
    finished: dt.datetime | None
    wall_seconds: float
    runs: int
    driver_host: str | None
    driver_pid: int | None
    ray_address: str | None
    classes: tuple[str, ...] | None = None  # the dataset's class names in label order (None: stored before v2)
    id: int = dataclasses.field(default=0, repr=False, compare=False)


@dataclass(frozen=True)
class TrialRecord(_Record):
    """A trial as stored (see `scalesearch.store.models.TrialRow`); `study` is the study's name."""

    study: str
    number: int
    key: str
    config_key: str
    optuna_trial: int | None
    point: str | None
    state: str
    parameters: Mapping[str, Any]
    values: Mapping[str, Any]
    netspec: str | None
    netspec_hash: str | None
    macs: int | None
    params: int | None
    acts: int | None
    train: Mapping[str, Any] | None
    data: Mapping[str, Any] | None
    seed: int | None
    repeat: int
    val_acc: float | None
    best_val_acc: float | None
    test_acc: float | None
    epochs_done: int
    metrics: Mapping[str, Any] | None
    scores: Mapping[str, Any] | None
    error: str | None
    traceback: str | None
    rejected_by: tuple[str, ...] | None
    started: dt.datetime | None
    finished: dt.datetime | None
    seconds: float | None
    node: str | None
    attempts: int

    def netspec_dict(self) -> dict[str, Any] | None:
        """The NetSpec as a plain dict (`scalesearch.nets.NetSpec.from_dict` rebuilds it)."""
        return None if self.netspec is None else json.loads(self.netspec)


@dataclass(frozen=True)
class EpochRecord(_Record):
    """One epoch's metrics of trial `number` of `study`."""

    study: str
    number: int
    epoch: int
    steps: int | None
    lr: float | None
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    seconds: float | None
    images_per_s: float | None
    eval_seconds: float | None


_STUDY_FIELDS = [f.name for f in dataclasses.fields(StudyRecord) if f.name not in ("objectives", "id")]
_TRIAL_FIELDS = [f.name for f in dataclasses.fields(TrialRecord) if f.name not in ("study",)]


def study_record(row: StudyRow) -> StudyRecord:
    """The frozen record of a row."""
    kw = {name: _frozen(getattr(row, name)) for name in _STUDY_FIELDS}
    return StudyRecord(objectives=tuple((str(n), str(d)) for n, d in row.objectives), id=row.id, **kw)


def trial_record(row: TrialRow, study: str) -> TrialRecord:
    """The frozen record of a row."""
    return TrialRecord(study=study, **{name: _frozen(getattr(row, name)) for name in _TRIAL_FIELDS})


def epoch_record(row: EpochRow, study: str, number: int) -> EpochRecord:
    """The frozen record of a row."""
    return EpochRecord(study=study, number=number, epoch=row.epoch, **{k: getattr(row, k) for k in EPOCH_FIELDS})
