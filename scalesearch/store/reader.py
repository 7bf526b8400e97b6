"""`Reader`, the read-only view of the results database every command but the search driver uses, and the engine,
sessions and reads it shares with the writer (`scalesearch.store.writer.Store`).

Readers open SQLite read-only and read each answer from one snapshot; in WAL mode they never block the driver
and the driver never blocks them. Both are context managers: `with Reader(url) as r: ...` closes the connections.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from scalesearch.errors import InputError, NotFoundError
from scalesearch.store.engine import describe_url, make_engine, normalize_url
from scalesearch.store.migrate import OutdatedSchema, stored_version
from scalesearch.store.models import SCHEMA_VERSION, EpochRow, StudyRow, TrialRow
from scalesearch.store.records import (
    EpochRecord,
    StudyRecord,
    TrialRecord,
    epoch_record,
    now,
    study_record,
    trial_record,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DatabaseBase", "Reader", "db_error", "now"]


def db_error(url: str, e: Exception) -> InputError:
    """The InputError for a database URL that cannot be used (the driver's message, one line, 200 characters)."""
    orig = getattr(e, "orig", None) or e
    msg = " ".join(str(orig).split())[:200]
    return InputError(f"--db {describe_url(url)}: not a usable database ({msg})")


class DatabaseBase:
    """Engine, sessions and the schema-version check shared by the writer and the reader."""

    def __init__(self, url: str | None, *, readonly: bool) -> None:
        self.url = normalize_url(url)
        self.engine: Engine = make_engine(self.url, readonly=readonly)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._study_ids: dict[str, int] = {}

    def _check_schema(self, session: Session) -> bool:
        """True when our tables exist at this schema version; ValueError for another version."""
        version = stored_version(session.connection())
        if version is not None and version > SCHEMA_VERSION:
            raise InputError(f"--db {describe_url(self.url)}: written by scalesearch schema version {version}, newer "
                             f"than this scalesearch's {SCHEMA_VERSION}; upgrade scalesearch or use another --db")
        if version is not None and version < SCHEMA_VERSION:
            raise OutdatedSchema(f"--db {describe_url(self.url)}: written by an older scalesearch (schema version "
                                 f"{version}, this is {SCHEMA_VERSION}); `scalesearch upgrade --db "
                                 f"{describe_url(self.url)}` brings it up to date (run and resume do it themselves)",
                                 version=version)
        return version is not None

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # reads shared by writer and reader

    def studies(self) -> list[StudyRecord]:
        """Every study, oldest first."""
        with self._sessions.begin() as s:
            if not self._check_schema(s):
                return []
            return [study_record(r) for r in s.scalars(select(StudyRow).order_by(StudyRow.id))]

    def find_study(self, name: str) -> StudyRecord | None:
        """The study called `name`, or None."""
        with self._sessions.begin() as s:
            if not self._check_schema(s):
                return None
            row = s.scalar(select(StudyRow).where(StudyRow.name == name))
            return None if row is None else study_record(row)

    def study(self, name: str) -> StudyRecord:
        """The study called `name`; LookupError (one line, naming the studies there are) if there is none."""
        rec = self.find_study(name)
        if rec is None:
            names = [s.name for s in self.studies()]
            there = f"studies there: {', '.join(names)}" if names else "it holds no study"
            raise NotFoundError(f"no study {name!r} in {describe_url(self.url)} ({there})")
        return rec

    def trials(self, name: str, states: Iterable[str] | None = None) -> list[TrialRecord]:
        """The trials of study `name` by number, optionally only those in `states`."""
        with self._sessions.begin() as s:
            sid = self._sid(s, name)
            q = select(TrialRow).where(TrialRow.study_id == sid)
            if states is not None:
                q = q.where(TrialRow.state.in_(list(states)))
            return [trial_record(r, name) for r in s.scalars(q.order_by(TrialRow.number))]

    def snapshot(self, name: str) -> tuple[StudyRecord, list[TrialRecord]]:
        """The study and its trials, read in one transaction (one consistent snapshot)."""
        with self._sessions.begin() as s:
            sid = self._sid(s, name)
            row = s.get(StudyRow, sid)
            trials = [trial_record(r, name) for r in
                      s.scalars(select(TrialRow).where(TrialRow.study_id == sid).order_by(TrialRow.number))]
            return study_record(row), trials  # type: ignore[arg-type]

    def epochs(self, name: str, number: int | None = None) -> list[EpochRecord]:
        """Per-epoch metrics of study `name` (of trial `number` only, when given), by trial then epoch."""
        with self._sessions.begin() as s:
            sid = self._sid(s, name)
            q = (select(EpochRow, TrialRow.number).join(TrialRow, EpochRow.trial_id == TrialRow.id)
                 .where(TrialRow.study_id == sid))
            if number is not None:
                q = q.where(TrialRow.number == number)
            rows = s.execute(q.order_by(TrialRow.number, EpochRow.epoch)).all()
            return [epoch_record(e, name, n) for e, n in rows]

    def epoch_count(self, name: str) -> int:
        """How many epochs study `name` has stored (a COUNT, nothing loaded)."""
        with self._sessions.begin() as s:
            sid = self._sid(s, name)
            q = (select(func.count()).select_from(EpochRow).join(TrialRow, EpochRow.trial_id == TrialRow.id)
                 .where(TrialRow.study_id == sid))
            return int(s.scalar(q) or 0)

    def counts(self, name: str) -> dict[str, int]:
        """Number of trials in each state."""
        with self._sessions.begin() as s:
            sid = self._sid(s, name)
            rows = s.execute(select(TrialRow.state, func.count()).where(TrialRow.study_id == sid)
                             .group_by(TrialRow.state)).all()
            return {state: int(n) for state, n in rows}

    def _sid(self, s: Session, name: str) -> int:
        sid = self._study_ids.get(name)
        if sid is None:
            if not self._check_schema(s):
                raise NotFoundError(f"no study {name!r} in {describe_url(self.url)} (it holds no scalesearch study)")
            sid = s.scalar(select(StudyRow.id).where(StudyRow.name == name))
            if sid is None:
                names = list(s.scalars(select(StudyRow.name).order_by(StudyRow.id)))
                there = f"studies there: {', '.join(names)}" if names else "it holds no study"
                raise NotFoundError(f"no study {name!r} in {describe_url(self.url)} ({there})")
            self._study_ids[name] = sid
        return sid


class Reader(DatabaseBase):
    """Read-only access (SQLite opened with mode=ro): for status, query, plots and reports.

    Args:
        url: a SQLAlchemy URL or a SQLite file path (default: results/scalesearch.db).

    Raises:
        FileNotFoundError: the SQLite file does not exist.
        ValueError: the file is not a database, or was written by another schema version.
    """

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url, readonly=True)
        try:
            with self._sessions.begin() as s:
                self._check_schema(s)
        except sa.exc.DBAPIError as e:
            self.engine.dispose()
            raise db_error(self.url, e) from None
