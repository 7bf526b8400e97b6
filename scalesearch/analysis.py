"""Analysis of search results: Pareto fronts, hypervolume, repeats, iso-complexity comparisons, EDFs, scaling laws.

Everything here works on plain numpy arrays or on the pandas DataFrame the store's reader returns: one row per
trial with `study`, `number`, `state` ("COMPLETE", "FAILED", "PRUNED", "REJECTED", ...), one column per spec
parameter, the costs `macs`, `params`, `acts`, metrics such as `val_acc`, `test_acc`, `train_loss`, and `seed`,
`repeat`, `family`, `arch` (a short architecture label) and `config_key` (one configuration across its repeats).
Only numpy and pandas are imported: no torch, ray or optuna.

Conventions:
    directions   "min" or "max" per objective ("minimize"/"maximize" are accepted too).
    dominance    a dominates b when a is at least as good in every objective and strictly better in one.
    complete     DataFrame functions consider only rows whose `state` is "COMPLETE" when that column exists
                 (as Optuna's `best_trials` does), and never rows with NaN in a column they use.
    error        the error of an accuracy metric (a name containing "acc", as a fraction) is 1 - accuracy; any
                 other metric (a loss, an error) is used as it is (`to_error`).
    randomness   every bootstrap draws from `np.random.default_rng(seed)`: equal inputs give equal outputs.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arch": ["a", "b", "c", "d"], "macs": [1e6, 2e6, 2e6, 4e6],
    ...                    "val_acc": [0.80, 0.85, 0.83, 0.85], "state": ["COMPLETE"] * 4})
    >>> pareto_front(df)["arch"].tolist()
    ['a', 'b']
    >>> hypervolume([[1, 3], [2, 2], [3, 1]], reference=[4, 4], directions=["min", "min"])
    6.0
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist
from typing import Any, Literal, Union

import numpy as np
import pandas as pd

COMPLETE = "COMPLETE"
DEFAULT_OBJECTIVES: Mapping[str, str] = {"val_acc": "max", "macs": "min"}
METRIC_COLUMNS = ("val_acc", "test_acc", "train_acc", "val_loss", "test_loss", "train_loss")
COST_COLUMNS = ("macs", "params", "acts", "latency", "latency_ms")
ID_COLUMNS = ("study", "number", "state", "seed", "repeat", "family", "arch", "config_key", "key", "hash",
              "spec_hash", "node", "error", "message", "epochs", "epoch", "duration", "wall_time")

ArrayLike = Union[np.ndarray, Sequence[Sequence[float]], pd.DataFrame]
Objectives = Union[Mapping[str, str], Sequence[str], None]

_DIRECTIONS = {"min": 1.0, "minimize": 1.0, "max": -1.0, "maximize": -1.0}


# --------------------------------------------------------------------------------------------------------------
# Columns and directions


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """The columns of a trials DataFrame that are spec parameters: all but ids, costs, metrics and times.

    A heuristic on names (ids, `COST_COLUMNS`, `METRIC_COLUMNS`, and names ending in `_acc`, `_loss`, `_at`,
    `_s`, `_time`); pass parameter names explicitly where it matters.

    Example:
        >>> parameter_columns(pd.DataFrame(columns=["study", "alpha", "macs", "val_acc", "depth", "started_at"]))
        ['alpha', 'depth']
    """
    reserved = set(ID_COLUMNS) | set(COST_COLUMNS) | set(METRIC_COLUMNS)
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


def _signs(directions: Iterable[str]) -> np.ndarray:
    out = []
    for d in directions:
        if not isinstance(d, str) or d.lower() not in _DIRECTIONS:
            raise ValueError(f"direction {d!r}: expected 'min' or 'max'")
        out.append(_DIRECTIONS[d.lower()])
    return np.asarray(out, dtype=float)


def _check_columns(df: pd.DataFrame, cols: Iterable[str], what: str = "column") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"unknown {what} {missing[0]!r}: the DataFrame has {', '.join(map(str, df.columns))}")


def _complete(df: pd.DataFrame, complete_only: bool) -> pd.DataFrame:
    if complete_only and "state" in df.columns:
        return df[df["state"].astype(str) == COMPLETE]
    return df


def _objective_matrix(data: ArrayLike, objectives: Objectives,
                      complete_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values as minimisation, candidate mask) for a DataFrame and a mapping, or an array and directions."""
    if isinstance(data, pd.DataFrame):
        objectives = DEFAULT_OBJECTIVES if objectives is None else objectives
        if not isinstance(objectives, Mapping):
            raise ValueError("objectives: expected a mapping column -> 'min'|'max' for a DataFrame")
        cols = list(objectives)
        _check_columns(data, cols, "objective")
        values = data[cols].to_numpy(dtype=float)
        signs = _signs(objectives.values())
        ok = np.ones(len(data), dtype=bool)
        if complete_only and "state" in data.columns:
            ok &= (data["state"].astype(str) == COMPLETE).to_numpy()
    else:
        values = np.asarray(data, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"points: expected a 2-D array (n, objectives), got shape {values.shape}")
        dirs = (list(objectives.values()) if isinstance(objectives, Mapping)
                else ["min"] * values.shape[1] if objectives is None else list(objectives))
        if len(dirs) != values.shape[1]:
            raise ValueError(f"directions: {len(dirs)} given for {values.shape[1]} objectives")
        signs = _signs(dirs)
        ok = np.ones(len(values), dtype=bool)
    if values.shape[1] < 1:
        raise ValueError("objectives: at least one is needed")
    ok &= ~np.isnan(values).any(axis=1)
    return values * signs, ok


# --------------------------------------------------------------------------------------------------------------
# Pareto front


def _front_unique_sorted(u: np.ndarray) -> np.ndarray:
    """Non-dominated rows of unique, lexicographically sorted rows (all objectives minimised).

    Sorted this way no row can be dominated by a later one, so row j is dominated exactly when an earlier row is
    <= it in objectives 2..k. 2-D: a running minimum. 3-D: a sweep over a staircase of the (y, z) points kept so
    far (y ascending, z strictly descending) held in two lists searched by bisection, O(n log n) comparisons.
    More objectives: Optuna's elimination loop, O(n * front size).
    """
    n, k = u.shape
    on = np.zeros(n, dtype=bool)
    if n == 0:
        return on
    if k == 1:
        on[0] = True
    elif k == 2:
        cummin = np.minimum.accumulate(u[:, 1])
        on[0] = True
        on[1:] = u[1:, 1] < cummin[:-1]
    elif k == 3:
        keys: list[float] = []
        vals: list[float] = []
        for i, (y, z) in enumerate(zip(u[:, 1].tolist(), u[:, 2].tolist())):
            j = bisect_right(keys, y)
            if j and vals[j - 1] <= z:
                continue  # an earlier point is <= in y and z (and in x, by the sort): dominated
            on[i] = True
            lo = bisect_left(keys, y, 0, j)
            hi = lo
            while hi < len(vals) and vals[hi] >= z:
                hi += 1  # points with y' >= y and z' >= z are now redundant on the staircase
            keys[lo:hi] = [y]
            vals[lo:hi] = [z]
    else:
        rest = u[:, 1:]
        remaining = np.arange(n)
        while len(remaining):
            top = remaining[0]
            on[top] = True
            remaining = remaining[np.any(rest[remaining] < rest[top], axis=1)]
    return on


def _unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows in lexicographic order, the index of each input row among them): np.unique(axis=0), faster."""
    order = np.lexsort(values.T[::-1])
    s = values[order]
    new = np.ones(len(s), dtype=bool)
    new[1:] = np.any(s[1:] != s[:-1], axis=1)
    inv = np.empty(len(s), dtype=np.intp)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def _front_mask_min(values: np.ndarray) -> np.ndarray:
    """Front membership of each row of a NaN-free minimisation matrix; duplicates share their fate."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    u, inv = _unique_rows(values)
    return _front_unique_sorted(u)[inv]


def pareto_mask(data: ArrayLike, objectives: Objectives = None, *, complete_only: bool = True) -> np.ndarray:
    """Which rows are on the Pareto front (non-dominated among the candidates).

    Exact duplicates of a front point are all on the front, as in Optuna's `Study.best_trials`; a point tied with a
    front point in some objectives but worse in another is dominated. Rows that are not candidates (NaN in an
    objective, or a `state` other than "COMPLETE") are never on the front and dominate nothing.

    Args:
        data: a DataFrame (then `objectives` maps column -> direction, default `{"val_acc": "max", "macs": "min"}`)
            or an (n, k) array (then `objectives` is a sequence of k directions, default all "min").
        objectives: the objectives and their directions.
        complete_only: for a DataFrame with a `state` column, consider only "COMPLETE" rows.

    Returns:
        A boolean array, one entry per row.

    Example:
        >>> pareto_mask([[1, 5], [2, 3], [2, 3], [3, 3], [4, 1]], ["min", "min"]).tolist()
        [True, True, True, False, True]
    """
    values, ok = _objective_matrix(data, objectives, complete_only)
    mask = np.zeros(len(values), dtype=bool)
    mask[ok] = _front_mask_min(values[ok])
    return mask


def pareto_front(data: ArrayLike, objectives: Objectives = None, *,
                 complete_only: bool = True) -> pd.DataFrame | np.ndarray:
    """The rows of `data` on the Pareto front, in their original order (see `pareto_mask` for the rules).

    Args:
        data: a DataFrame or an (n, k) array.
        objectives: column -> direction for a DataFrame (default `{"val_acc": "max", "macs": "min"}`), a sequence
            of directions for an array (default all "min").
        complete_only: for a DataFrame with a `state` column, consider only "COMPLETE" rows.

    Returns:
        The front rows: a DataFrame (original index kept) or an array.

    Example:
        >>> pareto_front(np.array([[0.9, 10], [0.8, 5], [0.7, 7]]), ["max", "min"]).tolist()
        [[0.9, 10.0], [0.8, 5.0]]
    """
    mask = pareto_mask(data, objectives, complete_only=complete_only)
    if isinstance(data, pd.DataFrame):
        return data[mask]
    return np.asarray(data, dtype=float)[mask]


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether point a dominates point b (at least as good everywhere, strictly better somewhere).

    Example:
        >>> dominates([0.9, 1e6], [0.9, 2e6], ["max", "min"]), dominates([0.9, 1e6], [0.9, 1e6], ["max", "min"])
        (True, False)
    """
    s = _signs(directions)
    x, y = np.asarray(a, dtype=float) * s, np.asarray(b, dtype=float) * s
    return bool(np.all(x <= y) and np.any(x < y))


def is_dominated(points: ArrayLike, by: ArrayLike | None = None, directions: Sequence[str] | None = None, *,
                 block: int = 1 << 20) -> np.ndarray:
    """For each row of `points`, whether some row of `by` dominates it.

    Dominance is transitive, so only the front of `by` is compared: O(n * front size) in blocks of `block`
    comparisons. With `by=None` the points are compared with themselves (the complement of the front, NaN rows
    counted as dominated).

    Args:
        points: (n, k) array.
        by: (m, k) array of candidate dominators (NaN rows ignored), or None.
        directions: k directions, default all "min".
        block: comparisons per vectorised block (memory bound).

    Returns:
        A boolean array of length n.

    Example:
        >>> is_dominated([[2, 2], [0, 5], [1, 1]], by=[[1, 1], [3, 0]]).tolist()
        [True, False, False]
    """
    p = np.asarray(points, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"points: expected a 2-D array, got shape {p.shape}")
    dirs = ["min"] * p.shape[1] if directions is None else list(directions)
    if by is None:
        return ~pareto_mask(p, dirs)
    q = np.asarray(by, dtype=float)
    if q.ndim != 2 or q.shape[1] != p.shape[1]:
        raise ValueError(f"by: expected shape (m, {p.shape[1]}), got {q.shape}")
    s = _signs(dirs)
    front = np.unique(q[pareto_mask(q, dirs)] * s, axis=0)
    p = p * s
    out = np.zeros(len(p), dtype=bool)
    if len(front) == 0:
        return out
    step = max(1, block // max(1, len(front) * p.shape[1]))
    for i in range(0, len(p), step):
        blk = p[i:i + step, None, :]
        le = np.all(front[None] <= blk, axis=2)
        lt = np.any(front[None] < blk, axis=2)
        out[i:i + step] = np.any(le & lt, axis=1)
    return out


# --------------------------------------------------------------------------------------------------------------
# Hypervolume


def _staircase_insert(keys: list[float], vals: list[float], x: float, y: float, rx: float, ry: float,
                      area: float) -> float:
    """Add (x, y) to a 2-D minimisation staircase; return the dominated area up to (rx, ry) afterwards."""
    j = bisect_right(keys, x)
    if j and vals[j - 1] <= y:
        return area
    lo = bisect_left(keys, x, 0, j)
    hi = lo
    while hi < len(vals) and vals[hi] >= y:
        hi += 1
    start = max(lo - 1, 0)

    def terms(i0: int, i1: int) -> float:
        return sum(((keys[i + 1] if i + 1 < len(keys) else rx) - keys[i]) * (ry - vals[i]) for i in range(i0, i1))

    old = terms(start, hi)
    keys[lo:hi] = [x]
    vals[lo:hi] = [y]
    return area - old + terms(start, lo + 1)


def hypervolume(points: ArrayLike, reference: Sequence[float], directions: Sequence[str] | None = None) -> float:
    """Exact hypervolume dominated by `points` and bounded by `reference`, in 1, 2 or 3 objectives.

    Only points strictly better than the reference in every objective contribute. 2-D is a sweep over the
    staircase; 3-D slices along the third objective and keeps the 2-D staircase area up to date as points are
    added (O(n log n) plus list moves). The volume is in the objectives' own units: transform them first (e.g.
    log10 of MACs) when that is the scale that matters.

    Args:
        points: (n, k) array, k in 1..3.
        reference: the reference point (worse than every point of interest).
        directions: k directions, default all "min".

    Returns:
        The hypervolume (0.0 when no point beats the reference).

    Example:
        >>> hypervolume([[0.9, 2.0], [0.8, 1.0]], reference=[0.5, 4.0], directions=["max", "min"])
        1.1
    """
    p = np.asarray(points, dtype=float)
    if p.ndim == 1:
        p = p.reshape(1, -1) if p.size else p.reshape(0, len(reference))
    k = p.shape[1]
    r = np.asarray(reference, dtype=float)
    if r.shape != (k,):
        raise ValueError(f"reference: expected {k} values, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise ValueError("reference: must be finite")
    if k > 3:
        raise ValueError(f"hypervolume: {k} objectives, supported are 1, 2 or 3")
    s = _signs(["min"] * k if directions is None else directions)
    if len(s) != k:
        raise ValueError(f"directions: {len(s)} given for {k} objectives")
    p, r = p * s, r * s
    p = p[~np.isnan(p).any(axis=1)]
    p = p[np.all(p < r, axis=1)]
    if len(p) == 0:
        return 0.0
    if np.isinf(p).any():
        return math.inf
    if k == 1:
        return float(r[0] - p[:, 0].min())
    if k == 2:
        f = np.unique(p[_front_mask_min(p)], axis=0)  # x ascending, so y descending
        xs = np.append(f[:, 0], r[0])
        return float(np.sum(np.diff(xs) * (r[1] - f[:, 1])))
    p = p[np.argsort(p[:, 2], kind="stable")]
    keys: list[float] = []
    vals: list[float] = []
    area, volume = 0.0, 0.0
    zs = np.append(p[:, 2], r[2])
    for i, (x, y) in enumerate(zip(p[:, 0].tolist(), p[:, 1].tolist())):
        area = _staircase_insert(keys, vals, x, y, float(r[0]), float(r[1]), area)
        volume += area * float(zs[i + 1] - zs[i])
    return float(volume)


# --------------------------------------------------------------------------------------------------------------
# Repeats: mean, standard error, t interval


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def _t_quantile_exact(p: float, df: float) -> float:
    """Student t quantile from its CDF (incomplete beta) by bisection: no scipy needed, |error| < 1e-9."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_t_quantile_exact(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (scipy's when installed, else computed here).

    Example:
        >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, math.inf), 3)
        (2.776, 1.96)
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: expected 0 < p < 1, got {p}")
    if not df > 0:
        raise ValueError(f"df: expected > 0, got {df}")
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    try:
        from scipy.stats import t as student_t
    except ImportError:
        return _t_quantile_exact(p, df)
    return float(student_t.ppf(p, df))


def aggregate(df: pd.DataFrame, by: str | Sequence[str] = "config_key", metrics: Sequence[str] | None = None, *,
              level: float = 0.95, complete_only: bool = True) -> pd.DataFrame:
    """Collapse the repeats of each configuration: mean, standard error, n and a t interval per metric.

    For each metric m the result has `m_mean`, `m_std` (ddof 1), `m_se` = std / sqrt(n), `m_n` (non-NaN values)
    and `m_lo`, `m_hi` = mean -+ t_{(1+level)/2, n-1} * se (NaN when n < 2). `n` counts the group's rows used (the
    "COMPLETE" ones when `complete_only` and a `state` column exist) and `n_incomplete` the others. Columns that
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
    _check_columns(df, by, "group column")
    metrics = [m for m in METRIC_COLUMNS if m in df.columns] if metrics is None else list(metrics)
    _check_columns(df, metrics, "metric")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected 0 < level < 1, got {level}")
    done = _complete(df, complete_only)
    keys = df[by].drop_duplicates()
    out = keys.reset_index(drop=True)
    g_all = df.groupby(by, sort=False, dropna=False)
    g = done.groupby(by, sort=False, dropna=False)

    def per_group(series: pd.Series, fill: float = 0) -> np.ndarray:
        idx = pd.MultiIndex.from_frame(out[by]) if len(by) > 1 else pd.Index(out[by[0]])
        return series.reindex(idx).fillna(fill).to_numpy()

    n = per_group(g.size()).astype(int)
    out["n"] = n
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


# --------------------------------------------------------------------------------------------------------------
# Iso-complexity comparisons


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
            raise ValueError(f"per_decade: expected >= 1, got {per_decade}")
        pos = v[np.isfinite(v) & (v > 0)]
        if len(pos) == 0:
            return pd.Series(pd.Categorical([np.nan] * len(v)), index=idx)
        lo = math.floor(math.log10(pos.min()) * per_decade)
        hi = math.floor(math.log10(pos.max()) * per_decade) + 1
        edge_arr = np.round(10.0 ** (np.arange(lo, hi + 1) / per_decade), 2)
    else:
        edge_arr = np.asarray(edges, dtype=float)
        if edge_arr.ndim != 1 or len(edge_arr) < 2 or np.any(np.diff(edge_arr) <= 0):
            raise ValueError("edges: expected at least two increasing values")
    v = np.where(v > 0, v, np.nan)
    return pd.Series(pd.cut(v, edge_arr, right=False), index=idx)


def match_pairs(df: pd.DataFrame, arm: str, baseline: Any, *, on: str = "macs", rtol: float = 0.1,
                key: str = "config_key") -> pd.Series:
    """Match each configuration of every other arm to the baseline configuration of nearest complexity.

    A configuration (one `key`) of a non-baseline arm is matched to the baseline configuration whose `on` value
    is nearest on a log scale, if within a factor (1 + rtol); the group label of its rows is the baseline
    configuration's key, and baseline rows are labelled with their own key. Unmatched rows get NaN. Use the result
    as the `by` column of `compare`.

    Args:
        df: trials.
        arm: the column naming the arm (e.g. "strategy", "family").
        baseline: the baseline arm's value.
        on: the complexity column.
        rtol: the largest relative complexity gap accepted.
        key: the configuration column.

    Returns:
        A Series of group labels aligned with `df`.

    Example:
        >>> t = pd.DataFrame({"strategy": ["base", "base", "deep", "wide", "wide"],
        ...                   "config_key": ["b1", "b2", "d1", "w1", "w2"], "macs": [1e6, 2e6, 2.1e6, 1.05e6, 9e6]})
        >>> match_pairs(t, "strategy", "base").tolist()
        ['b1', 'b2', 'b2', 'b1', nan]
    """
    _check_columns(df, [arm, on, key])
    if rtol < 0:
        raise ValueError(f"rtol: expected >= 0, got {rtol}")
    is_base = (df[arm] == baseline).to_numpy()
    if not is_base.any():
        raise ValueError(f"baseline {baseline!r}: no row has {arm} == {baseline!r}")
    base = df[is_base].groupby(key, sort=False)[on].median()
    blog = np.log(base.to_numpy(dtype=float))
    cfg = df[~is_base].groupby(key, sort=False)[on].median()
    labels: dict[Any, Any] = {k: k for k in base.index}
    for k, v in cfg.items():
        gap = np.abs(blog - math.log(v)) if v > 0 else np.full(len(blog), np.inf)
        i = int(np.argmin(gap))
        if gap[i] <= math.log1p(rtol) + 1e-12:
            labels[k] = base.index[i]
    out = df[key].map(lambda k: labels.get(k, np.nan))
    out[~is_base & ~df[key].isin([k for k in cfg.index if k in labels])] = np.nan
    return out.rename("match")


def _boot_ci(draws: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))


_COMPARE_COLUMNS = ("arm", "baseline", "metric", "n", "n_baseline", "mean", "mean_baseline", "diff", "lo", "hi",
                    "se", "paired", "n_pairs", "method", "ci_level")


def compare(df: pd.DataFrame, arm: str, metric: str = "val_acc", *, baseline: Any = None,
            by: str | Sequence[str] | pd.Series | None = None, seed_col: str = "seed",
            paired: bool | Literal["auto"] = "auto", method: Literal["bootstrap", "t"] = "bootstrap",
            n_boot: int = 4000, level: float = 0.95, seed: int = 0, complete_only: bool = True) -> pd.DataFrame:
    """Differences of a metric between arms within iso-complexity groups, with intervals over seeds.

    Within each group (`by`: a MACs bin from `complexity_bins`, a matched pair from `match_pairs`, or a design
    level such as phi) every arm is compared with the baseline arm (or, with `baseline=None`, every pair of arms
    in order of first appearance). An arm's value at one seed is the mean of its rows with that seed in the group.
    When both arms have the same seeds (at least two) the comparison is paired: the interval is over the per-seed
    differences, resampling seeds. Otherwise the two arms' seeds are resampled independently. `method="t"` gives
    a Student t interval (paired) or Welch's instead of the percentile bootstrap: with 3-5 seeds the percentile
    bootstrap is too narrow, and the t interval is the honest one.

    Args:
        df: trials.
        arm: the column naming the arms.
        metric: the compared metric (diff = arm - baseline, in its units).
        baseline: the baseline arm, or None for all pairs.
        by: the grouping column(s) or a Series aligned with `df`; None for one group.
        seed_col: the seed column (without it, each row is one independent sample).
        paired: "auto" (paired when the seed sets are equal), True (pair on the shared seeds) or False.
        method: "bootstrap" (percentile) or "t".
        n_boot: bootstrap resamples.
        level: the interval's coverage.
        seed: the bootstrap's random seed.
        complete_only: use only "COMPLETE" rows.

    Returns:
        A tidy DataFrame, one row per (group, arm, baseline): the group columns, `arm`, `baseline`, `metric`, `n`
        and `n_baseline` (seeds or rows), `mean`, `mean_baseline`, `diff`, `lo`, `hi` (NaN when a side has fewer
        than two values), `se`, `paired`, `n_pairs`, `method`, `ci_level`.

    Example:
        >>> t = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "seed": [0, 1, 2, 3] * 2,
        ...                   "val_acc": [0.90, 0.91, 0.92, 0.93, 0.88, 0.90, 0.90, 0.92]})
        >>> r = compare(t, "arm", baseline="b").iloc[0]
        >>> r.arm, round(float(r["diff"]), 3), bool(r.paired), bool(r.lo > 0)
        ('a', 0.015, True, True)
    """
    if method not in ("bootstrap", "t"):
        raise ValueError(f"method {method!r}: expected 'bootstrap' or 't'")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected 0 < level < 1, got {level}")
    _check_columns(df, [arm, metric])
    d = df.copy()
    group_cols: list[str]
    if by is None:
        group_cols = []
    elif isinstance(by, pd.Series):
        name = "group" if by.name is None else str(by.name)
        d[name] = by.reindex(d.index)
        group_cols = [name]
    else:
        group_cols = [by] if isinstance(by, str) else list(by)
        _check_columns(d, group_cols, "group column")
    clash = [c for c in group_cols if c in _COMPARE_COLUMNS]
    if clash:
        raise ValueError(f"by: group column {clash[0]!r} clashes with a result column; rename it")
    d = _complete(d, complete_only)
    d = d[d[metric].notna()]
    has_seed = seed_col in d.columns
    rng = np.random.default_rng(seed)
    rows = []
    groups = d.groupby(group_cols, sort=True, observed=True, dropna=True) if group_cols else [((), d)]
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        arms = list(dict.fromkeys(g[arm].tolist()))
        if baseline is None:
            pairs = list(combinations(arms, 2))
        else:
            pairs = [(a, baseline) for a in arms if a != baseline] if baseline in arms else []
        per_arm = {}
        for a in arms:
            ga = g[g[arm] == a]
            per_arm[a] = (ga.groupby(seed_col)[metric].mean() if has_seed
                          else pd.Series(ga[metric].to_numpy(dtype=float)))
        for a, b in pairs:
            va, vb = per_arm[a], per_arm[b]
            shared = va.index.intersection(vb.index) if has_seed else pd.Index([])
            same = has_seed and set(va.index) == set(vb.index)
            use_pair = (paired is True and len(shared) >= 2) or (paired == "auto" and same and len(shared) >= 2)
            if use_pair:
                diffs = (va.loc[shared] - vb.loc[shared]).to_numpy(dtype=float)
                diff, m = float(diffs.mean()), len(diffs)
                if method == "t":
                    se = float(diffs.std(ddof=1) / math.sqrt(m))
                    h = t_quantile((1 + level) / 2, m - 1) * se
                    lo, hi = diff - h, diff + h
                else:
                    draws = diffs[rng.integers(0, m, size=(n_boot, m))].mean(axis=1)
                    lo, hi = _boot_ci(draws, level)
                    se = float(draws.std(ddof=1))
            else:
                xa, xb = va.to_numpy(dtype=float), vb.to_numpy(dtype=float)
                diff, m = float(xa.mean() - xb.mean()), 0
                if len(xa) < 2 or len(xb) < 2:
                    lo = hi = se = math.nan
                elif method == "t":
                    sa, sb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
                    se = math.sqrt(sa + sb)
                    dof = ((sa + sb) ** 2 / (sa ** 2 / (len(xa) - 1) + sb ** 2 / (len(xb) - 1))
                           if sa + sb > 0 else len(xa) + len(xb) - 2)
                    h = t_quantile((1 + level) / 2, dof) * se
                    lo, hi = diff - h, diff + h
                else:
                    da = xa[rng.integers(0, len(xa), size=(n_boot, len(xa)))].mean(axis=1)
                    db = xb[rng.integers(0, len(xb), size=(n_boot, len(xb)))].mean(axis=1)
                    lo, hi = _boot_ci(da - db, level)
                    se = float((da - db).std(ddof=1))
            rows.append((*gkey, a, b, metric, len(va), len(vb), float(va.mean()), float(vb.mean()), diff, lo, hi,
                         se, bool(use_pair), m, method, level))
    cols = [*group_cols, *_COMPARE_COLUMNS]
    return pd.DataFrame(rows, columns=cols)


@dataclass(frozen=True)
class Verdict:
    """The outcome of testing a claimed difference at a budget.

    `label` is "reproduced", "not reproduced" or "inconclusive"; `diff`, `lo`, `hi` are oriented so that positive
    is the claimed direction; `detectable` is the smallest true difference this run would detect with the stated
    power (from the interval's width); `min_effect` is the smallest difference that matters.
    """

    label: str
    diff: float
    lo: float
    hi: float
    min_effect: float
    detectable: float
    power: float
    level: float

    def __str__(self) -> str:
        return (f"{self.label}: difference {self.diff:+.4g} [{self.lo:+.4g}, {self.hi:+.4g}] "
                f"({self.level:.0%} interval); smallest effect that matters {self.min_effect:.4g}; "
                f"smallest detectable at {self.power:.0%} power {self.detectable:.4g}")


def verdict(diff_ci: Sequence[float] | Mapping[str, float] | pd.Series, min_effect: float, *,
            claim: Literal["greater", "less"] = "greater", level: float = 0.95, power: float = 0.8) -> Verdict:
    """Decide whether a claimed difference was reproduced, from its interval.

    With the difference oriented so that the claim says it is positive ("greater"; `claim="less"` flips signs):
    "reproduced" when the interval lies above zero; "not reproduced" when it lies below `min_effect` (the run rules
    out an effect as large as the smallest one that matters, including a significant effect the other way);
    "inconclusive" otherwise (the interval holds both zero and `min_effect`), and when it is NaN. The smallest
    detectable difference is (z_{(1+level)/2} + z_{power}) * se with se = half-width / z_{(1+level)/2}, a normal
    approximation from the interval's width.

    Args:
        diff_ci: (lo, hi), (diff, lo, hi), or a mapping / row with `diff`, `lo`, `hi` (a row of `compare`).
        min_effect: the smallest difference that matters (>= 0), in the metric's units.
        claim: the paper's direction of the difference.
        level: the interval's coverage.
        power: for the detectable difference.

    Returns:
        A Verdict.

    Example:
        >>> verdict((0.004, 0.001, 0.007), 0.002).label, verdict((-0.001, 0.001), 0.002).label
        ('reproduced', 'not reproduced')
        >>> v = verdict((-0.002, 0.004), 0.003)
        >>> v.label, round(v.detectable, 4)
        ('inconclusive', 0.0043)
    """
    if isinstance(diff_ci, (Mapping, pd.Series)):
        lo, hi = float(diff_ci["lo"]), float(diff_ci["hi"])
        diff = float(diff_ci["diff"]) if "diff" in diff_ci else (lo + hi) / 2
    else:
        vals = [float(v) for v in diff_ci]
        if len(vals) == 2:
            (lo, hi), diff = vals, (vals[0] + vals[1]) / 2
        elif len(vals) == 3:
            diff, lo, hi = vals
        else:
            raise ValueError(f"diff_ci: expected (lo, hi) or (diff, lo, hi), got {len(vals)} values")
    if not min_effect >= 0:
        raise ValueError(f"min_effect: expected >= 0, got {min_effect}")
    if claim not in ("greater", "less"):
        raise ValueError(f"claim {claim!r}: expected 'greater' or 'less'")
    if claim == "less":
        diff, lo, hi = -diff, -hi, -lo
    z = NormalDist().inv_cdf((1 + level) / 2)
    detectable = (z + NormalDist().inv_cdf(power)) * (hi - lo) / (2 * z)
    if math.isnan(lo) or math.isnan(hi):
        label = "inconclusive"
    elif lo > 0:
        label = "reproduced"
    elif hi < min_effect:
        label = "not reproduced"
    else:
        label = "inconclusive"
    return Verdict(label, diff, lo, hi, float(min_effect), float(detectable), power, level)


def verdicts(comparisons: pd.DataFrame, min_effect: float, *, claim: Literal["greater", "less"] = "greater",
             power: float = 0.8) -> pd.DataFrame:
    """`compare`'s table with `verdict` and `detectable` columns added (each row's own `ci_level` is used).

    Example:
        >>> c = pd.DataFrame({"diff": [0.01, 0.0], "lo": [0.005, -0.01], "hi": [0.015, 0.01], "ci_level": 0.95})
        >>> verdicts(c, 0.005)["verdict"].tolist()
        ['reproduced', 'inconclusive']
    """
    out = comparisons.copy()
    vs = [verdict(r, min_effect, claim=claim, level=float(r.get("ci_level", 0.95)), power=power)
          for _, r in comparisons.iterrows()]
    out["verdict"] = [v.label for v in vs]
    out["detectable"] = [v.detectable for v in vs]
    return out


# --------------------------------------------------------------------------------------------------------------
# EDFs of error (Radosavovic et al., "Designing Network Design Spaces")


def complexity_weights(values: Any, *, per_decade: int = 4) -> np.ndarray:
    """Weights that give every occupied log-complexity bin the same total mass (summing to 1).

    Weighting a design space's models this way before taking its error EDF removes the effect of its complexity
    distribution, as the normalised EDFs of Radosavovic et al. do.

    Example:
        >>> complexity_weights([1e6, 1.1e6, 1.2e6, 1e8]).round(3).tolist()
        [0.167, 0.167, 0.167, 0.5]
    """
    bins = complexity_bins(pd.Series(np.asarray(values, dtype=float)), per_decade=per_decade)
    codes = bins.cat.codes.to_numpy()
    ok = codes >= 0
    w = np.zeros(len(codes))
    if ok.any():
        counts = np.bincount(codes[ok])
        w[ok] = 1.0 / counts[codes[ok]]
        w /= w.sum()
    return w


def edf(values: Any, grid: Any = None, *, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted empirical CDF F(e) = sum_i w_i [v_i <= e] / sum_i w_i, evaluated on a grid (default: the values).

    Example:
        >>> x, f = edf([0.3, 0.1, 0.2, 0.2])
        >>> x.tolist(), f.tolist()
        ([0.1, 0.2, 0.3], [0.25, 0.75, 1.0])
    """
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    keep = ~np.isnan(v) & ~np.isnan(w)
    v, w = v[keep], w[keep]
    x = np.unique(v) if grid is None else np.asarray(grid, dtype=float)
    if len(v) == 0 or w.sum() <= 0:
        return x, np.full(len(x), np.nan)
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    pos = np.searchsorted(v[order], x, side="right")
    f = np.where(pos > 0, cw[np.maximum(pos - 1, 0)], 0.0) / cw[-1]
    return x, f


def error_edf(data: pd.DataFrame | Any, metric: str = "val_acc", *,
              weights: Literal["complexity"] | Any | None = None, complexity: str = "macs",
              complexity_range: tuple[float, float] | None = None, per_decade: int = 4, grid: Any = None,
              max_points: int = 1000, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
              complete_only: bool = True) -> pd.DataFrame:
    """The EDF of error of a set of models with pointwise bootstrap bands.

    Models are resampled with replacement `n_boot` times (with their weights) and the band at each grid point is
    the percentile interval of the resampled EDFs.

    Args:
        data: trials (a DataFrame, whose `metric` becomes error through `to_error`) or the error values.
        metric: the metric column of a DataFrame.
        weights: None (equal), "complexity" (`complexity_weights` of the `complexity` column: the normalised EDF)
            or one weight per row.
        complexity: the complexity column (for weights and range).
        complexity_range: keep models with lo <= complexity <= hi.
        per_decade: bins per decade for complexity weights.
        grid: the error values to evaluate at; default the distinct errors (up to `max_points`, else a
            `max_points` linear grid over their range).
        max_points: see grid.
        n_boot: bootstrap resamples (0: no bands).
        level: the band's pointwise coverage.
        seed: the bootstrap's random seed.
        complete_only: use only "COMPLETE" rows.

    Returns:
        A DataFrame with columns `error`, `edf`, and `lo`, `hi` when n_boot > 0; `n` in `attrs`.

    Example:
        >>> e = error_edf([0.1, 0.2, 0.2, 0.4], n_boot=0)
        >>> e["edf"].tolist()
        [0.25, 0.75, 1.0]
    """
    if isinstance(data, pd.DataFrame):
        d = _complete(data, complete_only)
        _check_columns(d, [metric])
        if complexity_range is not None or (isinstance(weights, str) and weights == "complexity"):
            _check_columns(d, [complexity], "complexity column")
        if complexity_range is not None:
            c = d[complexity].astype(float)
            d = d[(c >= complexity_range[0]) & (c <= complexity_range[1])]
        err = to_error(d[metric], metric)
        if isinstance(weights, str):
            if weights != "complexity":
                raise ValueError(f"weights {weights!r}: expected 'complexity', None or one weight per row")
            w = complexity_weights(d[complexity], per_decade=per_decade)
        else:
            w = None if weights is None else pd.Series(np.asarray(weights, dtype=float), index=data.index).loc[
                d.index].to_numpy()
    else:
        if isinstance(weights, str) or complexity_range is not None:
            raise ValueError("weights='complexity' and complexity_range need a DataFrame with a complexity column")
        err = np.asarray(data, dtype=float)
        w = None if weights is None else np.asarray(weights, dtype=float)
    w = np.ones_like(err) if w is None else w
    keep = ~np.isnan(err) & ~np.isnan(w)
    err, w = err[keep], w[keep]
    if grid is None:
        u = np.unique(err)
        grid = u if len(u) <= max_points else np.linspace(u[0], u[-1], max_points)
    x, f = edf(err, grid, weights=w)
    out = pd.DataFrame({"error": x, "edf": f})
    out.attrs["n"] = len(err)
    if n_boot > 0 and len(err) > 0:
        rng = np.random.default_rng(seed)
        pos = np.searchsorted(x, err, side="left")  # err_i <= x[j] exactly for j >= pos_i
        curves = np.empty((n_boot, len(x)))
        n = len(err)
        for b in range(n_boot):
            idx = rng.integers(0, n, size=n)
            c = np.cumsum(np.bincount(pos[idx], weights=w[idx], minlength=len(x) + 1)[:len(x)])
            tot = w[idx].sum()
            curves[b] = c / tot if tot > 0 else np.nan
        a = (1 - level) / 2
        out["lo"] = np.nanquantile(curves, a, axis=0)
        out["hi"] = np.nanquantile(curves, 1 - a, axis=0)
    return out


# --------------------------------------------------------------------------------------------------------------
# Scaling laws: error vs MACs


@dataclass(frozen=True)
class PowerLaw:
    """err = a * x**b + c, fitted by least squares on log(err); c = 0 unless fitted with an offset.

    `x0` is the geometric mean of the fitted x (the fit is computed in x / x0 for conditioning), `rmse` the
    root-mean-square residual of log(err) on the fitted points, `n` their number.
    """

    a: float
    b: float
    c: float
    x0: float
    n: int
    rmse: float
    offset: bool

    def predict(self, x: Any) -> np.ndarray:
        """The predicted error at x."""
        return self.a * np.asarray(x, dtype=float) ** self.b + self.c


def _lm_log_fit(u: np.ndarray, ly: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """Levenberg-Marquardt on r = log(exp(alpha + b*u) + c) - log y over theta = (alpha, b, c), c kept >= 0."""

    def resid(t: np.ndarray) -> np.ndarray:
        return np.log(np.exp(t[0] + t[1] * u) + t[2]) - ly

    lam = 1e-3
    r = resid(theta)
    s = float(r @ r)
    for _ in range(200):
        p = np.exp(theta[0] + theta[1] * u)
        f = p + theta[2]
        jac = np.stack([p / f, p * u / f, 1.0 / f], axis=1)
        jtj, g = jac.T @ jac, jac.T @ r
        improved = False
        for _ in range(30):
            step = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj) + 1e-12), -g)
            t_new = theta + step
            t_new[2] = max(t_new[2], 0.0)
            r_new = resid(t_new)
            s_new = float(r_new @ r_new)
            if np.isfinite(s_new) and s_new < s:
                theta, r, lam, improved = t_new, r_new, max(lam / 3, 1e-12), True
                break
            lam *= 4
        if not improved or abs(s - s_new) < 1e-14 * max(1.0, s):
            break
        s = s_new
    return theta, float(r @ r)


def fit_power_law(x: Any, err: Any, *, offset: bool = False) -> PowerLaw:
    """Fit err = a * x**b (+ c) by least squares on log(err).

    Without an offset this is ordinary least squares of log(err) on log(x) (a line in log-log axes), which is
    what a few points (3-4 scaling steps) support. With `offset=True` the irreducible error c >= 0 is fitted too:
    a profile over c (log(err - c) linear in log(x)) picks the start and Levenberg-Marquardt refines (log a, b, c)
    on the same log-space objective; it needs at least 4 points.

    Args:
        x: complexity (MACs, params, ...), > 0.
        err: error, > 0.
        offset: fit c as well.

    Returns:
        A PowerLaw.

    Example:
        >>> x = np.array([1e6, 1e7, 1e8])
        >>> p = fit_power_law(x, 3.0 * x ** -0.25)
        >>> round(p.a, 6), round(p.b, 6), p.c
        (3.0, -0.25, 0.0)
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(err, dtype=float)
    keep = ~np.isnan(xs) & ~np.isnan(ys)
    xs, ys = xs[keep], ys[keep]
    if np.any(xs <= 0) or np.any(ys <= 0):
        raise ValueError("fit_power_law: x and err must be positive")
    need = 4 if offset else 2
    if len(np.unique(xs)) < need - (1 if offset else 0) or len(xs) < need:
        raise ValueError(f"fit_power_law: needs at least {need} points over distinct x, got {len(xs)}")
    x0 = float(np.exp(np.log(xs).mean()))
    u, ly = np.log(xs / x0), np.log(ys)
    design = np.stack([np.ones_like(u), u], axis=1)

    def linear(c: float) -> tuple[np.ndarray, float]:
        coef, *_ = np.linalg.lstsq(design, np.log(ys - c), rcond=None)
        r = np.log(np.exp(coef[0] + coef[1] * u) + c) - ly
        return coef, float(r @ r)

    if not offset:
        coef, sse = linear(0.0)
        theta = np.array([coef[0], coef[1], 0.0])
    else:
        m = float(ys.min())
        cands = [m * (1 - 0.8 ** k) for k in range(0, 60)]
        best = min(cands, key=lambda c: linear(c)[1])
        coef, _ = linear(best)
        theta, sse = _lm_log_fit(u, ly, np.array([coef[0], coef[1], best]))
    a = float(np.exp(theta[0]) * x0 ** (-theta[1]))
    return PowerLaw(a=a, b=float(theta[1]), c=float(theta[2]), x0=x0, n=len(xs),
                    rmse=math.sqrt(sse / len(xs)), offset=offset)


@dataclass(frozen=True)
class ScalingFit:
    """Power-law fits per group and every point with its prediction.

    `fits`: one row per group: the group column, `a`, `b`, `c`, `n_fit`, `n_held_out`, `x_max_fit`, `rmse_fit`
    (log-error residual), `rmse_held_out` and `mape_held_out` (mean |predicted - observed| / observed on the
    held-out points), and `law` (the PowerLaw). `points`: the input rows' group, `x`, `error`, `predicted`,
    `residual` (error - predicted), `rel_error` ((predicted - error) / error) and `held_out`.
    """

    fits: pd.DataFrame
    points: pd.DataFrame

    def law(self, group: Any) -> PowerLaw:
        """The fitted PowerLaw of one group."""
        row = self.fits[self.fits["group"] == group]
        if row.empty:
            raise ValueError(f"group {group!r}: fitted groups are {self.fits['group'].tolist()}")
        return row["law"].iloc[0]


def fit_scaling(df: pd.DataFrame, metric: str = "val_acc", *, x: str = "macs", by: str | None = "family",
                fit_on: float | str | Sequence[bool] | pd.Series | None = None, offset: bool = False,
                complete_only: bool = True) -> ScalingFit:
    """Fit error vs complexity per group (family or scaling strategy) on a subset and predict the rest.

    Args:
        df: trials (or aggregated means: any rows with `x` and `metric`).
        metric: an accuracy (error = 1 - acc) or an error/loss (used as is).
        x: the complexity column.
        by: the group column, None for one group "all".
        fit_on: which rows to fit on; None: all; a float q in (0, 1]: per group the rows at the smallest
            ceil(q * k) of its k distinct x values (fit small, test large); a boolean column name or mask aligned
            with `df` (e.g. `df.phi <= 2`).
        offset: fit an irreducible error too (see `fit_power_law`).
        complete_only: use only "COMPLETE" rows.

    Returns:
        A ScalingFit (groups too small to fit get NaN parameters and no law).

    Example:
        >>> t = pd.DataFrame({"family": "w", "macs": [1e6, 2e6, 4e6, 8e6]})
        >>> t["val_acc"] = 1 - 2 * t.macs ** -0.2
        >>> fit = fit_scaling(t, fit_on=0.75)
        >>> f = fit.fits.iloc[0]
        >>> round(float(f.b), 6), int(f.n_fit), int(f.n_held_out), round(float(f.mape_held_out), 9)
        (-0.2, 3, 1, 0.0)
    """
    if by is not None:
        _check_columns(df, [by], "group column")
    _check_columns(df, [x, metric])
    if isinstance(fit_on, str):
        _check_columns(df, [fit_on], "fit_on column")
        mask_all = df[fit_on].astype(bool)
    elif fit_on is None or isinstance(fit_on, (int, float)) and not isinstance(fit_on, bool):
        mask_all = None
    else:
        mask_all = pd.Series(np.asarray(fit_on, dtype=bool), index=df.index) \
            if not isinstance(fit_on, pd.Series) else fit_on.reindex(df.index).fillna(False).astype(bool)
    if isinstance(fit_on, float) and not 0 < fit_on <= 1:
        raise ValueError(f"fit_on: a fraction must be in (0, 1], got {fit_on}")
    d = _complete(df, complete_only)
    xs = d[x].astype(float)
    err = pd.Series(to_error(d[metric], metric), index=d.index)
    ok = xs.notna() & err.notna()
    d, xs, err = d[ok], xs[ok], err[ok]
    groups = d[by] if by is not None else pd.Series("all", index=d.index)
    fit_rows, point_frames = [], []
    for gval, idx in groups.groupby(groups, sort=False).groups.items():
        gx, gy = xs.loc[idx], err.loc[idx]
        if mask_all is not None:
            use = mask_all.loc[idx].to_numpy()
        elif isinstance(fit_on, (int, float)) and not isinstance(fit_on, bool):
            distinct = np.unique(gx)
            cut = distinct[min(len(distinct), math.ceil(fit_on * len(distinct))) - 1]
            use = (gx <= cut).to_numpy()
        else:
            use = np.ones(len(idx), dtype=bool)
        try:
            law: PowerLaw | None = fit_power_law(gx[use], gy[use], offset=offset)
        except ValueError:
            law = None
        pred = law.predict(gx) if law is not None else np.full(len(gx), np.nan)
        held = ~use
        if law is not None and held.any():
            lr = np.log(pred[held]) - np.log(gy[held].to_numpy())
            rmse_h = float(np.sqrt(np.mean(lr ** 2)))
            mape = float(np.mean(np.abs(pred[held] - gy[held].to_numpy()) / gy[held].to_numpy()))
        else:
            rmse_h = mape = math.nan
        fit_rows.append({"group": gval, "a": law.a if law else math.nan, "b": law.b if law else math.nan,
                         "c": law.c if law else math.nan, "n_fit": int(use.sum()), "n_held_out": int(held.sum()),
                         "x_max_fit": float(gx[use].max()) if use.any() else math.nan,
                         "rmse_fit": law.rmse if law else math.nan, "rmse_held_out": rmse_h,
                         "mape_held_out": mape, "law": law})
        point_frames.append(pd.DataFrame({"group": gval, "x": gx.to_numpy(), "error": gy.to_numpy(),
                                          "predicted": pred, "residual": gy.to_numpy() - pred,
                                          "rel_error": (pred - gy.to_numpy()) / gy.to_numpy(), "held_out": held},
                                         index=idx))
    fits = pd.DataFrame(fit_rows, columns=["group", "a", "b", "c", "n_fit", "n_held_out", "x_max_fit", "rmse_fit",
                                           "rmse_held_out", "mape_held_out", "law"])
    points = pd.concat(point_frames) if point_frames else pd.DataFrame(
        columns=["group", "x", "error", "predicted", "residual", "rel_error", "held_out"])
    return ScalingFit(fits=fits, points=points)


__all__ = [
    "COMPLETE", "DEFAULT_OBJECTIVES", "METRIC_COLUMNS", "PowerLaw", "ScalingFit", "Verdict", "aggregate",
    "compare", "complexity_bins", "complexity_weights", "dominates", "edf", "error_edf", "fit_power_law",
    "fit_scaling", "hypervolume", "is_dominated", "match_pairs", "parameter_columns", "pareto_front",
    "pareto_mask", "t_quantile", "to_error", "verdict", "verdicts",
]
