"""Scaling laws: power laws of error against MACs (err = a x^b [+ c]), per group, with held-out checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import check_columns, complete_rows, to_error
from scalesearch.errors import InputError


@dataclass(frozen=True)
class PowerLaw:
    """err = a * x**b + c, fitted by least squares on log(err); c = 0 unless fitted with an offset.

    `x0` is the geometric mean of the fitted x (the fit is computed in x / x0 for conditioning), `rmse` the
    root-mean-square residual of log(err) on the fitted points, `n` their number. `dof` is n minus the fitted
    parameters (2, or 3 with the offset) and `cov` the unscaled covariance (J'J)^-1 of the log-space parameters
    (log a', b[, c]) at the solution, which `interval` uses.
    """

    a: float
    b: float
    c: float
    x0: float
    n: int
    rmse: float
    offset: bool
    dof: int = 0
    cov: tuple[tuple[float, ...], ...] = ()

    def predict(self, x: Any) -> np.ndarray:
        """The predicted error at x."""
        return self.a * np.asarray(x, dtype=float) ** self.b + self.c

    def interval(self, x: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The prediction interval of a new observation's error at x: log(err) = f(x) + e with e ~ N(0, s^2),
        s^2 = SSE / dof, and the parameters' uncertainty by the delta method, so the half-width in log space is
        t(dof) * s * sqrt(1 + g' (J'J)^-1 g), g the gradient of f at x. NaN where dof is 0 (as many parameters as
        points: nothing is left to estimate the noise with)."""
        from scipy import stats

        xs = np.atleast_1d(np.asarray(x, dtype=float))
        mid = np.log(self.predict(xs))
        if self.dof < 1 or not self.cov:
            nan = np.full_like(xs, math.nan)
            return nan, nan
        s = self.rmse * math.sqrt(self.n / self.dof)
        u = np.log(xs / self.x0)
        p = self.a * self.x0 ** self.b * np.exp(self.b * u)  # a' exp(b u), the power part at x
        f = p + self.c
        g = np.stack([p / f, p * u / f] + ([1.0 / f] if self.offset else []), axis=1)
        h = np.einsum("ij,jk,ik->i", g, np.asarray(self.cov), g)
        half = float(stats.t.ppf((1 + level) / 2, self.dof)) * s * np.sqrt(1 + h)
        return np.exp(mid - half), np.exp(mid + half)


def _refine_log_fit(u: np.ndarray, ly: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares (`scipy.optimize.least_squares`) of r = log(exp(alpha + b*u) + c) - log y over theta =
    (alpha, b, c) with c >= 0, from `theta`; returns theta and the sum of squared residuals. The dogbox method
    keeps c at exactly 0 when the bound is active (trf would stop a hair inside it)."""
    from scipy.optimize import (
        least_squares,  # here, not at the top: importing scipy.optimize takes about a second
    )

    def resid(t: np.ndarray) -> np.ndarray:
        return np.log(np.exp(t[0] + t[1] * u) + t[2]) - ly

    def jac(t: np.ndarray) -> np.ndarray:
        p = np.exp(t[0] + t[1] * u)
        f = p + t[2]
        return np.stack([p / f, p * u / f, 1.0 / f], axis=1)

    fit = least_squares(resid, theta, jac=jac, bounds=([-np.inf, -np.inf, 0.0], np.inf), method="dogbox",
                        ftol=1e-15, xtol=1e-15, gtol=1e-15)
    return fit.x, float(fit.fun @ fit.fun)


def fit_power_law(x: Any, err: Any, *, offset: bool = False) -> PowerLaw:
    """Fit err = a * x**b (+ c) by least squares on log(err).

    Without an offset this is ordinary least squares of log(err) on log(x) (a line in log-log axes), which is
    what a few points (3-4 scaling steps) support. With `offset=True` the irreducible error c >= 0 is fitted too:
    a profile over c (log(err - c) linear in log(x)) picks the start and `scipy.optimize.least_squares`
    refines (log a, b, c) on the same log-space objective; it needs at least 4 points.

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
        raise InputError("fit_power_law: x and err must be positive")
    need = 4 if offset else 2
    if len(np.unique(xs)) < need - (1 if offset else 0) or len(xs) < need:
        raise InputError(f"fit_power_law: needs at least {need} points over distinct x, got {len(xs)}")
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
        cands = [m * (1 - 0.8 ** k) for k in range(60)]
        best = min(cands, key=lambda c: linear(c)[1])
        coef, _ = linear(best)
        theta, sse = _refine_log_fit(u, ly, np.array([coef[0], coef[1], best]))
    a = float(np.exp(theta[0]) * x0 ** (-theta[1]))
    p = np.exp(theta[0] + theta[1] * u)
    f = p + theta[2]
    jac = np.stack([p / f, p * u / f] + ([1.0 / f] if offset else []), axis=1)
    dof = len(xs) - jac.shape[1]
    cov = tuple(map(tuple, np.linalg.pinv(jac.T @ jac).tolist())) if dof >= 1 else ()
    return PowerLaw(a=a, b=float(theta[1]), c=float(theta[2]), x0=x0, n=len(xs),
                    rmse=math.sqrt(sse / len(xs)), offset=offset, dof=dof, cov=cov)


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
            raise InputError(f"group {group!r}: fitted groups are {self.fits['group'].tolist()}")
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
        check_columns(df, [by], "group column")
    check_columns(df, [x, metric])
    if isinstance(fit_on, str):
        check_columns(df, [fit_on], "fit_on column")
        mask_all = df[fit_on].astype(bool)
    elif fit_on is None or isinstance(fit_on, (int, float)) and not isinstance(fit_on, bool):
        mask_all = None
    else:
        mask_all = pd.Series(np.asarray(fit_on, dtype=bool), index=df.index) \
            if not isinstance(fit_on, pd.Series) else fit_on.reindex(df.index).fillna(False).astype(bool)
    if isinstance(fit_on, float) and not 0 < fit_on <= 1:
        raise InputError(f"fit_on: a fraction must be in (0, 1], got {fit_on}")
    d = complete_rows(df, complete_only)
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
