"""The results database: SQLAlchemy 2 models of studies, trials and epochs; the driver's writer; readers.

`Store` (the one writer, used by the search driver) and `Reader` (read-only, used by status, query, plots and
reports) open any SQLAlchemy URL; the default is the SQLite file results/scalesearch.db in WAL mode (see
`scalesearch.store.engine`). Both return frozen records (`StudyRecord`, `TrialRecord`, `EpochRecord`). The
schema lives in `scalesearch.store.models`, beside Optuna's own tables in the same database; a database of an
older scalesearch is upgraded by `scalesearch.store.migrate` (by the writer when it opens it).
"""

from __future__ import annotations

from scalesearch.store.engine import (
    CHECKPOINT_KEY,
    DEFAULT_DB,
    checkpoint_dir,
    describe_url,
    normalize_url,
    sqlite_path,
    study_dir,
)
from scalesearch.store.migrate import OutdatedSchema
from scalesearch.store.models import FINISHED_STATES, SCHEMA_VERSION, STUDY_STATES, TRIAL_STATES
from scalesearch.store.reader import Reader
from scalesearch.store.records import EpochRecord, StudyRecord, TrialRecord, now
from scalesearch.store.writer import DatabaseFileLost, Store, StoreWriteError

__all__ = [
    "CHECKPOINT_KEY",
    "DEFAULT_DB",
    "FINISHED_STATES",
    "SCHEMA_VERSION",
    "STUDY_STATES",
    "TRIAL_STATES",
    "DatabaseFileLost",
    "EpochRecord",
    "OutdatedSchema",
    "Reader",
    "Store",
    "StoreWriteError",
    "StudyRecord",
    "TrialRecord",
    "checkpoint_dir",
    "describe_url",
    "normalize_url",
    "now",
    "sqlite_path",
    "study_dir",
]
