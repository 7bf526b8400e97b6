"""Reading an experiment's studies: the database default, loading a study (read-only), its completed trials, its
status (pilot, partial or full) and its provenance (spec, seeds, trials, wall time, hardware)."""

from __future__ import annotations

from typing import Any

import pandas as pd

DEFAULT_DB = "results/rediscover.db"
OUT_REMEDY = "write elsewhere with --out DIR"  # what an OutputFolderError of results/<study>/ suggests


def study_status(record: Any, trials: pd.DataFrame, pilot: bool) -> str:
    """pilot, partial or full (pilot-partial for an unfinished pilot) from the record and its trials."""
    planned = getattr(record, "planned", None)
    done = int((trials["state"] == "COMPLETE").sum())
    unfinished = int(trials["state"].isin(["QUEUED", "RUNNING", "INTERRUPTED"]).sum())
    if unfinished or (planned and done + int(trials["state"].isin(["REJECTED", "FAILED", "PRUNED"]).sum())
                      < planned) or getattr(record, "finished", None) is None:
        return "pilot-partial" if pilot else "partial"
    return "pilot" if pilot else "full"


def study_provenance(record: Any, trials: pd.DataFrame) -> dict[str, Any]:
    """A study's spec, seeds, trials by state, wall and training time, hardware and times."""
    import yaml

    spec = yaml.safe_load(record.spec_text) or {}
    done = trials[trials["state"] == "COMPLETE"]
    return {
        "study": record.name, "spec_file": record.spec_file, "state": record.state,
        "dataset": spec.get("dataset"), "train": spec.get("train"), "repeats": record.repeats,
        "seeds": sorted(int(s) for s in done["seed"].dropna().unique()),
        "trials": {k: int(v) for k, v in trials["state"].value_counts().items()},
        "wall_seconds": float(record.wall_seconds or 0.0),
        "train_seconds": float(done["wall_s"].fillna(0).sum()),
        "hardware": dict(record.hardware or {}), "started": str(record.started), "finished": str(record.finished),
    }


def read_study(db: str, study: str) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """(record, trials, epochs) of `study` in database `db`, read-only."""
    from scalesearch import results

    reader = results.open_reader(db)
    try:
        record = reader.study(study)
        trials = results.load_trials(reader, study)
        epochs = results.load_epochs(reader, study)
    finally:
        reader.close()
    return record, trials, epochs


def completed_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The COMPLETE trials with a val_acc (a copy)."""
    return trials[(trials["state"] == "COMPLETE") & trials["val_acc"].notna()].copy()
