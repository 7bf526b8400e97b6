"""The database schema: SQLAlchemy 2 typed declarative models of studies, trials and per-epoch metrics.

The tables carry a `scalesearch_` prefix so that they sit beside Optuna's own tables (`studies`, `trials`, ...)
in one database: the driver keeps its Optuna study in the same URL, so Optuna's tools and optuna-dashboard open
the file as it is. `SCHEMA_VERSION` is stored in `scalesearch_schema`; a database written by a newer version is
refused with a one-line error rather than misread, and one written by an older version is brought up to date by
`scalesearch.store.migrate` (the writer does it on opening; `scalesearch upgrade` does it for a reader).

Versions: 1, the first release; 2 adds `scalesearch_studies.classes` (the dataset's class names, in label order).

A trial row is one training job: one repeat of one configuration (`config_key` groups the repeats; `key`, unique
in its study, is `scalesearch.trial.job.Job.key`). A candidate rejected by a constraint or an invalid architecture is
one row in state `rejected` (repeat 0, never trained). States: queued (claimed, not started yet), running, completed, failed, stopped (stopped early
by ASHA, with its last metrics), rejected, interrupted (the search stopped while it ran; `resume` reruns queued and interrupted trials).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "FINISHED_STATES",
    "SCHEMA_VERSION",
    "STUDY_STATES",
    "TRIAL_STATES",
    "Base",
    "EpochRow",
    "SchemaRow",
    "StudyRow",
    "TrialRow",
]

SCHEMA_VERSION = 3
TRIAL_STATES = ("queued", "running", "completed", "failed", "stopped", "rejected", "interrupted")
FINISHED_STATES = ("completed", "failed", "stopped", "rejected")  # never trained again
STUDY_STATES = ("running", "finished", "interrupted", "failed")


class Base(DeclarativeBase):
    """Declarative base of scalesearch's tables (a metadata of their own, apart from Optuna's)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class SchemaRow(Base):
    """The schema version the tables were created with (one row)."""

    __tablename__ = "scalesearch_schema"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime)


class StudyRow(Base):
    """One study: the spec it runs, its seed and provenance, and how far it got."""

    __tablename__ = "scalesearch_studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    spec_text: Mapped[str] = mapped_column(Text)  # the spec file as given (the study name may be overridden)
    spec_file: Mapped[str | None] = mapped_column(Text)
    spec_canonical: Mapped[str] = mapped_column(Text)  # scalesearch.spec.format_spec of the spec as run
    spec_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    sampler: Mapped[str] = mapped_column(String(16))
    objectives: Mapped[list[Any]] = mapped_column(JSON)  # [[name, "max"|"min"], ...]
    repeats: Mapped[int] = mapped_column(Integer)
    planned: Mapped[int | None] = mapped_column(Integer)  # configurations the search will train, when known
    versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    hardware: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime)
    started: Mapped[dt.datetime] = mapped_column(DateTime)  # start of the latest run or resume
    updated: Mapped[dt.datetime] = mapped_column(DateTime)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime)
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # summed over runs
    runs: Mapped[int] = mapped_column(Integer, default=0)
    driver_host: Mapped[str | None] = mapped_column(String(255))
    driver_pid: Mapped[int | None] = mapped_column(Integer)
    ray_address: Mapped[str | None] = mapped_column(String(255))
    classes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # class names in label order (v2)

    trials: Mapped[list[TrialRow]] = relationship(back_populates="study", cascade="all, delete-orphan")


class TrialRow(Base):
    """One training job (a repeat of a configuration), or one rejected candidate."""

    __tablename__ = "scalesearch_trials"
    __table_args__ = (UniqueConstraint("study_id", "key"), UniqueConstraint("study_id", "number"),
                      Index("ix_scalesearch_trials_study_state", "study_id", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("scalesearch_studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 0, 1, ... in the order trials were first started
    key: Mapped[str] = mapped_column(String(64))
    config_key: Mapped[str] = mapped_column(String(64), index=True)
    optuna_trial: Mapped[int | None] = mapped_column(Integer)  # the Optuna trial number that last asked it
    point: Mapped[str | None] = mapped_column(String(64))  # "baseline" or a named point
    state: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)  # the sampled values
    values: Mapped[dict[str, Any]] = mapped_column(JSON)  # every parameter's value
    netspec: Mapped[str | None] = mapped_column(Text)  # canonical NetSpec JSON
    netspec_hash: Mapped[str | None] = mapped_column(String(16))
    macs: Mapped[int | None] = mapped_column(BigInteger)
    params: Mapped[int | None] = mapped_column(BigInteger)
    acts: Mapped[int | None] = mapped_column(BigInteger)
    train: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the evaluated TrainConfig
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # load_dataset arguments
    seed: Mapped[int | None] = mapped_column(Integer)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    val_acc: Mapped[float | None] = mapped_column(Float)  # after the last epoch run
    best_val_acc: Mapped[float | None] = mapped_column(Float)
    test_acc: Mapped[float | None] = mapped_column(Float)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the result summary (times, steps, device...)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # training-free scores at claim (scalesearch.train.scores)
    error: Mapped[str | None] = mapped_column(Text)  # one line
    traceback: Mapped[str | None] = mapped_column(Text)
    rejected_by: Mapped[list[Any] | None] = mapped_column(JSON)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    node: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    study: Mapped[StudyRow] = relationship(back_populates="trials")
    epochs: Mapped[list[EpochRow]] = relationship(back_populates="trial", cascade="all, delete-orphan",
                                                    order_by="EpochRow.epoch")


class EpochRow(Base):
    """The metrics of one epoch of one trial (`scalesearch.train.loop.EpochMetrics`)."""

    __tablename__ = "scalesearch_epochs"
    __table_args__ = (UniqueConstraint("trial_id", "epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("scalesearch_trials.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int | None] = mapped_column(Integer)
    lr: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    train_acc: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_acc: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    images_per_s: Mapped[float | None] = mapped_column(Float)
    eval_seconds: Mapped[float | None] = mapped_column(Float)

    trial: Mapped[TrialRow] = relationship(back_populates="epochs")


EPOCH_FIELDS = ("steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_s",
                "eval_seconds")
