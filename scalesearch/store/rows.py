"""A study's rows of our tables as plain records, and back: what `scalesearch dump` and `load` move between
databases (the Optuna half is `scalesearch.search.dumpfile`).

`study_rows(url, name)` yields one record per row, in an order that loading can follow: the study, then each
trial (with its old id as `ref`), then each epoch (with its trial's `ref`). Column values are JSON-able: datetimes
as {"$dt": ISO text}, everything else as stored (JSON columns as they are, floats exactly). `insert_rows(store,
records, name)` writes them in one transaction under study `name`, new ids assigned; it refuses a name that
exists; `record_problem(record, trials)` checks one record before anything is written (a dump's reader calls it
on each line). The driver's claim (host, PID) is cleared and a study that was running when it was dumped is loaded
as interrupted: `scalesearch resume` continues it where it now lives.
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

__all__ = ["insert_rows", "record_problem", "study_rows"]

_TABLES = {"study": StudyRow, "trial": TrialRow, "epoch": EpochRow}
_SKIP = {"study": ("id",), "trial": ("id", "study_id"), "epoch": ("id", "trial_id")}


def _version_problem(version: Any) -> str:
    """What is wrong with a study record's schema version ('' when nothing)."""
    if isinstance(version, int) and 1 <= version <= SCHEMA_VERSION:
        return ""
    return (f"written by scalesearch schema version {version}, this is version {SCHEMA_VERSION} (it reads dumps of "
            f"versions 1 to {SCHEMA_VERSION})")


def record_problem(rec: dict[str, Any], trials: set[int] | None) -> str:
    """What is wrong with one record of our tables, read in a dump's order ('' when nothing), before anything is
    written: its table, its row's columns, its place (the study record first and once, an epoch after its trial).

    Args:
        rec: the record (a JSON object with `table` one of study, trial, epoch).
        trials: None before the study record, else the trial refs read so far; a trial record's ref is added.
    """
    table, row = rec.get("table"), rec.get("row")
    if table not in _TABLES:
        return f"a record of table {str(table)[:40]!r}; expected one of {', '.join(_TABLES)}"
    what = f"an {table} record" if table == "epoch" else f"a {table} record"
    if (table == "study") != (trials is None):
        return "a second study record" if table == "study" else f"{what} before the study record"
    if not isinstance(row, dict):
        return f"{what} without its row; expected a JSON object of the {table} table's columns"
    columns = {c.key for c in _TABLES[table].__table__.columns} - set(_SKIP[table])
    unknown = sorted(set(row) - columns)
    if unknown:
        return f"{what} with unknown columns {', '.join(unknown[:5])}; expected the {table} table's columns"
    if table == "study":
        return _version_problem(rec.get("schema_version"))
    if table == "trial":
        if not isinstance(rec.get("ref"), int) or rec["ref"] in trials:
            return "a trial record without a ref of its own; expected an integer id, once"
        trials.add(rec["ref"])
    elif rec.get("trial") not in trials:
        return f"an epoch record of trial ref {str(rec.get('trial'))[:20]}, not a trial before it in the dump"
    return ""


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
    with store.write_transaction() as s:
        if s.scalar(select(StudyRow.id).where(StudyRow.name == name)) is not None:
            raise ConflictError(f"study {name!r} already exists in the database; load it under a new name with "
                                "--as NAME")
        study_id, trial_ids, n = None, {}, 0
        for rec in records:
            table, row = rec.get("table"), {k: _in(v) for k, v in (rec.get("row") or {}).items()}
            try:
                if table == "study":
                    problem = _version_problem(rec.get("schema_version"))
                    if problem:
                        raise InputError(f"{source}: {problem}")
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
