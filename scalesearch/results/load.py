"""Reading the results database: one consistent read-only snapshot, trials, epochs and studies as DataFrames,
labels of configurations. See `scalesearch.results` for the columns."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
import sqlalchemy as sa

from scalesearch.analysis.columns import EPOCH_COLUMNS, TRIAL_COLUMNS
from scalesearch.errors import InputError, NotFoundError
from scalesearch.store import Reader, describe_url
from scalesearch.store.models import EpochRow, StudyRow, TrialRow

DB = Union[str, "os.PathLike[str]", Reader, None]

STATES: Mapping[str, str] = {"completed": "COMPLETE", "failed": "FAILED", "stopped": "PRUNED",
                             "rejected": "REJECTED", "queued": "QUEUED", "running": "RUNNING",
                             "interrupted": "INTERRUPTED"}

# The trial's `metrics` summary (see scalesearch.search.driver) -> column.
_METRIC_KEYS = {"latency_ms": "latency_ms", "test_loss": "test_loss", "device": "device", "steps": "steps",
                "train_seconds": "train_s", "total_seconds": "total_s", "images_per_s": "images_per_s"}
_INT_COLUMNS = ("macs", "params", "acts", "epochs", "seed", "repeat", "steps", "attempts", "optuna_trial")


# --------------------------------------------------------------------------------------------------------------
# Opening


def open_reader(db: DB = None) -> Reader:
    """A read-only `scalesearch.store.Reader` on `db` (a SQLAlchemy URL, a SQLite path, default
    results/scalesearch.db), or `db` itself when it is one.

    Raises:
        FileNotFoundError: a SQLite file that does not exist (nothing is created).
        ValueError: not a database, or one written by another schema version.
    """
    if isinstance(db, Reader):
        return db
    return Reader(None if db is None else os.fspath(db))


@contextlib.contextmanager
def snapshot(db: DB) -> Iterator[tuple[Reader, sa.Connection]]:
    """A connection inside one read transaction (one consistent snapshot), READ ONLY on PostgreSQL too."""
    owned = not isinstance(db, Reader)
    reader = open_reader(db)
    try:
        with reader.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield reader, conn
    finally:
        if owned:
            reader.close()


def _has_tables(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(StudyRow.__tablename__)


def study_names(study: str | Sequence[str] | None) -> list[str] | None:
    """The study names asked for, each once in order (None: every study); InputError for a non-name."""
    if study is None:
        return None
    names = [study] if isinstance(study, str) else list(study)
    for n in names:
        if not isinstance(n, str) or not n:
            raise InputError(f"study: expected study names, got {n!r}")
    return list(dict.fromkeys(names))


def _study_rows(reader: Reader, conn: sa.Connection, names: list[str] | None) -> list[Any]:
    """The selected studies' rows (id, name, spec_canonical, objectives), in the order asked (else oldest first);
    LookupError naming the studies there are for a name that is not one."""
    if not _has_tables(conn):
        if names:
            raise NotFoundError(f"no study {names[0]!r} in {describe_url(reader.url)} (it holds no scalesearch study)")
        return []
    cols = (StudyRow.id, StudyRow.name, StudyRow.spec_canonical, StudyRow.objectives)
    rows = conn.execute(sa.select(*cols).order_by(StudyRow.id)).all()
    if names is None:
        return rows
    by_name = {r.name: r for r in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        there = f"studies there: {', '.join(by_name)}" if by_name else "it holds no study"
        raise NotFoundError(f"no study {missing[0]!r} in {describe_url(reader.url)} ({there})")
    return [by_name[n] for n in names]


def _json_column(texts: Sequence[str | None]) -> list[Any]:
    """Decode a column of JSON texts in one call (None stays None)."""
    if not texts:
        return []
    return json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")


def _as_text(col: Any) -> Any:
    """A JSON column read as its text (decoded in bulk by `_json_column`, much faster than row by row)."""
    return sa.cast(col, sa.Text)


# --------------------------------------------------------------------------------------------------------------
# Labels


def study_family(spec_text: str | None) -> str | None:
    """The architecture family named by a spec's text (`architecture: {family: ...}`), or None.

    Example:
        >>> study_family("study: x\\narchitecture: {family: cifar_resnet, args: {depth: 20}}")
        'cifar_resnet'
    """
    if not spec_text:
        return None
    import yaml

    try:
        doc = yaml.safe_load(spec_text)
    except yaml.YAMLError:
        return None
    arch = doc.get("architecture") if isinstance(doc, dict) else None
    family = arch.get("family") if isinstance(arch, dict) else None
    return family if isinstance(family, str) else None


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def arch_label(parameters: Mapping[str, Any] | None, point: str | None = None, netspec_hash: str | None = None) -> str:
    """A short label of one configuration: the named point, else its sampled values, else its NetSpec hash.

    Example:
        >>> arch_label({"n": 2, "width": 16}), arch_label({"phi": 1.0}, "baseline"), arch_label({}, None, "ab12")
        ('n=2 width=16', 'baseline', 'ab12')
    """
    if point:
        return point
    if parameters:
        return " ".join(f"{k}={_fmt_value(v)}" for k, v in parameters.items())
    return netspec_hash or "-"


def study_objectives(db: DB, study: str) -> dict[str, str]:
    """A study's objectives, {name: "max"|"min"}, as its spec declares them (`latency` is `latency_ms`)."""
    with snapshot(db) as (reader, conn):
        (row,) = _study_rows(reader, conn, [study])
    return {("latency_ms" if n == "latency" else str(n)): str(d) for n, d in row.objectives}


def parameter_names(df: pd.DataFrame) -> list[str]:
    """The parameter columns of a `load_trials` DataFrame (recorded in `df.attrs["parameters"]`; for other
    frames the columns that are not `TRIAL_COLUMNS` or aggregate statistics)."""
    names = df.attrs.get("parameters")
    if names is not None:
        return [c for c in names if c in df.columns]
    stats = ("_mean", "_std", "_se", "_n", "_lo", "_hi")
    return [c for c in df.columns if c not in TRIAL_COLUMNS and c not in ("n_complete", "n_incomplete")
            and not str(c).endswith(stats) and not str(c).startswith("score_")]


def _empty_trials() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype=object) for c in TRIAL_COLUMNS})
    df.attrs["parameters"] = []
    return df


def _int_or_float(values: list[Any]) -> np.ndarray | list[Any]:
    """int64 when every value is an integer, else float64 (missing as NaN), so that costs print as integers."""
    if all(type(v) is int for v in values):
        return np.asarray(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def load_trials(db: DB = None, study: str | Sequence[str] | None = None, *,
                states: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per trial of the studies asked (default: every study), read from one snapshot, read-only.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db), or a `Reader`.
        study: a study name or several (in that order); None for all, oldest first.
        states: keep only these states (spelled as `STATES`' values, e.g. {"COMPLETE"}).

    Returns:
        A DataFrame with the columns of the module docstring, ordered by study then number; the parameter names
        in `attrs["parameters"]`.

    Raises:
        FileNotFoundError: no database file there.
        LookupError: a study that is not in the database (the message names those that are).
    """
    names = study_names(study)
    keep = None if states is None else {s.upper() for s in states}
    if keep is not None:
        unknown = sorted(keep - set(STATES.values()))
        if unknown:
            raise InputError(f"states: unknown state {unknown[0]!r}; expected some of {', '.join(STATES.values())}")
    with snapshot(db) as (reader, conn):
        studies = _study_rows(reader, conn, names)
        if not studies:
            return _empty_trials()
        t = TrialRow
        cols = (t.study_id, t.number, t.state, t.point, _as_text(t.parameters), _as_text(t.values), t.macs,
                t.params, t.acts, t.val_acc, t.best_val_acc, t.test_acc, t.epochs_done, t.seed, t.repeat, t.node,
                t.seconds, _as_text(t.metrics), t.started, t.finished, t.attempts, t.config_key, t.key,
                t.netspec_hash, t.optuna_trial, t.error, _as_text(t.rejected_by), _as_text(t.scores))
        q = sa.select(*cols).where(t.study_id.in_([s.id for s in studies]))
        if keep is not None:
            q = q.where(t.state.in_([k for k, v in STATES.items() if v in keep]))
        rows = conn.execute(q.order_by(t.study_id, t.number)).all()
    if not rows:
        return _empty_trials()
    order = {s.id: i for i, s in enumerate(studies)}
    if len(studies) > 1 and names is not None:
        rows.sort(key=lambda r: (order[r[0]], r[1]))
    (sid, number, state, point, parameters, values, macs, params, acts, val_acc, best, test_acc, epochs, seed,
     repeat, node, seconds, metrics, started, finished, attempts, config_key, key, nhash, otrial, error,
     rejected, scores) = (list(c) for c in zip(*rows))
    parameters, values = _json_column(parameters), _json_column(values)
    metrics, rejected, scores = _json_column(metrics), _json_column(rejected), _json_column(scores)
    name_of = {s.id: s.name for s in studies}
    family_of = {s.id: study_family(s.spec_canonical) for s in studies}
    out: dict[str, Any] = {
        "study": [name_of[i] for i in sid], "number": np.asarray(number, dtype=np.int64),
        "state": [STATES.get(s, str(s).upper()) for s in state],
        "arch": [arch_label(p, pt, h) for p, pt, h in zip(parameters, point, nhash)],
        "family": [family_of[i] for i in sid], "point": point,
    }
    # every parameter, in the order first seen; a name that a fixed column holds becomes p_<name>
    pnames: dict[str, str] = {}
    for v in values:
        for k in v or ():
            if k not in pnames:
                pnames[k] = f"p_{k}" if k in TRIAL_COLUMNS else k
    pcols = {col: [None] * len(rows) for col in pnames.values()}
    for i, v in enumerate(values):
        for k, x in (v or {}).items():
            pcols[pnames[k]][i] = x
    for col, vals in pcols.items():
        out[col] = _parameter_column(vals)
    extra: dict[str, list[Any]] = {c: [None] * len(rows) for c in _METRIC_KEYS.values()}
    for i, m in enumerate(metrics):
        for k, x in (m or {}).items():
            col = _METRIC_KEYS.get(k)
            if col is not None:
                extra[col][i] = x
    out.update({"macs": macs, "params": params, "acts": acts, "latency_ms": extra["latency_ms"], "val_acc": val_acc,
                "best_val_acc": best, "test_acc": test_acc, "test_loss": extra["test_loss"], "epochs": epochs,
                "seed": seed, "repeat": repeat, "node": node, "device": extra["device"], "wall_s": seconds,
                "train_s": extra["train_s"], "total_s": extra["total_s"], "images_per_s": extra["images_per_s"],
                "steps": extra["steps"], "started_at": pd.to_datetime(started), "finished_at": pd.to_datetime(finished),
                "attempts": attempts, "config_key": config_key, "key": key, "netspec_hash": nhash,
                "optuna_trial": otrial, "error": error,
                "rejected_by": ["; ".join(map(str, r)) if r else None for r in rejected]})
    # training-free scores (scalesearch.train.scores), when the study has them: score_<name>, in the order first seen
    for name in dict.fromkeys(k for sc in scores for k in (sc or {}) if k != "error"):
        out[f"score_{name}"] = np.asarray([math.nan if (sc or {}).get(name) is None else sc[name] for sc in scores],
                                          dtype=float)
    for c in _INT_COLUMNS:
        out[c] = _int_or_float(out[c])
    for c in ("latency_ms", "val_acc", "best_val_acc", "test_acc", "test_loss", "wall_s", "train_s", "total_s",
              "images_per_s"):
        out[c] = np.asarray([math.nan if v is None else v for v in out[c]], dtype=float)
    df = pd.DataFrame(out)
    df.attrs["parameters"] = list(pnames.values())
    return df


def _parameter_column(vals: list[Any]) -> Any:
    """A parameter's values as a typed column: int64, float64 (NaN where a trial has no value) or objects."""
    present = [v for v in vals if v is not None]
    if present and all(type(v) is int for v in present):
        return np.asarray(vals, dtype=np.int64) if len(present) == len(vals) else \
            np.asarray([math.nan if v is None else v for v in vals], dtype=float)
    if present and all(type(v) in (int, float) for v in present):
        return np.asarray([math.nan if v is None else v for v in vals], dtype=float)
    if present and all(type(v) is bool for v in present) and len(present) == len(vals):
        return np.asarray(vals, dtype=bool)
    return pd.Series(vals, dtype=object)


# --------------------------------------------------------------------------------------------------------------
# Epochs and studies


def load_epochs(db: DB = None, study: str | Sequence[str] | None = None, number: int | None = None) -> pd.DataFrame:
    """Per-epoch metrics (learning curves): one row per (study, trial number, epoch), read-only.

    Args:
        db: as for `load_trials`.
        study: a study name or several; None for all.
        number: only this trial (of each study asked).

    Returns:
        A DataFrame with `EPOCH_COLUMNS`: the trial's study, number, label, family, config_key, repeat and state,
        then the epoch's `epoch`, `steps`, `lr`, `train_loss`, `train_acc`, `val_loss`, `val_acc`, `epoch_s`,
        `images_per_s` and `eval_s` (seconds of the epoch and of its evaluation).
    """
    names = study_names(study)
    with snapshot(db) as (reader, conn):
        studies = _study_rows(reader, conn, names)
        if not studies:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in EPOCH_COLUMNS})
        t, e = TrialRow, EpochRow
        q = (sa.select(t.study_id, t.number, t.point, _as_text(t.parameters), t.netspec_hash, t.config_key, t.repeat,
                       t.state, e.epoch, e.steps, e.lr, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds,
                       e.images_per_s, e.eval_seconds)
             .join(t, e.trial_id == t.id).where(t.study_id.in_([s.id for s in studies])))
        if number is not None:
            q = q.where(t.number == int(number))
        rows = conn.execute(q.order_by(t.study_id, t.number, e.epoch)).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EPOCH_COLUMNS})
    cols = [list(c) for c in zip(*rows)]
    name_of = {s.id: s.name for s in studies}
    family_of = {s.id: study_family(s.spec_canonical) for s in studies}
    params = _json_column(cols[3])
    df = pd.DataFrame({
        "study": [name_of[i] for i in cols[0]], "number": np.asarray(cols[1], dtype=np.int64),
        "arch": [arch_label(p, pt, h) for p, pt, h in zip(params, cols[2], cols[4])],
        "family": [family_of[i] for i in cols[0]], "config_key": cols[5], "repeat": cols[6],
        "state": [STATES.get(s, str(s).upper()) for s in cols[7]], "epoch": np.asarray(cols[8], dtype=np.int64),
        **{name: np.asarray([math.nan if v is None else v for v in cols[i]], dtype=float)
           for name, i in (("steps", 9), ("lr", 10), ("train_loss", 11), ("train_acc", 12), ("val_loss", 13),
                           ("val_acc", 14), ("epoch_s", 15), ("images_per_s", 16), ("eval_s", 17))}})
    if names is not None and len(studies) > 1:
        order = {s.name: i for i, s in enumerate(studies)}
        df = df.sort_values(["study", "number", "epoch"], key=lambda c: c.map(order) if c.name == "study" else c,
                            kind="stable").reset_index(drop=True)
    return df


def load_studies(db: DB = None) -> pd.DataFrame:
    """One row per study, oldest first: name, state, sampler, seed, repeats, objectives ("val_acc:max,macs:min"),
    family, trials by state (completed, failed, stopped, rejected, other), planned, runs, wall_s, created,
    updated, finished, message."""
    cols = ["study", "state", "sampler", "seed", "repeats", "objectives", "family", "trials", "completed", "failed",
            "stopped", "rejected", "other", "planned", "runs", "wall_s", "created", "updated", "finished", "message"]
    with snapshot(db) as (reader, conn):
        if not _has_tables(conn):
            return pd.DataFrame(columns=cols)
        s = StudyRow
        studies = conn.execute(sa.select(s.id, s.name, s.state, s.sampler, s.seed, s.repeats, s.objectives,
                                         s.spec_canonical, s.planned, s.runs, s.wall_seconds, s.created, s.updated,
                                         s.finished, s.message).order_by(s.id)).all()
        counts = conn.execute(sa.select(TrialRow.study_id, TrialRow.state, sa.func.count())
                              .group_by(TrialRow.study_id, TrialRow.state)).all()
    by: dict[int, dict[str, int]] = {}
    for sid, state, n in counts:
        by.setdefault(sid, {})[state] = int(n)
    rows = []
    for r in studies:
        c = by.get(r.id, {})
        named = {k: c.get(k, 0) for k in ("completed", "failed", "stopped", "rejected")}
        rows.append({"study": r.name, "state": r.state, "sampler": r.sampler, "seed": r.seed, "repeats": r.repeats,
                     "objectives": ",".join(f"{n}:{d}" for n, d in r.objectives),
                     "family": study_family(r.spec_canonical), "trials": sum(c.values()), **named,
                     "other": sum(c.values()) - sum(named.values()), "planned": r.planned, "runs": r.runs,
                     "wall_s": r.wall_seconds, "created": r.created, "updated": r.updated, "finished": r.finished,
                     "message": r.message})
    return pd.DataFrame(rows, columns=cols)
