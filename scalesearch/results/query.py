"""Selecting rows (the logic of `scalesearch query`): --where, --pareto, --sort, --columns, aggregation of
repeats per configuration, and `query`, which chains them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis import aggregate
from scalesearch.errors import InputError
from scalesearch.results.load import (
    DB,
    study_names,
    load_trials,
    open_reader,
    study_objectives,
)
from scalesearch.store import Reader

# --------------------------------------------------------------------------------------------------------------
# Repeats of one configuration


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


# --------------------------------------------------------------------------------------------------------------
# Selecting rows: --where, --pareto, --sort, --columns (the logic of `scalesearch query`)


def _python_values(col: pd.Series) -> list[Any]:
    """A column as plain Python values for `scalesearch.spec.expr` (int, float, bool, str; datetimes as ISO text),
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


def unknown_column(option: str, name: str, df: pd.DataFrame) -> InputError:
    """The InputError for an option naming a column `df` lacks (it lists the columns)."""
    return InputError(f"{option}: unknown column {name!r}; the columns are {', '.join(map(str, df.columns))}")


def filter_rows(df: pd.DataFrame, where: str, *, option: str = "--where") -> pd.DataFrame:
    """The rows for which a condition in the spec files' expression language (`scalesearch.spec.expr`) is true.

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
    from scalesearch.spec.expr import ExprError, parse_expr

    try:
        e = parse_expr(where)
    except ExprError as err:
        raise InputError(f"{option}: {err}") from None
    if e.kind == "num":
        raise InputError(f"{option}: {where.strip()!r} is a number, not a condition; expected a comparison such as "
                         "'val_acc > 0.9'")
    names = sorted(e.names)
    for n in names:
        if n not in df.columns:
            raise unknown_column(option, n, df)
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
            raise InputError(f"{option}: {err} (in row {_row_name(df, i)})") from None
        if type(r) is not bool:
            raise InputError(f"{option}: {where.strip()!r} gives {r!r}, not true or false; expected a condition "
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
            raise InputError(f"{option}: {part.strip()!r} is not COLUMN:max or COLUMN:min; expected e.g. "
                             "'val_acc:max,macs:min'")
        out["latency_ms" if name.strip() == "latency" else name.strip()] = direction
    if not 1 <= len(out) <= 3:
        raise InputError(f"{option}: {len(out)} objectives given; expected one to three")
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
            raise unknown_column(option, c, df)
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
        raise InputError(f"{option}: expected a column name, optionally with :asc or :desc")
    cols, asc = [], []
    for p in parts:
        name, sep, direction = p.partition(":")
        name, direction = name.strip(), direction.strip().lower()
        if name not in df.columns:
            raise unknown_column(option, name, df)
        if sep and direction not in ("asc", "desc"):
            raise InputError(f"{option}: {p!r}: the direction must be asc or desc")
        cols.append(name)
        asc.append(direction == "asc" if sep else "acc" not in name)
    return df.sort_values(cols, ascending=asc, kind="stable", na_position="last")


def select_columns(df: pd.DataFrame, columns: str | Sequence[str], *, option: str = "--columns") -> pd.DataFrame:
    """The named columns, in the order given (comma-separated or a list); an unknown name is a one-line error
    naming the columns there are."""
    names = [p.strip() for s in ([columns] if isinstance(columns, str) else columns) for p in s.split(",")
             if p.strip()]
    if not names:
        raise InputError(f"{option}: expected column names separated by commas")
    for n in names:
        if n not in df.columns:
            raise unknown_column(option, n, df)
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
    names = study_names(study)
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
            raise InputError(f"--top: expected an integer >= 1, got {top}")
        df = df.head(top)
    if columns is not None:
        df = select_columns(df, columns)
    df.attrs["parameters"] = [p for p in params if p in df.columns]
    df.attrs["total"] = total
    return df
