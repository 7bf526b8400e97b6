"""A study's raw data as files: what lets anyone recompute a verdict without the database.

`write_raw(db, study, folder)` writes three files into `folder`:

    trials.csv    one row per trial: `scalesearch query STUDY --format csv` (every column of `load_trials`)
    epochs.csv    one row per trial and epoch: `load_epochs` (the learning curves)
    study.json    the study's record: name, spec file and text, state, repeats, seed, timings, hardware, versions

`read_raw(folder)` reads them back as (record, trials, epochs), the record a `RawStudy` with the attributes of the
store's study record that analyses use. Floats round-trip exactly (pandas writes the shortest repr). Nothing here
opens a database for writing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from scalesearch.errors import InputError, MissingFileError
from scalesearch.results.frames import write_frame
from scalesearch.results.load import load_epochs, load_trials, open_reader

if TYPE_CHECKING:
    from scalesearch.results.load import DB

__all__ = ["RAW_FILES", "RawStudy", "read_raw", "write_raw"]

RAW_FILES = ("trials.csv", "epochs.csv", "study.json")


@dataclass(frozen=True)
class RawStudy:
    """A study's record as study.json keeps it (the attributes analyses read from the store's record)."""

    name: str
    spec_text: str
    spec_file: str | None = None
    state: str = ""
    repeats: int = 1
    seed: int = 0
    planned: int | None = None
    wall_seconds: float = 0.0
    started: str | None = None
    finished: str | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_canonical(self) -> str:
        return self.spec_text


def write_raw(db: DB, study: str, folder: str | Path) -> list[Path]:
    """Write `study`'s trials.csv, epochs.csv and study.json into `folder` (created); returns the paths.

    Raises:
        NotFoundError, MissingFileError: no such study or database.
    """
    reader = open_reader(db)
    try:
        rec = reader.study(study)
        trials = load_trials(reader, study)
        epochs = load_epochs(reader, study)
    finally:
        if reader is not db:
            reader.close()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in RAW_FILES]
    write_frame(trials, "csv", str(paths[0]))
    write_frame(epochs, "csv", str(paths[1]))
    meta = {"name": rec.name, "spec_text": rec.spec_text, "spec_file": rec.spec_file, "state": rec.state,
            "repeats": rec.repeats, "seed": rec.seed, "planned": rec.planned,
            "wall_seconds": float(rec.wall_seconds or 0.0), "started": _iso(rec.started),
            "finished": _iso(rec.finished), "hardware": dict(rec.hardware or {}), "versions": dict(rec.versions or {})}
    paths[2].write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return paths


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def read_raw(folder: str | Path) -> tuple[RawStudy, pd.DataFrame, pd.DataFrame]:
    """A study's (record, trials, epochs) from the files `write_raw` wrote.

    Raises:
        MissingFileError: a file is missing. InputError: study.json is not a study record.
    """
    root = Path(folder)
    for name in RAW_FILES:
        if not (root / name).is_file():
            raise MissingFileError(f"{root / name}: no such file; expected the raw data written by `scalesearch "
                                   "rediscover` (trials.csv, epochs.csv, study.json)")
    try:
        meta = json.loads((root / "study.json").read_text(encoding="utf-8"))
        record = RawStudy(**meta)
    except (ValueError, TypeError) as e:
        raise InputError(f"{root / 'study.json'}: not a study record ({e})") from None
    # keep_default_na=False + explicit NA: a parameter value such as "none" or "NA" stays a string
    kw: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}
    trials = pd.read_csv(root / "trials.csv", **kw)
    epochs = pd.read_csv(root / "epochs.csv", **kw)
    return record, trials, epochs
