"""Repeats: Student t quantiles, aggregation over repeats (mean, se, t interval), log-spaced complexity bins."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import METRIC_COLUMNS, check_columns, complete_rows
from scalesearch.errors import InputError


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (`scipy.stats.t`; df = inf is the normal's).

    Example:
        >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, math.inf), 3)
        (2.776, 1.96)
    """
    from scipy.stats import (
        t as student_t,  # here, not at the top: importing scipy.stats takes about a second
    )

    if not 0.0 < p < 1.0:
        raise InputError(f"p: expected 0 < p < 1, got {p}")
    if not df > 0:
        raise InputError(f"df: expected > 0, got {df}")
    return float(student_t.ppf(p, df))


def welch(a: Any, b: Any) -> tuple[float, float, float]:
    """mean(a) - mean(b) of two independent samples with Welch's standard error and degrees of freedom (with zero
    variance in both, the pooled n_a + n_b - 2); NaN se and df where a side has fewer than two values.

    Example:
        >>> d, se, df = welch([1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
        >>> round(d, 3), round(se, 3), round(df, 2)
        (0.0, 1.155, 3.2)
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(xa.mean() - xb.mean()) if len(xa) and len(xb) else math.nan
    if len(xa) < 2 or len(xb) < 2:
        return diff, math.nan, math.nan
    va, vb = float(xa.var(ddof=1)) / len(xa), float(xb.var(ddof=1)) / len(xb)
    df = (va + vb) ** 2 / (va ** 2 / (len(xa) - 1) + vb ** 2 / (len(xb) - 1)) if va + vb > 0 else \
        float(len(xa) + len(xb) - 2)
    return diff, math.sqrt(va + vb), float(df)


def aggregate(df: pd.DataFrame, by: str | Sequence[str] = "config_key", metrics: Sequence[str] | None = None, *,
              level: float = 0.95, complete_only: bool = True) -> pd.DataFrame:
    """Collapse the repeats of each configuration: mean, standard error, n and a t interval per metric.

    For each metric m the result has `m_mean`, `m_std` (ddof 1), `m_se` = std / sqrt(n), `m_n` (non-NaN values)
    and `m_lo`, `m_hi` = mean -+ t_{(1+level)/2, n-1} * se (NaN when n < 2). `n` counts the group's rows used (the
    "COMPLETE" ones when `complete_only` and a `state` column exist) and `n_incomplete` the others; when `df` has a
    column `n` of its own (a parameter, as in `depth: "6 * n + 2"`), the count is called `n_trials` instead, so
    that the column keeps its name and values. Columns that
    are constant within every group (costs, parameters, family, arch, ...) are carried along; per-trial columns
    that vary (number, seed, times) are dropped. Groups keep their order of first appearance.

    Args:
        df: trials, one row each.
        by: the column(s) naming a configuration.
        metrics: the metric columns; default the `METRIC_COLUMNS` present.
        level: the interval's coverage.
        complete_only: use only "COMPLETE" rows for the statistics.

    Returns:
        One row per configuration.

    Example:
        >>> t = pd.DataFrame({"config_key": ["a", "a", "a", "b"], "macs": [5, 5, 5, 9],
        ...                   "val_acc": [0.80, 0.82, 0.84, 0.9]})
        >>> row = aggregate(t).iloc[0]
        >>> [round(float(row[c]), 4) for c in ("val_acc_mean", "val_acc_se", "val_acc_n", "val_acc_hi")]
        [0.82, 0.0115, 3.0, 0.8697]
    """
    by = [by] if isinstance(by, str) else list(by)
    check_columns(df, by, "group column")
    metrics = [m for m in METRIC_COLUMNS if m in df.columns] if metrics is None else list(metrics)
    check_columns(df, metrics, "metric")
    if not 0.0 < level < 1.0:
        raise InputError(f"level: expected 0 < level < 1, got {level}")
    done = complete_rows(df, complete_only)
    keys = df[by].drop_duplicates()
    out = keys.reset_index(drop=True)
    g_all = df.groupby(by, sort=False, dropna=False)
    g = done.groupby(by, sort=False, dropna=False)

    def per_group(series: pd.Series, fill: float = 0) -> np.ndarray:
        idx = pd.MultiIndex.from_frame(out[by]) if len(by) > 1 else pd.Index(out[by[0]])
        return series.reindex(idx).fillna(fill).to_numpy()

    n = per_group(g.size()).astype(int)
    out["n_trials" if "n" in df.columns else "n"] = n
    if "state" in df.columns and complete_only:
        out["n_incomplete"] = per_group(g_all.size()).astype(int) - n
    skip = set(by) | set(metrics) | {"number", "seed", "repeat", "state"}
    for c in df.columns:
        if c in skip:
            continue
        nun = g_all[c].nunique(dropna=False)
        if (nun <= 1).all():
            first = g_all[c].first()
            out[c] = first.reindex(pd.MultiIndex.from_frame(out[by]) if len(by) > 1 else pd.Index(out[by[0]])
                                   ).to_numpy()
    tcache: dict[int, float] = {}

    def tq_of(c: int) -> float:
        if c < 2:
            return math.nan
        if c not in tcache:
            tcache[c] = t_quantile((1 + level) / 2, c - 1)
        return tcache[c]

    for m in metrics:
        vals = pd.to_numeric(done[m], errors="coerce")
        gm = vals.groupby([done[b] for b in by], sort=False, dropna=False)
        cnt = per_group(gm.count()).astype(int)
        mean = per_group(gm.mean(), np.nan)
        std = per_group(gm.std(ddof=1), np.nan)
        se = std / np.sqrt(np.where(cnt > 0, cnt, np.nan))
        tq = np.array([tq_of(int(c)) for c in cnt])
        out[f"{m}_mean"], out[f"{m}_std"], out[f"{m}_se"], out[f"{m}_n"] = mean, std, se, cnt
        out[f"{m}_lo"], out[f"{m}_hi"] = mean - tq * se, mean + tq * se
    return out


def complexity_bins(values: Any, *, per_decade: int = 4, edges: Sequence[float] | None = None) -> pd.Series:
    """Log-spaced complexity bins (e.g. of MACs) as a categorical of intervals, for iso-complexity grouping.

    Default edges are 10**(i / per_decade) for integer i, so bins line up across studies; non-positive or NaN
    values get NaN.

    Args:
        values: MACs (or params, acts) per row; a Series keeps its index.
        per_decade: bins per factor of 10 (4: each bin spans a factor of 1.78).
        edges: explicit increasing edges instead.

    Returns:
        A categorical Series of `pd.Interval` (left-closed) bins.

    Example:
        >>> complexity_bins([1.0e6, 1.5e6, 2.0e6], per_decade=4).astype(str).tolist()
        ['[1000000.0, 1778279.41)', '[1000000.0, 1778279.41)', '[1778279.41, 3162277.66)']
    """
    idx = values.index if isinstance(values, pd.Series) else None
    v = np.asarray(values, dtype=float)
    if edges is None:
        if per_decade < 1:
            raise InputError(f"per_decade: expected >= 1, got {per_decade}")
        pos = v[np.isfinite(v) & (v > 0)]
        if len(pos) == 0:
            return pd.Series(pd.Categorical([np.nan] * len(v)), index=idx)
        lo = math.floor(math.log10(pos.min()) * per_decade)
        hi = math.floor(math.log10(pos.max()) * per_decade) + 1
        edge_arr = np.round(10.0 ** (np.arange(lo, hi + 1) / per_decade), 2)
    else:
        edge_arr = np.asarray(edges, dtype=float)
        if edge_arr.ndim != 1 or len(edge_arr) < 2 or np.any(np.diff(edge_arr) <= 0):
            raise InputError("edges: expected at least two increasing values")
    v = np.where(v > 0, v, np.nan)
    return pd.Series(pd.cut(v, edge_arr, right=False), index=idx)
