"""`Store`, the search driver's writer of the results database (`scalesearch.store.reader.Reader` reads it).

Only the search driver writes (one process per study, one thread): each change of a trial is one transaction, so
a reader sees a trial either before or after it, never half-written. Readers open SQLite read-only and read each
answer from one snapshot; in WAL mode they never block the driver and the driver never blocks them.

A write the database refuses (a full disk, a read-only file system, a lost PostgreSQL connection) rolls back and
raises `StoreWriteError`, an OSError with a one-line message. The writer also checks before each write that its
SQLite file is still the one it opened: a database file deleted (or replaced) under a running search raises
`DatabaseFileLost` instead of writing on into a file no one can open again, and `Store.restore_file` writes the
database as the open connections still see it back to its path. A file made read-only (its owner's write bit
cleared) raises StoreWriteError: connections opened before would write on regardless, and so would root.

Example:
    >>> import tempfile, os
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "s.db")
    >>> store = Store(url)
    >>> _ = store.create_study(name="demo", spec_text="study: demo", spec_canonical="study: demo", spec_hash="h",
    ...                        seed=0, sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
    >>> from scalesearch.store import Reader
    >>> Reader(url).study("demo").state
    'running'
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from scalesearch.errors import ConflictError, NotFoundError, ScalesearchError
from scalesearch.store.engine import describe_url, make_engine, sqlite_path
from scalesearch.store.migrate import OutdatedSchema, upgrade
from scalesearch.store.models import EPOCH_FIELDS, SCHEMA_VERSION, Base, EpochRow, SchemaRow, StudyRow, TrialRow
from scalesearch.store.reader import DatabaseBase, db_error
from scalesearch.store.records import StudyRecord, TrialRecord, now, study_record, trial_record

__all__ = ["DatabaseFileLost", "Store", "StoreWriteError"]


class StoreWriteError(ScalesearchError, OSError):
    """The database refused a write (disk full, read-only, connection lost); the message is one line."""


class DatabaseFileLost(StoreWriteError):
    """The SQLite file the writer opened was deleted or replaced while it ran."""


def _optuna_has_study(s: Session, name: str) -> bool:
    """Whether Optuna's own tables (beside ours in the same database) hold a study called `name`."""
    if not sa.inspect(s.connection()).has_table("studies"):
        return False
    studies = sa.table("studies", sa.column("study_name"))
    return s.scalar(select(studies.c.study_name).where(studies.c.study_name == name)) is not None


class Store(DatabaseBase):
    """The driver's writer: creates the tables, writes studies, trials and epochs, one transaction per change.

    Args:
        url: a SQLAlchemy URL or a SQLite file path (default: results/scalesearch.db, created 0600).

    Raises:
        ValueError: the file is not a database, or was written by another schema version.
    """

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url, readonly=False)
        self._path: Path | None = sqlite_path(self.url)
        self._anchor: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._owner_writable = True
        self.upgraded: list[str] = []  # the schema steps run on opening (a database of an older scalesearch)
        try:
            try:
                with self._sessions.begin() as s:
                    exists = self._check_schema(s)
            except OutdatedSchema:
                exists = True
                self.upgraded = self._upgrade()
            if not exists:
                try:
                    Base.metadata.create_all(self.engine)
                    with self._sessions.begin() as s:
                        if s.scalar(select(func.count()).select_from(SchemaRow)) == 0:
                            s.add(SchemaRow(version=SCHEMA_VERSION, created=now()))
                except sa.exc.DBAPIError:  # another process created them at the same time (PostgreSQL)
                    with self._sessions.begin() as s:
                        if not self._check_schema(s):
                            raise
        except sa.exc.DBAPIError as e:
            self.engine.dispose()
            raise db_error(self.url, e) from None
        self._hold_file()

    def _upgrade(self) -> list[str]:
        """Bring the schema up to date in one transaction (`scalesearch.store.migrate`); another writer doing it
        at the same time is fine: whichever commits second finds nothing left to do."""
        try:
            with self._sessions.begin() as s:
                return upgrade(s.connection())
        except sa.exc.DBAPIError:
            with self._sessions.begin() as s:
                self._check_schema(s)  # up to date now (the other writer's upgrade), or the error
            return []

    def _hold_file(self) -> None:
        """Remember which file the SQLite database is, and keep one connection open on it (`restore_file` reads
        the database through it after the file was deleted)."""
        if self._path is None:
            return
        st = os.stat(self._path)
        self._identity = (st.st_dev, st.st_ino)
        self._owner_writable = bool(st.st_mode & 0o200)
        self._anchor = sqlite3.connect(str(self._path), check_same_thread=False, isolation_level=None)
        self._anchor.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL index too

    def check_file(self) -> None:
        """Raise `DatabaseFileLost` when the SQLite file was deleted or replaced since this store opened it."""
        if self._identity is None or self._path is None:
            return
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise DatabaseFileLost(f"--db {self._path}: the database file was deleted while the search ran") \
                from None
        if (st.st_dev, st.st_ino) != self._identity:
            raise DatabaseFileLost(f"--db {self._path}: the database file was replaced by another file while the "
                                   "search ran")
        if self._owner_writable and not st.st_mode & 0o200:  # chmod a-w: open connections could write on, but
            # its owner said not to (and root would write through any mode)
            raise StoreWriteError(f"--db {self._path}: the database file was made read-only while the search ran")

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """One write transaction; a refused write rolls back and raises StoreWriteError (one line)."""
        self.check_file()
        try:
            with self._sessions.begin() as s:
                yield s
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            orig = getattr(e, "orig", None) or e
            msg = " ".join(str(orig).split())[:200]
            raise StoreWriteError(f"--db {describe_url(self.url)}: cannot write to the database ({msg})") from None

    def restore_file(self, *others: Engine) -> Path | None:
        """After `DatabaseFileLost`: copy the database as the still-open connections see it (SQLite's backup API)
        back to the file's path, or beside it when something else took the path (`NAME.recovered`), then reopen
        this store on the copy. `others`: engines of the same file to close first (Optuna's), so that no
        connection to the deleted file is left to touch the copy's -wal/-shm names. Returns the copy's path
        (None for a database that is not a SQLite file)."""
        if self._path is None or self._anchor is None:
            return None
        path = self._path
        tmp = path.with_name(f".{path.name}.restoring-{os.getpid()}")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        os.close(fd)
        dest = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            self._anchor.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")  # self-contained: no -wal beside it yet
        finally:
            dest.close()
        for engine in (self.engine, *others):
            engine.dispose()
        self._anchor.close()
        self._anchor = None
        target = path if not path.exists() else path.with_name(path.name + ".recovered")
        os.replace(tmp, target)
        if target != path:  # the path holds another file: this store writes on in the recovered copy
            self._path = target
            self.url = "sqlite:///" + str(target)
            self.engine = make_engine(self.url)
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._hold_file()
        return target

    def close(self) -> None:
        """Release the connections."""
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None
        super().close()

    # studies

    def create_study(self, **fields: Any) -> StudyRecord:
        """Insert a study (state running); `fields` are StudyRow columns (`name` and the spec ones required)."""
        t = now()
        fields.setdefault("state", "running")
        fields.setdefault("versions", {})
        fields.setdefault("hardware", {})
        for k in ("created", "started", "updated"):
            fields.setdefault(k, t)
        with self.write_transaction() as s:
            row = StudyRow(**fields)
            s.add(row)
            s.flush()
            self._study_ids[row.name] = row.id
            return study_record(row)

    def claim_study(self, name: str, *, host: str, pid: int, fields: dict[str, Any],
                    vet: Callable[[StudyRecord], bool]) -> tuple[StudyRecord, bool]:
        """Claim study `name` for the driver (`host`, `pid`) in one transaction, so that two drivers starting it at
        the same time cannot both run it: a new study is inserted already claimed (`fields` are its StudyRow
        columns); an existing one is read under a row lock and handed to `vet`, which raises to refuse it (another
        spec, another live driver), returns False to leave it as it is (nothing to run) or True to claim it.
        Claiming an existing study sets only `driver_host` and `driver_pid`: its state and times stay until the
        run starts. Returns (the record, whether it was created).

        SQLite: the transaction holds the write lock from its start (BEGIN IMMEDIATE), so the read and the write
        are one step. PostgreSQL: the row is read FOR UPDATE, and of two drivers inserting the same new study at
        once the second's insert fails on the unique name once the first commits; it then reads the first's row.

        Raises:
            ConflictError: the name is taken by an Optuna study that scalesearch did not create, or `vet` refused.
            StoreWriteError: the database refused the write.
        """
        for attempt in range(2):
            try:
                with self.write_transaction() as s:
                    row = s.scalar(select(StudyRow).where(StudyRow.name == name).with_for_update())
                    created = row is None
                    if row is not None:
                        if not vet(study_record(row)):
                            return study_record(row), False
                        row.driver_host, row.driver_pid = host, pid
                    elif _optuna_has_study(s, name):
                        raise ConflictError(f"{describe_url(self.url)} already has an Optuna study named {name!r} "
                                            "that scalesearch did not create; choose another --study NAME or --db")
                    else:
                        t = now()
                        row = StudyRow(**{"state": "running", "versions": {}, "hardware": {}, "created": t,
                                          "started": t, "updated": t, **fields, "name": name, "driver_host": host,
                                          "driver_pid": pid})
                        s.add(row)
                    s.flush()
                    rec = study_record(row)
            except sa.exc.IntegrityError:
                if attempt:
                    raise
                continue  # PostgreSQL: another driver inserted the same new study after our read; vet its row
            self._study_ids[name] = rec.id
            return rec, created
        raise AssertionError("unreachable")  # pragma: no cover

    def release_study(self, name: str, *, host: str, pid: int, **fields: Any) -> bool:
        """Drop the claim of driver (`host`, `pid`) on study `name` (a run that ended before it started), setting
        `fields` too; a claim held by another driver is left alone. Returns whether the claim was ours."""
        with self.write_transaction() as s:
            row = s.scalar(select(StudyRow).where(StudyRow.name == name).with_for_update())
            if row is None or row.driver_host != host or row.driver_pid != pid:
                return False
            row.driver_pid = None
            for k, v in fields.items():
                setattr(row, k, v)
            return True

    def delete_study(self, name: str) -> dict[str, int]:
        """Delete a study with its trials and their epochs, in one transaction; returns how many of each went.

        Raises:
            LookupError: no such study.
        """
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            trials = select(TrialRow.id).where(TrialRow.study_id == sid)
            n_epochs = s.execute(sa.delete(EpochRow).where(EpochRow.trial_id.in_(trials))).rowcount
            n_trials = s.execute(sa.delete(TrialRow).where(TrialRow.study_id == sid)).rowcount
            s.execute(sa.delete(StudyRow).where(StudyRow.id == sid))
        self._study_ids.pop(name, None)
        return {"trials": int(n_trials), "epochs": int(n_epochs)}

    def set_trial_metric(self, name: str, number: int, key: str, value: Any) -> None:
        """Set (or with None remove) one entry of trial `number`'s metrics (e.g. its kept checkpoint file)."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            row = s.scalar(select(TrialRow).where(TrialRow.study_id == sid, TrialRow.number == number))
            if row is None:
                return
            metrics = dict(row.metrics or {})
            if value is None:
                metrics.pop(key, None)
            else:
                metrics[key] = value
            row.metrics = metrics

    def has_optuna_study(self, name: str) -> bool:
        """Whether Optuna's tables in this database hold a study called `name`."""
        with self._sessions.begin() as s:
            return _optuna_has_study(s, name)

    def update_study(self, name: str, **fields: Any) -> StudyRecord:
        """Set columns of a study (and its `updated` time)."""
        fields.setdefault("updated", now())
        with self.write_transaction() as s:
            row = s.get(StudyRow, self._sid(s, name))
            for k, v in fields.items():
                setattr(row, k, v)
            return study_record(row)  # type: ignore[arg-type]

    # trials

    def rekey_trials(self, name: str, rekey: Callable[[dict[str, Any]], tuple[str, str, dict[str, Any]] | None],
                     **study_fields: Any) -> int:
        """Give a study's trials new keys, in one transaction with `study_fields` (e.g. the spec text a migration
        moves to): `rekey(row)` gets each trial's columns (`key`, `config_key`, `netspec`, `train`, `data`, `seed`,
        `repeat`) and returns (key, config_key, data) or None to leave it. Results and epochs stay with their rows,
        so a resumed study finds them under the new keys. Returns how many rows changed.

        Raises:
            ConflictError: two rows would share a key.
        """
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            rows = list(s.scalars(select(TrialRow).where(TrialRow.study_id == sid)))
            changes = []
            for row in rows:
                new = rekey({"key": row.key, "config_key": row.config_key, "netspec": row.netspec,
                             "train": row.train, "data": row.data, "seed": row.seed, "repeat": row.repeat})
                if new is not None and (new[0], new[1], new[2]) != (row.key, row.config_key, row.data):
                    changes.append((row, new))
            keys = [new[0] for _, new in changes] + [r.key for r in rows if r not in {c[0] for c in changes}]
            if len(set(keys)) != len(keys):
                raise ConflictError(f"study {name!r}: rekeying its trials would give two of them one key")
            for row, (key, config_key, data) in changes:
                row.key, row.config_key, row.data = key, config_key, data
            if study_fields:
                study_fields.setdefault("updated", now())
                row_s = s.get(StudyRow, sid)
                for k, v in study_fields.items():
                    setattr(row_s, k, v)
            return len(changes)

    def queue_trial(self, name: str, fields: dict[str, Any]) -> TrialRecord:
        """Store a job the driver has claimed (state queued): a new row, or the row of the same key again (a rerun
        after an interruption: its old epochs and results are cleared). `fields` are TrialRow columns; `key` and
        `config_key` are required."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            row = _trial_row(s, sid, fields["key"])
            if row is None:
                number = _next_number(s, sid)
                row = TrialRow(study_id=sid, number=number, attempts=0, epochs_done=0, **fields)
                s.add(row)
            else:
                s.execute(sa.delete(EpochRow).where(EpochRow.trial_id == row.id))
                for k, v in fields.items():
                    setattr(row, k, v)
                for k in ("val_acc", "best_val_acc", "test_acc", "metrics", "error", "traceback", "started",
                          "finished", "seconds"):
                    setattr(row, k, None)
                row.epochs_done = 0
            row.state = "queued"
            s.flush()
            return trial_record(row, name)

    def start_trial(self, name: str, key: str) -> TrialRecord:
        """Mark a queued job running (its start time, one more attempt)."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            row = _trial_row(s, sid, key)
            if row is None:
                raise NotFoundError(f"study {name!r} has no trial with key {key[:16]}")
            row.state = "running"
            row.started = now()
            row.attempts = (row.attempts or 0) + 1
            return trial_record(row, name)

    def add_rejected(self, name: str, fields: dict[str, Any]) -> TrialRecord:
        """Store a candidate that a constraint rejected (or whose architecture is invalid); never trained.
        A second rejection with the same key returns the first row."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            row = _trial_row(s, sid, fields["key"])
            if row is None:
                number = _next_number(s, sid)
                t = now()
                row = TrialRow(study_id=sid, number=number, state="rejected", attempts=0, epochs_done=0,
                               started=t, finished=t, seconds=0.0, **fields)
                s.add(row)
                s.flush()
            return trial_record(row, name)

    def set_scores(self, name: str, keys: Sequence[str], scores: dict[str, Any]) -> None:
        """Store a configuration's training-free scores (sent by a worker before training) on the rows of `keys`,
        its repeats, in one transaction."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            for key in keys:
                row = _trial_row(s, sid, key)
                if row is None:
                    raise NotFoundError(f"study {name!r} has no trial with key {key[:16]}")
                row.scores = dict(scores)

    def add_epoch(self, name: str, key: str, epoch: dict[str, Any]) -> None:
        """Store one epoch's metrics of a running trial (again for the same epoch: ignored)."""
        with self.write_transaction() as s:
            self._add_epochs(s, name, key, [epoch])

    def _add_epochs(self, s: Session, name: str, key: str, epochs: Sequence[dict[str, Any]]) -> TrialRow:
        sid = self._sid(s, name)
        row = _trial_row(s, sid, key)
        if row is None:
            raise NotFoundError(f"study {name!r} has no trial with key {key[:16]}")
        have = set(s.scalars(select(EpochRow.epoch).where(EpochRow.trial_id == row.id)))
        for e in epochs:
            n = int(e["epoch"])
            if n in have:
                continue
            have.add(n)
            s.add(EpochRow(trial_id=row.id, epoch=n, **{k: e.get(k) for k in EPOCH_FIELDS}))
            if e.get("val_acc") is not None:
                row.val_acc = e["val_acc"]
                best = row.best_val_acc
                row.best_val_acc = e["val_acc"] if best is None else max(best, e["val_acc"])
        row.epochs_done = max(have, default=0)
        return row

    def finish_trial(self, name: str, key: str, state: str, *, epochs: Sequence[dict[str, Any]] = (),
                     **fields: Any) -> TrialRecord:
        """Set a trial's final state with its result in one transaction: the epochs not stored yet, metrics,
        error. `fields` are TrialRow columns (val_acc, best_val_acc, test_acc, metrics, error, traceback, node)."""
        t = now()
        with self.write_transaction() as s:
            row = self._add_epochs(s, name, key, epochs)
            for k, v in fields.items():
                setattr(row, k, v)
            row.state = state
            row.finished = t
            if row.started is not None:
                row.seconds = (t - row.started).total_seconds()
            return trial_record(row, name)

    def link_optuna_trial(self, name: str, keys: Iterable[str], number: int) -> int:
        """Point the trials with `keys` at Optuna trial `number` (their result was told to it again); returns how
        many rows changed."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            res = s.execute(sa.update(TrialRow).where(TrialRow.study_id == sid, TrialRow.key.in_(list(keys)))
                            .values(optuna_trial=int(number)))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def interrupt_running(self, name: str, keys: Iterable[str] | None = None) -> int:
        """Mark running trials (all, or those with `keys`) interrupted; returns how many."""
        with self.write_transaction() as s:
            sid = self._sid(s, name)
            q = sa.update(TrialRow).where(TrialRow.study_id == sid, TrialRow.state == "running")
            if keys is not None:
                q = q.where(TrialRow.key.in_(list(keys)))
            res = s.execute(q.values(state="interrupted", finished=now()))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]


def _trial_row(s: Session, sid: int, key: str) -> TrialRow | None:
    """The study's trial row with this key, or None."""
    return s.scalar(select(TrialRow).where(TrialRow.study_id == sid, TrialRow.key == key))


def _next_number(s: Session, sid: int) -> int:
    """The number a new trial of the study gets: one more than the largest so far (0 for the first)."""
    return s.scalar(select(func.coalesce(func.max(TrialRow.number), -1)).where(TrialRow.study_id == sid)) + 1
