"""Bringing a database written by an older scalesearch up to `SCHEMA_VERSION`.

Each step takes the schema from version v to v + 1 (`STEPS[v]`: what it does and how); `upgrade` runs every step a
database needs, then records the new version, in one transaction, so a failed or interrupted upgrade leaves the
database as it was. The writer (`Store`: run, resume, load) upgrades a database when it opens it; readers never
write, so `query`, `status` and the rest ask for `scalesearch upgrade --db URL` instead. Nothing a step does
changes a stored result: a study made by an older release resumes without retraining anything (the trial keys do
not depend on the schema).

To change the schema: bump `SCHEMA_VERSION` in models.py, add the column there, and add the step here with a test
that upgrades a database of the previous version (tests/data/schema_v<N>.sql, dumped from a real run of the
previous release) and resumes a study in it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Connection, func, select

from scalesearch.errors import InputError
from scalesearch.store.models import SCHEMA_VERSION, SchemaRow
from scalesearch.store.records import now

__all__ = ["STEPS", "OutdatedSchema", "stored_version", "upgrade"]


class OutdatedSchema(InputError):
    """A database written by an older scalesearch (`version`), which a reader cannot read until it is upgraded."""

    def __init__(self, message: str, *, version: int) -> None:
        super().__init__(message)
        self.version = version


def _v1_to_v2(conn: Connection) -> None:
    # one constant statement per step (no SQL is built from text); JSON is the column's type on SQLite and PostgreSQL
    conn.exec_driver_sql("ALTER TABLE scalesearch_studies ADD COLUMN classes JSON")


def _v2_to_v3(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE scalesearch_trials ADD COLUMN scores JSON")


STEPS: dict[int, tuple[str, Callable[[Connection], None]]] = {
    1: ("add scalesearch_studies.classes (the dataset's class names; NULL for the studies already there)",
        _v1_to_v2),
    2: ("add scalesearch_trials.scores (training-free scores of each candidate; NULL for the trials already there)",
        _v2_to_v3),
}


def stored_version(conn: Connection) -> int | None:
    """The schema version a database records (None: no scalesearch tables)."""
    if not sa.inspect(conn).has_table(SchemaRow.__tablename__):
        return None
    return conn.scalar(select(func.max(SchemaRow.version)))


def upgrade(conn: Connection) -> list[str]:
    """Run the steps from the stored version to `SCHEMA_VERSION` on `conn` (inside the caller's transaction) and
    record the new version; returns what each step did ([] when nothing was to do).

    Raises:
        InputError: a database of a newer scalesearch, or of a version no step starts from.
    """
    version = stored_version(conn)
    if version is None or version == SCHEMA_VERSION:
        return []
    if version > SCHEMA_VERSION:
        raise InputError(f"written by scalesearch schema version {version}, newer than this scalesearch's "
                         f"{SCHEMA_VERSION}; upgrade scalesearch")
    done = []
    for v in range(version, SCHEMA_VERSION):
        if v not in STEPS:
            raise InputError(f"written by scalesearch schema version {version}; no upgrade from version {v}")
        what, step = STEPS[v]
        step(conn)
        done.append(f"{v} -> {v + 1}: {what}")
    conn.execute(sa.insert(SchemaRow).values(version=SCHEMA_VERSION, created=now()))
    return done
