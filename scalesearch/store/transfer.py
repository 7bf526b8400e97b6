"""A study's rows of our tables as plain records, and back: what `scalesearch dump` and `load` move between
databases (the Optuna half is `scalesearch.search.transfer`).

`study_rows(url, name)` yields one record per row, in an order that loading can follow: the study, then each
trial (with its old id as `ref`), then each epoch (with its trial's `ref`). Column values are JSON-able: datetimes
as {"$dt": ISO text}, everything else as stored (JSON columns as they are, floats exactly). `insert_rows(store,
records, name)` writes them in one transaction under study `name`, new ids assigned; it refuses a name that
exists. The driver's claim (host, PID) is cleared and a study that was running when it was dumped is loaded as
interrupted: `scalesearch resume` continues it where it now lives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select

from scalesearch.errors import ConflictError, InputError
from scalesearch.store.models import SCHEMA_VERSION, EpochRow, StudyRow, TrialRow
from scalesearch.store.reader import Reader
from scalesearch.store.writer import Store

__all__ = ["insert_rows", "study_rows"]

_TABLES = {"study": StudyRow, "trial": TrialRow, "epoch": EpochRow}
_SKIP = {"study": ("id",), "trial": ("id", "study_id"), "epoch": ("id", "trial_id")}


def _out(v: Any) -> Any:
    return {"$dt": v.isoformat()} if isinstance(v, dt.datetime) else v


def _in(v: Any) -> Any:
    return dt.datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) and set(v) == {"$dt"} else v


def _columns(row: Any, table: str) -> dict[str, Any]:
    return {c.key: _out(getattr(row, c.key)) for c in _TABLES[table].__table__.columns if c.key not in _SKIP[table]}


def study_rows(url: str | None, name: str) -> Iterator[dict[str, Any]]:
    """The records of study `name` (read-only, one snapshot).

    Raises:
        NotFoundError: no such study. MissingFileError: no such database.
    """
    with Reader(url) as reader, reader._sessions.begin() as s:
        sid = reader._sid(s, name)
        study = s.get(StudyRow, sid)
        yield {"table": "study", "schema_version": SCHEMA_VERSION, "row": _columns(study, "study")}
        trials = list(s.scalars(select(TrialRow).where(TrialRow.study_id == sid).order_by(TrialRow.number,
                                                                                           TrialRow.id)))
        for t in trials:
            yield {"table": "trial", "ref": t.id, "row": _columns(t, "trial")}
        ids = [t.id for t in trials]
        for i in range(0, len(ids), 500):
            for e in s.scalars(select(EpochRow).where(EpochRow.trial_id.in_(ids[i:i + 500]))
                               .order_by(EpochRow.trial_id, EpochRow.epoch)):
                yield {"table": "epoch", "trial": e.trial_id, "row": _columns(e, "epoch")}


def insert_rows(store: Store, records: Iterable[dict[str, Any]], name: str, *, source: str = "the dump") -> int:
    """Write a study's records under `name` in one transaction; returns the trials written.

    Raises:
        ConflictError: a study called `name` exists (nothing is written).
        InputError: records that are not a study's (a broken or foreign file; nothing is written).
    """
    with store._write() as s:
        if s.scalar(select(StudyRow.id).where(StudyRow.name == name)) is not None:
            raise ConflictError(f"study {name!r} already exists in the database; load it under a new name with "
                                "--as NAME")
        study_id, trial_ids, n = None, {}, 0
        for rec in records:
            table, row = rec.get("table"), {k: _in(v) for k, v in (rec.get("row") or {}).items()}
            try:
                if table == "study":
                    version = rec.get("schema_version")
                    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
                        raise InputError(f"{source}: written by scalesearch schema version {version}, this is "
                                         f"version {SCHEMA_VERSION} (it reads dumps of versions 1 to "
                                         f"{SCHEMA_VERSION})")
                    # an older dump lacks the columns added since; they stay NULL (see store.migrate)
                    row.update(name=name, driver_host=None, driver_pid=None, ray_address=None)
                    if row.get("state") == "running":
                        row.update(state="interrupted", message="loaded from a dump while it was running; "
                                                                "resume it to continue")
                    obj = StudyRow(**row)
                    s.add(obj)
                    s.flush()
                    study_id = obj.id
                elif table == "trial" and study_id is not None:
                    obj = TrialRow(study_id=study_id, **row)
                    s.add(obj)
                    s.flush()
                    trial_ids[rec["ref"]] = obj.id
                    n += 1
                elif table == "epoch" and rec.get("trial") in trial_ids:
                    s.add(EpochRow(trial_id=trial_ids[rec["trial"]], **row))
                else:
                    raise InputError(f"{source}: unexpected record {str(rec)[:80]!r}; expected the study, then its "
                                     "trials, then their epochs")
            except TypeError as e:
                raise InputError(f"{source}: a {table} record with unknown columns ({e})") from None
        if study_id is None:
            raise InputError(f"{source}: no study record")
    return n
