"""The read side of the results database as pandas: one row per trial, one row per epoch, one row per study.

`load_trials` reads a study's trials (or every study's) from one consistent snapshot of the database, opened
read-only (SQLite with `mode=ro` and `query_only`; PostgreSQL in a READ ONLY transaction), and returns one row per
trial:

    study, number, state        the study's name, the trial's number in it, its state (see `STATES`)
    arch, family, point         a short label (the named point, else the sampled values), the architecture
                                family of the study's spec, the named point ("baseline", ...) or None
    <parameters>                every parameter of the spec, one column each (sampled, derived and matched
                                values); a parameter whose name is taken by a column below is called `p_<name>`
    macs, params, acts          the analytic cost (MACs, not FLOPs), `latency_ms` when measured
    val_acc, best_val_acc, test_acc, test_loss, epochs
                                validation accuracy after the last epoch run, its best, the test accuracy (when
                                the spec asks for it), epochs run
    seed, repeat, node, device  the training seed, the repeat of the configuration, the host and device
    wall_s, train_s, total_s, images_per_s, steps, started_at, finished_at, attempts
                                times (seconds) and throughput
    config_key, key, netspec_hash, optuna_trial, error, rejected_by
                                ids (`config_key` groups the repeats of one configuration) and failure reasons

States are spelled as `scalesearch.analysis` and Optuna spell them: the store's completed, failed, stopped (by
ASHA), rejected, queued, running and interrupted become COMPLETE, FAILED, PRUNED, REJECTED, QUEUED, RUNNING and
INTERRUPTED. Only COMPLETE trials count for fronts and statistics.

`load_epochs` gives the learning curves, `load_studies` one row per study, `aggregate` (from
`scalesearch.analysis`) collapses the repeats of each configuration. Nothing here writes.

Example:
    >>> import os, tempfile
    >>> from scalesearch.store import Store
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "r.db")
    >>> st = Store(url)
    >>> _ = st.create_study(name="demo", spec_text="study: demo", spec_canonical="study: demo", spec_hash="h",
    ...                     seed=0, sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
    >>> _ = st.queue_trial("demo", {"key": "k0", "config_key": "c0", "parameters": {"n": 1}, "values": {"n": 1},
    ...                             "macs": 1000, "params": 10, "acts": 5, "seed": 3, "repeat": 0})
    >>> _ = st.finish_trial("demo", "k0", "completed", val_acc=0.5)
    >>> load_trials(url)[["study", "number", "state", "arch", "n", "macs", "val_acc"]].to_dict("records")
    [{'study': 'demo', 'number': 0, 'state': 'COMPLETE', 'arch': 'n=1', 'n': 1, 'macs': 1000, 'val_acc': 0.5}]
"""

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

from scalesearch.analysis import aggregate
from scalesearch.store import Reader, describe_url
from scalesearch.store.models import EpochRow, StudyRow, TrialRow

__all__ = ["EPOCH_COLUMNS", "STATES", "TRIAL_COLUMNS", "aggregate", "aggregate_configs", "arch_label", "filter_rows",
           "front_objectives", "load_epochs", "load_studies", "load_trials", "open_reader", "parameter_names", "pareto_rows",
           "parse_objectives", "query", "select_columns", "sort_rows", "study_family", "study_objectives"]

DB = Union[str, "os.PathLike[str]", Reader, None]

STATES: Mapping[str, str] = {"completed": "COMPLETE", "failed": "FAILED", "stopped": "PRUNED",
                             "rejected": "REJECTED", "queued": "QUEUED", "running": "RUNNING",
                             "interrupted": "INTERRUPTED"}

# Columns of `load_trials` around the parameters, in order (parameters come after `point`).
_HEAD = ("study", "number", "state", "arch", "family", "point")
_TAIL = ("macs", "params", "acts", "latency_ms", "val_acc", "best_val_acc", "test_acc", "test_loss", "epochs",
         "seed", "repeat", "node", "device", "wall_s", "train_s", "total_s", "images_per_s", "steps", "started_at",
         "finished_at", "attempts", "config_key", "key", "netspec_hash", "optuna_trial", "error", "rejected_by")
TRIAL_COLUMNS: tuple[str, ...] = _HEAD + _TAIL
EPOCH_COLUMNS: tuple[str, ...] = ("study", "number", "arch", "family", "config_key", "repeat", "state", "epoch",
                                  "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_s",
                                  "images_per_s", "eval_s")
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
def _snapshot(db: DB) -> Iterator[tuple[Reader, sa.Connection]]:
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


def _names(study: str | Sequence[str] | None) -> list[str] | None:
    if study is None:
        return None
    names = [study] if isinstance(study, str) else list(study)
    for n in names:
        if not isinstance(n, str) or not n:
            raise ValueError(f"study: expected study names, got {n!r}")
    return list(dict.fromkeys(names))


def _study_rows(reader: Reader, conn: sa.Connection, names: list[str] | None) -> list[Any]:
    """The selected studies' rows (id, name, spec_canonical, objectives), in the order asked (else oldest first);
    LookupError naming the studies there are for a name that is not one."""
    if not _has_tables(conn):
        if names:
            raise LookupError(f"no study {names[0]!r} in {describe_url(reader.url)} (it holds no scalesearch study)")
        return []
    cols = (StudyRow.id, StudyRow.name, StudyRow.spec_canonical, StudyRow.objectives)
    rows = conn.execute(sa.select(*cols).order_by(StudyRow.id)).all()
    if names is None:
        return rows
    by_name = {r.name: r for r in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        there = f"studies there: {', '.join(by_name)}" if by_name else "it holds no study"
        raise LookupError(f"no study {missing[0]!r} in {describe_url(reader.url)} ({there})")
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
    with _snapshot(db) as (reader, conn):
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
            and not str(c).endswith(stats)]


# --------------------------------------------------------------------------------------------------------------
# Trials


def aggregate_configs(df: pd.DataFrame, metrics: Sequence[str] | None = None, *,
                      level: float = 0.95) -> pd.DataFrame:
    """One row per configuration of each study: `aggregate` by (study, config_key), with the counts named
    `n_complete` (the COMPLETE trials the statistics use) and `n_incomplete`, so that a parameter called `n`
    (`depth: "6 * n + 2"`) keeps its name and value.

    Returns:
        Per metric m: `m_mean`, `m_std`, `m_se`, `m_n`, `m_lo`, `m_hi` (a t interval at `level`); the columns
        constant within a configuration (parameters, costs, arch, family); `n_complete`, `n_incomplete`.

    Example:
        >>> t = pd.DataFrame({"study": "s", "config_key": ["a", "a", "b"], "n": [1, 1, 2], "state": "COMPLETE",
        ...                   "val_acc": [0.8, 0.9, 0.7]})
        >>> aggregate_configs(t)[["n", "n_complete", "val_acc_mean"]].round(3).to_dict("list")
        {'n': [1, 2], 'n_complete': [2, 1], 'val_acc_mean': [0.85, 0.7]}
    """
    taken = [c for c in ("n", "n_incomplete", "n_complete") if c in df.columns]
    tmp = {c: f"__param_{c}" for c in taken}
    out = aggregate(df.rename(columns=tmp), by=["study", "config_key"], metrics=metrics, level=level)
    out = out.rename(columns={"n": "n_complete"}).rename(columns={v: k for k, v in tmp.items()})
    if "n_incomplete" not in out.columns:
        out["n_incomplete"] = 0
    lead = [c for c in out.columns if c not in ("n_complete", "n_incomplete")]
    pos = next((i for i, c in enumerate(lead) if str(c).endswith("_mean")), len(lead))
    out = out[lead[:pos] + ["n_complete", "n_incomplete"] + lead[pos:]]
    out.attrs = {"parameters": [p for p in df.attrs.get("parameters", []) if p in out.columns]}
    return out


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
    names = _names(study)
    keep = None if states is None else {s.upper() for s in states}
    if keep is not None:
        unknown = sorted(keep - set(STATES.values()))
        if unknown:
            raise ValueError(f"states: unknown state {unknown[0]!r}; expected some of {', '.join(STATES.values())}")
    with _snapshot(db) as (reader, conn):
        studies = _study_rows(reader, conn, names)
        if not studies:
            return _empty_trials()
        t = TrialRow
        cols = (t.study_id, t.number, t.state, t.point, _as_text(t.parameters), _as_text(t.values), t.macs,
                t.params, t.acts, t.val_acc, t.best_val_acc, t.test_acc, t.epochs_done, t.seed, t.repeat, t.node,
                t.seconds, _as_text(t.metrics), t.started, t.finished, t.attempts, t.config_key, t.key,
                t.netspec_hash, t.optuna_trial, t.error, _as_text(t.rejected_by))
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
     rejected) = (list(c) for c in zip(*rows))
    parameters, values = _json_column(parameters), _json_column(values)
    metrics, rejected = _json_column(metrics), _json_column(rejected)
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
    names = _names(study)
    with _snapshot(db) as (reader, conn):
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
    with _snapshot(db) as (reader, conn):
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


# --------------------------------------------------------------------------------------------------------------
# Selecting rows: --where, --pareto, --sort, --columns (the logic of `scalesearch query`)


def _python_values(col: pd.Series) -> list[Any]:
    """A column as plain Python values for `scalesearch.expr` (int, float, bool, str; datetimes as ISO text),
    None where there is no value."""
    kind = col.dtype.kind
    if kind == "M":
        return [None if pd.isna(v) else v.isoformat() for v in col]
    if kind in "iub":
        return col.tolist()
    if kind == "f":
        return [None if v != v else v for v in col.tolist()]
    out = []
    for v in col.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        elif isinstance(v, pd.Timestamp):
            out.append(v.isoformat())
        else:
            out.append(v)
    return out


def _unknown_column(option: str, name: str, df: pd.DataFrame) -> ValueError:
    return ValueError(f"{option}: unknown column {name!r}; the columns are {', '.join(map(str, df.columns))}")


def filter_rows(df: pd.DataFrame, where: str, *, option: str = "--where") -> pd.DataFrame:
    """The rows for which a condition in the spec files' expression language (`scalesearch.expr`) is true.

    The condition reads columns by name (`val_acc > 0.9 and macs < 1e8`, `family == 'cifar_resnet'`,
    `started_at >= '2025-06-01'`: datetimes compare as ISO text). It is parsed against expr's whitelist and
    evaluated row by row on the values, never turned into SQL. A row whose named columns hold no value (NaN, None:
    the accuracy of a rejected trial) does not match, as in SQL.

    Args:
        df: trials (or any table).
        where: the condition.
        option: the option name used in error messages.

    Returns:
        The matching rows (the index kept).

    Raises:
        ValueError: one line: a syntax or whitelist error, an unknown column (naming the columns there are), an
            arithmetic expression instead of a condition, or a value the condition cannot compare.

    Example:
        >>> t = pd.DataFrame({"arch": ["a", "b", "c"], "val_acc": [0.9, float("nan"), 0.7], "macs": [5, 6, 7]})
        >>> filter_rows(t, "val_acc > 0.8 or macs == 7")["arch"].tolist()
        ['a', 'c']
    """
    from scalesearch.expr import ExprError, parse_expr

    try:
        e = parse_expr(where)
    except ExprError as err:
        raise ValueError(f"{option}: {err}") from None
    if e.kind == "num":
        raise ValueError(f"{option}: {where.strip()!r} is a number, not a condition; expected a comparison such as "
                         "'val_acc > 0.9'")
    names = sorted(e.names)
    for n in names:
        if n not in df.columns:
            raise _unknown_column(option, n, df)
    columns = [_python_values(df[n]) for n in names]
    mask = np.zeros(len(df), dtype=bool)
    env: dict[str, Any] = {}
    for i, vals in enumerate(zip(*columns) if names else ((),) * len(df)):
        if None in vals:
            continue
        env.update(zip(names, vals))
        try:
            r = e(env)
        except ExprError as err:
            raise ValueError(f"{option}: {err} (in row {_row_name(df, i)})") from None
        if type(r) is not bool:
            raise ValueError(f"{option}: {where.strip()!r} gives {r!r}, not true or false; expected a condition "
                             "such as 'val_acc > 0.9'")
        mask[i] = r
    return df[mask]


def _row_name(df: pd.DataFrame, i: int) -> str:
    if "study" in df.columns and "number" in df.columns:
        return f"{df['study'].iloc[i]} #{df['number'].iloc[i]}"
    return str(df.index[i])


def parse_objectives(text: str, *, option: str = "--objectives") -> dict[str, str]:
    """"val_acc:max,macs:min" as {"val_acc": "max", "macs": "min"} (two or three objectives).

    Example:
        >>> parse_objectives("val_acc:max, macs:min")
        {'val_acc': 'max', 'macs': 'min'}
    """
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, direction = part.strip().partition(":")
        direction = direction.strip().lower()
        if not name.strip() or not sep or direction not in ("max", "min"):
            raise ValueError(f"{option}: {part.strip()!r} is not COLUMN:max or COLUMN:min; expected e.g. "
                             "'val_acc:max,macs:min'")
        out["latency_ms" if name.strip() == "latency" else name.strip()] = direction
    if not 1 <= len(out) <= 3:
        raise ValueError(f"{option}: {len(out)} objectives given; expected one to three")
    return out


def front_objectives(declared: Mapping[str, str], *, aggregated: bool = False, add_cost: bool = True) -> dict[str, str]:
    """The objectives of a Pareto front: the declared ones, with `macs: min` added when only one metric is
    declared and `add_cost` (accuracy against cost is the front people read), metrics as `<m>_mean` for
    aggregated rows.

    Example:
        >>> front_objectives({"val_acc": "max"}, aggregated=True)
        {'val_acc_mean': 'max', 'macs': 'min'}
    """
    from scalesearch.analysis import COST_COLUMNS

    obj = dict(declared)
    if add_cost and len(obj) == 1 and next(iter(obj)) not in COST_COLUMNS:
        obj["macs"] = "min"
    if aggregated:
        obj = {(k if k in COST_COLUMNS else f"{k}_mean"): d for k, d in obj.items()}
    return obj


def pareto_rows(df: pd.DataFrame, objectives: Mapping[str, str], *, by: str | None = "study",
                option: str = "--pareto") -> pd.DataFrame:
    """The rows on the Pareto front of each `by` group (each study), in their original order.

    Uses `scalesearch.analysis.pareto_mask`: only COMPLETE rows with every objective count (aggregated rows,
    which have no `state`, count when their means exist); exact duplicates of a front point are all on it.

    Args:
        df: trials or aggregated configurations.
        objectives: {column: "max"|"min"}.
        by: the group column, or None for one front over all rows.
        option: the option named in error messages.
    """
    from scalesearch.analysis import pareto_mask

    for c in objectives:
        if c not in df.columns:
            raise _unknown_column(option, c, df)
    if df.empty:
        return df
    mask = np.zeros(len(df), dtype=bool)
    if by is None or by not in df.columns:
        mask = pareto_mask(df, dict(objectives))
    else:
        codes = pd.factorize(df[by])[0]
        for g in np.unique(codes):
            sel = codes == g
            mask[sel] = pareto_mask(df[sel], dict(objectives))
    return df[mask]


def sort_rows(df: pd.DataFrame, sort: str | Sequence[str], *, option: str = "--sort") -> pd.DataFrame:
    """Rows sorted by columns given as "COL", "COL:asc" or "COL:desc" (comma-separated or a list).

    Without a direction an accuracy (a name containing "acc") sorts descending, the best first, and anything
    else ascending. Missing values go last; ties keep their order.

    Example:
        >>> t = pd.DataFrame({"arch": ["a", "b", "c"], "val_acc": [0.7, 0.9, 0.8], "macs": [3, 1, 2]})
        >>> sort_rows(t, "val_acc")["arch"].tolist(), sort_rows(t, "macs:desc")["arch"].tolist()
        (['b', 'c', 'a'], ['a', 'c', 'b'])
    """
    parts = [p.strip() for s in ([sort] if isinstance(sort, str) else sort) for p in s.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"{option}: expected a column name, optionally with :asc or :desc")
    cols, asc = [], []
    for p in parts:
        name, sep, direction = p.partition(":")
        name, direction = name.strip(), direction.strip().lower()
        if name not in df.columns:
            raise _unknown_column(option, name, df)
        if sep and direction not in ("asc", "desc"):
            raise ValueError(f"{option}: {p!r}: the direction must be asc or desc")
        cols.append(name)
        asc.append(direction == "asc" if sep else "acc" not in name)
    return df.sort_values(cols, ascending=asc, kind="stable", na_position="last")


def select_columns(df: pd.DataFrame, columns: str | Sequence[str], *, option: str = "--columns") -> pd.DataFrame:
    """The named columns, in the order given (comma-separated or a list); an unknown name is a one-line error
    naming the columns there are."""
    names = [p.strip() for s in ([columns] if isinstance(columns, str) else columns) for p in s.split(",")
             if p.strip()]
    if not names:
        raise ValueError(f"{option}: expected column names separated by commas")
    for n in names:
        if n not in df.columns:
            raise _unknown_column(option, n, df)
    out = df[list(dict.fromkeys(names))]
    out.attrs = dict(df.attrs)
    return out


def query(db: DB = None, study: str | Sequence[str] | None = None, *, where: str | None = None,
          sort: str | Sequence[str] | None = None, columns: str | Sequence[str] | None = None,
          top: int | None = None, pareto: bool = False, aggregate_repeats: bool = False,
          objectives: Mapping[str, str] | None = None) -> pd.DataFrame:
    """What `scalesearch query` prints, as a DataFrame: trials (or configurations) filtered, fronted, sorted.

    Steps, in order: load the trials (`load_trials`); with `aggregate_repeats` collapse the repeats of each
    configuration (`aggregate_configs`: `<metric>_mean`, `_se`, `_lo`, `_hi`, `n_complete`, ...); keep
    the rows where `where` holds (`filter_rows`); with `pareto` keep each study's Pareto front (its declared
    objectives, or `objectives`; see `front_objectives`); sort (`sort_rows`; default: study and number, or study
    and MACs for a front); keep the first `top`; keep `columns`.

    Args:
        db: as for `load_trials`.
        study: study names, None for every study.
        where: a condition over the columns (`filter_rows`).
        sort: columns to sort by ("COL[:asc|desc]", comma-separated).
        columns: the columns to keep, in order.
        top: keep the first `top` rows (after sorting).
        pareto: keep the Pareto-optimal rows of each study.
        aggregate_repeats: one row per configuration.
        objectives: the front's objectives instead of each study's own (as given: no cost is added).

    Returns:
        The DataFrame (`attrs["parameters"]` names the parameter columns, `attrs["total"]` the rows before
        filtering).
    """
    names = _names(study)
    reader = open_reader(db)
    try:
        df = load_trials(reader, names)
        params = df.attrs.get("parameters", [])
        if aggregate_repeats:
            df = aggregate_configs(df) if len(df) else df
        total = len(df)
        if where is not None:
            df = filter_rows(df, where)
        if pareto and len(df):
            parts = []
            for s in dict.fromkeys(df["study"].tolist()):
                obj = front_objectives(objectives or study_objectives(reader, s), aggregated=aggregate_repeats,
                                       add_cost=objectives is None)
                parts.append(pareto_rows(df[df["study"] == s], obj))
            df = pd.concat(parts) if parts else df.iloc[:0]
            if sort is None:
                cost = next((c for c in ("macs", "params", "acts", "latency_ms") if c in df.columns), None)
                if cost is not None:
                    df = df.assign(_study_order=pd.factorize(df["study"])[0]).sort_values(
                        ["_study_order", cost], kind="stable").drop(columns="_study_order")
    finally:
        if not isinstance(db, Reader):
            reader.close()
    if sort is not None:
        df = sort_rows(df, sort)
    if top is not None:
        if top < 1:
            raise ValueError(f"--top: expected an integer >= 1, got {top}")
        df = df.head(top)
    if columns is not None:
        df = select_columns(df, columns)
    df.attrs["parameters"] = [p for p in params if p in df.columns]
    df.attrs["total"] = total
    return df
