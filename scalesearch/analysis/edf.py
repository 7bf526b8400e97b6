"""EDFs of error (Radosavovic et al., "Designing Network Design Spaces"), complexity-weighted, with bootstrap bands."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import check_columns, complete_rows, to_error
from scalesearch.analysis.stats import complexity_bins
from scalesearch.errors import InputError


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
        d = complete_rows(data, complete_only)
        check_columns(d, [metric])
        if complexity_range is not None or (isinstance(weights, str) and weights == "complexity"):
            check_columns(d, [complexity], "complexity column")
        if complexity_range is not None:
            c = d[complexity].astype(float)
            d = d[(c >= complexity_range[0]) & (c <= complexity_range[1])]
        err = to_error(d[metric], metric)
        if isinstance(weights, str):
            if weights != "complexity":
                raise InputError(f"weights {weights!r}: expected 'complexity', None or one weight per row")
            w = complexity_weights(d[complexity], per_decade=per_decade)
        else:
            w = None if weights is None else pd.Series(np.asarray(weights, dtype=float), index=data.index).loc[
                d.index].to_numpy()
    else:
        if isinstance(weights, str) or complexity_range is not None:
            raise InputError("weights='complexity' and complexity_range need a DataFrame with a complexity column")
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
