"""Ranking points by several objectives at once: non-dominated sorting (Deb et al. 2002's fronts), and within a
front an epsilon-net order (Clarkson 2005's farthest-point order, as MO-ASHA uses it: Schmucker et al. 2021), so
that the first k of a front are spread over it rather than bunched at one end.

Every function takes an (n, d) array of values to MINIMISE (turn a maximised metric into its negative first) and
is deterministic: the epsilon-net starts at the point best in the first objective (ties: the lower index), and
each step takes the point farthest from those already chosen (ties: the lower index). Distances are measured after
a rank (quantile) normalisation of each objective to [0, 1], so that accuracy and MACs weigh alike.

Used by the multi-objective tournament of `sampler: rea`, the rungs of `early_stopping: {type: moasha}` and the
simulator (`scalesearch simulate`). numpy only.
"""

from __future__ import annotations

import numpy as np

from scalesearch.errors import InputError

__all__ = ["epsilon_net_order", "mo_order", "nondominated_ranks"]


def _matrix(points: object) -> np.ndarray:
    a = np.asarray(points, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"expected an (n, d) array of objective values, got shape {a.shape}")
    if np.isnan(a).any():
        raise InputError("objective values contain NaN: drop those points first")
    return a


def nondominated_ranks(points: object) -> np.ndarray:
    """The front of each point: 0 for the non-dominated points, 1 for those only they dominate, and so on.

    Example:
        >>> nondominated_ranks([[1, 3], [2, 2], [3, 3], [4, 4]]).tolist()
        [0, 0, 1, 2]
    """
    a = _matrix(points)
    n = len(a)
    # dom[i, j]: i dominates j (no worse everywhere, better somewhere)
    le = (a[:, None, :] <= a[None, :, :]).all(-1)
    lt = (a[:, None, :] < a[None, :, :]).any(-1)
    dom = le & lt
    count = dom.sum(0)  # how many points dominate each point
    ranks = np.full(n, -1, dtype=int)
    front = np.flatnonzero(count == 0)
    r = 0
    while front.size:
        ranks[front] = r
        count = count - dom[front].sum(0)
        count[ranks >= 0] = -1
        front = np.flatnonzero(count == 0)
        r += 1
    return ranks


def _normalise(a: np.ndarray) -> np.ndarray:
    """Each column's average ranks scaled to [0, 1] (a constant column becomes 0)."""
    from scipy.stats import rankdata

    if len(a) < 2:
        return np.zeros_like(a)
    return (rankdata(a, axis=0) - 1) / (len(a) - 1)


def epsilon_net_order(points: object, *, normalised: bool = False) -> list[int]:
    """Indices of `points` in farthest-point order: the point best in the first objective, then repeatedly the
    point whose distance to the nearest one already chosen is largest (the epsilon-net order).

    Example:
        >>> epsilon_net_order([[0, 4], [1, 3], [2, 2], [3, 1], [4, 0]])
        [0, 4, 2, 1, 3]
    """
    a = _matrix(points)
    n = len(a)
    if n == 0:
        return []
    x = a if normalised else _normalise(a)
    first = int(np.lexsort(x.T[::-1])[0])  # best in the first objective, then the next ones
    order = [first]
    nearest = np.linalg.norm(x - x[first], axis=1)
    nearest[first] = -1.0
    for _ in range(n - 1):
        i = int(np.argmax(nearest))  # argmax takes the first of equal distances: the lower index
        order.append(i)
        nearest = np.minimum(nearest, np.linalg.norm(x - x[i], axis=1))
        nearest[order] = -1.0
    return order


def mo_order(points: object) -> list[int]:
    """All indices, best first: by front (`nondominated_ranks`), and within a front in epsilon-net order, with
    distances normalised over all the points. With one objective it is the points sorted by value (ties: lower
    index first).

    Example:
        >>> mo_order([[3, 3], [1, 3], [2, 2], [3, 1]])
        [1, 3, 2, 0]
    """
    a = _matrix(points)
    if len(a) == 0:
        return []
    ranks = nondominated_ranks(a)
    x = _normalise(a)
    out: list[int] = []
    for r in range(int(ranks.max()) + 1):
        idx = np.flatnonzero(ranks == r)
        out.extend(int(idx[j]) for j in epsilon_net_order(x[idx], normalised=True))
    return out
