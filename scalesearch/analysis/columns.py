"""Shared vocabulary of the analysis: column names, directions, errors and the objective matrix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.errors import InputError

COMPLETE = "COMPLETE"
DEFAULT_OBJECTIVES: Mapping[str, str] = {"val_acc": "max", "macs": "min"}
METRIC_COLUMNS = ("val_acc", "test_acc", "train_acc", "val_loss", "test_loss", "train_loss")
COST_COLUMNS = ("macs", "params", "acts", "latency", "latency_ms")
ID_COLUMNS = ("study", "number", "state", "seed", "repeat", "family", "arch", "config_key", "key", "hash",
              "spec_hash", "node", "error", "message", "epochs", "epoch", "duration", "wall_time")

# Columns of a study's trials (`scalesearch.results.load_trials`, a committed trials.csv) around the parameters, in
# order (parameters come after `point`), and of its per-epoch metrics (`load_epochs`, epochs.csv). Here, not in
# scalesearch.results, so that what writes such files without a database (scripts/train_points.py) shares them.
TRIAL_HEAD = ("study", "number", "state", "arch", "family", "point")
TRIAL_TAIL = ("macs", "params", "acts", "latency_ms", "val_acc", "best_val_acc", "test_acc", "test_loss", "epochs",
              "seed", "repeat", "node", "device", "wall_s", "train_s", "total_s", "images_per_s", "steps",
              "started_at", "finished_at", "attempts", "config_key", "key", "netspec_hash", "optuna_trial", "error",
              "rejected_by")
TRIAL_COLUMNS: tuple[str, ...] = TRIAL_HEAD + TRIAL_TAIL
EPOCH_COLUMNS: tuple[str, ...] = ("study", "number", "arch", "family", "config_key", "repeat", "state", "epoch",
                                  "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_s",
                                  "images_per_s", "eval_s")

ArrayLike = np.ndarray | Sequence[Sequence[float]] | pd.DataFrame
Objectives = Mapping[str, str] | Sequence[str] | None

# Columns of a trials DataFrame that are neither parameters nor covered by the names above.
_OTHER_COLUMNS = ("point", "device", "steps", "attempts", "optuna_trial", "rejected_by", "netspec_hash",
                  "n_trials", "n_incomplete", "n_complete")
_DIRECTIONS = {"min": 1.0, "minimize": 1.0, "max": -1.0, "maximize": -1.0}



def parameter_columns(df: pd.DataFrame) -> list[str]:
    """The columns of a trials DataFrame that are spec parameters: all but ids, costs, metrics and times.

    A DataFrame of `scalesearch.results.load_trials` names its parameters in `df.attrs["parameters"]`; those are
    used when present. Otherwise a heuristic on names (ids, `COST_COLUMNS`, `METRIC_COLUMNS`, and names ending in `_acc`, `_loss`, `_at`,
    `_s`, `_time`); pass parameter names explicitly where it matters.

    Example:
        >>> parameter_columns(pd.DataFrame(columns=["study", "alpha", "macs", "val_acc", "depth", "started_at"]))
        ['alpha', 'depth']
    """
    named = df.attrs.get("parameters")
    if named is not None:
        return [c for c in named if c in df.columns]
    reserved = set(ID_COLUMNS) | set(COST_COLUMNS) | set(METRIC_COLUMNS) | set(_OTHER_COLUMNS)
    suffixes = ("_acc", "_loss", "_at", "_s", "_time", "_err", "_error")
    return [c for c in df.columns if c not in reserved and not str(c).endswith(suffixes)]


def to_error(values: Any, metric: str) -> np.ndarray:
    """Error from a metric: 1 - accuracy for a name containing "acc" (fractions), the values themselves otherwise.

    Example:
        >>> to_error([0.9, 0.75], "val_acc").round(2).tolist()
        [0.1, 0.25]
    """
    v = np.asarray(values, dtype=float)
    return 1.0 - v if "acc" in metric else v


def direction_signs(directions: Iterable[str]) -> np.ndarray:
    """+1 for each direction to minimise, -1 for each to maximise; InputError naming a bad one."""
    out = []
    for d in directions:
        if not isinstance(d, str) or d.lower() not in _DIRECTIONS:
            raise InputError(f"direction {d!r}: expected 'min' or 'max'")
        out.append(_DIRECTIONS[d.lower()])
    return np.asarray(out, dtype=float)


def check_columns(df: pd.DataFrame, cols: Iterable[str], what: str = "column") -> None:
    """InputError naming the first of `cols` that is not a column of `df` (a `what`: column, metric, ...)."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"unknown {what} {missing[0]!r}: the DataFrame has {', '.join(map(str, df.columns))}")


def complete_rows(df: pd.DataFrame, complete_only: bool) -> pd.DataFrame:
    """The COMPLETE rows of `df` when `complete_only` (and `df` has a `state` column), else `df`."""
    if complete_only and "state" in df.columns:
        return df[df["state"].astype(str) == COMPLETE]
    return df


def objective_matrix(data: ArrayLike, objectives: Objectives,
                     complete_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values as minimisation, candidate mask) for a DataFrame and a mapping, or an array and directions."""
    if isinstance(data, pd.DataFrame):
        objectives = DEFAULT_OBJECTIVES if objectives is None else objectives
        if not isinstance(objectives, Mapping):
            raise InputError("objectives: expected a mapping column -> 'min'|'max' for a DataFrame")
        cols = list(objectives)
        check_columns(data, cols, "objective")
        values = data[cols].to_numpy(dtype=float)
        signs = direction_signs(objectives.values())
        ok = np.ones(len(data), dtype=bool)
        if complete_only and "state" in data.columns:
            ok &= (data["state"].astype(str) == COMPLETE).to_numpy()
    else:
        values = np.asarray(data, dtype=float)
        if values.ndim != 2:
            raise InputError(f"points: expected a 2-D array (n, objectives), got shape {values.shape}")
        dirs = (list(objectives.values()) if isinstance(objectives, Mapping)
                else ["min"] * values.shape[1] if objectives is None else list(objectives))
        if len(dirs) != values.shape[1]:
            raise InputError(f"directions: {len(dirs)} given for {values.shape[1]} objectives")
        signs = direction_signs(dirs)
        ok = np.ones(len(values), dtype=bool)
    if values.shape[1] < 1:
        raise InputError("objectives: at least one is needed")
    ok &= ~np.isnan(values).any(axis=1)
    return values * signs, ok
