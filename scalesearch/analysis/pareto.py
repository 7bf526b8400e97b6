"""Pareto fronts, dominance and hypervolume (every objective turned into one to minimise)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import (
    ArrayLike,
    Objectives,
    direction_signs,
    objective_matrix,
)
from scalesearch.errors import InputError


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
        for i, (y, z) in enumerate(zip(u[:, 1].tolist(), u[:, 2].tolist(), strict=True)):
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
    values, ok = objective_matrix(data, objectives, complete_only)
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
    s = direction_signs(directions)
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
        raise InputError(f"points: expected a 2-D array, got shape {p.shape}")
    dirs = ["min"] * p.shape[1] if directions is None else list(directions)
    if by is None:
        return ~pareto_mask(p, dirs)
    q = np.asarray(by, dtype=float)
    if q.ndim != 2 or q.shape[1] != p.shape[1]:
        raise InputError(f"by: expected shape (m, {p.shape[1]}), got {q.shape}")
    s = direction_signs(dirs)
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
        raise InputError(f"reference: expected {k} values, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise InputError("reference: must be finite")
    if k > 3:
        raise InputError(f"hypervolume: {k} objectives, supported are 1, 2 or 3")
    s = direction_signs(["min"] * k if directions is None else directions)
    if len(s) != k:
        raise InputError(f"directions: {len(s)} given for {k} objectives")
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
    for i, (x, y) in enumerate(zip(p[:, 0].tolist(), p[:, 1].tolist(), strict=True)):
        area = _staircase_insert(keys, vals, x, y, float(r[0]), float(r[1]), area)
        volume += area * float(zs[i + 1] - zs[i])
    return float(volume)
