"""Matplotlib figures other than the front: scaling fits, error EDFs, learning curves, metric vs parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from scalesearch.analysis import ScalingFit

from scalesearch.errors import InputError
from scalesearch.plot.common import (
    LOG_AXES,
    axis_label,
    check_plot_columns,
    colour_groups,
    gid,
    log_axis,
    new_figure,
    resolve_x,
    save,
)


def plot_scaling(df: pd.DataFrame, *, x: str = "macs", y: str = "val_acc", by: str | None = "family",
                 fit: ScalingFit | bool = True, fit_on: Any = None, offset: bool = False,
                 title: str | None = None, out: str | Path | None = None,
                 figsize: tuple[float, float] = (8.0, 5.5)) -> Figure:
    """A metric against complexity per scaling strategy (or family), with the power-law fit of each.

    Repeats of a configuration (`config_key`) are drawn as their mean with a 95% t interval; points held out of
    the fit (`fit_on`, see `analysis.fit_scaling`) are hollow, and the fitted curve (in the metric's units:
    accuracy = 1 - predicted error) runs over the whole x range, dashed beyond the fitted points.

    Args:
        df: trials.
        x: the complexity column.
        y: the metric.
        by: the strategy column, or None.
        fit: True to fit here, False for none, or a ScalingFit computed before.
        fit_on: which rows to fit on (None: all).
        offset: fit an irreducible error.
        title: the title.
        out: write the figure there.
        figsize: inches.

    Returns:
        The matplotlib Figure.
    """
    import numpy as np

    from scalesearch import analysis as an
    from scalesearch.analysis.columns import complete_rows

    x = resolve_x(df, x)
    check_plot_columns(df, [x, y, by])
    d = complete_rows(df, True)
    d = d[d[x].notna() & d[y].notna()]
    group_col = by or "_all"
    if by is None:
        d = d.assign(_all="all")
    result = fit if not isinstance(fit, bool) else (
        an.fit_scaling(d, y, x=x, by=group_col, fit_on=fit_on, offset=offset, complete_only=False) if fit else None)
    held = result.points["held_out"].reindex(d.index).fillna(False).astype(bool) if result is not None else \
        np.zeros(len(d), dtype=bool)
    d = d.assign(_held=np.asarray(held))
    fig, axes = new_figure(figsize)
    ax = axes[0, 0]
    groups = list(dict.fromkeys(d[group_col].tolist()))
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for gi, g in enumerate(groups):
        dg = d[d[group_col] == g]
        colour = cmap(gi % 10)
        key = "config_key" if "config_key" in dg.columns else x
        agg = an.aggregate(dg.assign(_cfg=dg[key].astype(str) + dg["_held"].astype(str)), by="_cfg", metrics=[y],
                           complete_only=False)
        agg = agg.sort_values(x)
        law = None
        if result is not None:
            rows = result.fits[result.fits["group"] == g]
            law = rows["law"].iloc[0] if len(rows) else None
        label = str(g) + (f" (b={law.b:.3f})" if law is not None else "")
        for held_out in (False, True):
            a = agg[agg["_held"] == held_out]
            if a.empty:
                continue
            err = np.vstack([a[f"{y}_mean"] - a[f"{y}_lo"], a[f"{y}_hi"] - a[f"{y}_mean"]])
            container = ax.errorbar(a[x], a[f"{y}_mean"], yerr=np.nan_to_num(err), fmt="o", color=colour,
                                    markerfacecolor="none" if held_out else colour, capsize=2, ms=6,
                                    label=None if held_out else label, zorder=3)
            container.lines[0].set_gid(gid("scaling-held-out" if held_out else "scaling-points", gi))
        if law is not None:
            xs_fit = d.loc[(d[group_col] == g) & ~d["_held"], x]
            grid = np.geomspace(d[x].min(), d[x].max(), 200)
            pred = law.predict(grid)
            curve = 1.0 - pred if "acc" in y else pred
            inside = grid <= xs_fit.max() * (1 + 1e-9)
            ax.plot(grid[inside], curve[inside], "-", color=colour, lw=1.3, gid=gid("scaling-fit", gi), zorder=2)
            if (~inside).any():
                ax.plot(grid[~inside], curve[~inside], "--", color=colour, lw=1.3,
                        gid=gid("scaling-fit-extrapolated", gi), zorder=2)
    if x in LOG_AXES:
        log_axis(ax, "x")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title=by, title_fontsize=8)
    form = "err = a·x^b + c" if offset else "err = a·x^b"
    ax.set_title(title or f"{axis_label(y)} vs {axis_label(x).split(' (')[0]}: power-law fit {form}"
                 + ("; hollow points held out" if bool(d["_held"].any()) else ""), fontsize=10)
    if out is not None:
        save(fig, out)
    return fig


# --------------------------------------------------------------------------------------------------------------
# EDFs


def plot_edf(df: pd.DataFrame, *, metric: str = "val_acc", by: str | None = "study",
             weights: str | None = None, complexity: str = "macs",
             complexity_range: tuple[float, float] | None = None, n_boot: int = 500, level: float = 0.95,
             seed: int = 0, title: str | None = None, out: str | Path | None = None,
             figsize: tuple[float, float] = (7.0, 5.0)) -> Figure:
    """Error EDFs (Radosavovic et al.) per group with pointwise bootstrap bands.

    Args:
        df: trials.
        metric: the metric whose error is taken (1 - accuracy for an accuracy).
        by: one curve per value of this column (design space, family, study), or None.
        weights: None or "complexity" (the normalised EDF, see `analysis.error_edf`).
        complexity: the complexity column for weights and range.
        complexity_range: keep models with complexity in [lo, hi].
        n_boot: bootstrap resamples for the bands (0: none).
        level: the band's coverage.
        seed: the bootstrap's random seed.
        title: the title.
        out: write the figure there.
        figsize: inches.

    Returns:
        The matplotlib Figure.
    """
    from matplotlib import colormaps

    from scalesearch import analysis as an

    check_plot_columns(df, [metric, by])
    fig, axes = new_figure(figsize)
    ax = axes[0, 0]
    cmap = colormaps["tab10"]
    groups = list(dict.fromkeys(df[by].tolist())) if by else [None]
    for gi, g in enumerate(groups):
        dg = df if g is None else df[df[by] == g]
        e = an.error_edf(dg, metric, weights=weights, complexity=complexity, complexity_range=complexity_range,
                         n_boot=n_boot, level=level, seed=seed)
        if e.empty:
            continue
        colour = cmap(gi % 10)
        name = "all" if g is None else str(g)
        ax.step(e["error"], e["edf"], where="post", color=colour, lw=1.5, gid=gid("edf", gi),
                label=f"{name} (n={e.attrs['n']})")
        if "lo" in e.columns:
            ax.fill_between(e["error"], e["lo"], e["hi"], step="post", color=colour, alpha=0.2, linewidth=0,
                            gid=gid("edf-band", gi))
    what = "error" if "acc" not in metric else f"error (1 - {axis_label(metric).lower()})"
    ax.set_xlabel(what[0].upper() + what[1:])
    ax.set_ylabel("Cumulative fraction of models" + (" (complexity-weighted)" if weights else ""))
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    band = f", {level:.0%} bootstrap bands" if n_boot else ""
    rng = (f", {axis_label(complexity).split(' (')[0]} in [{complexity_range[0]:.3g}, {complexity_range[1]:.3g}]"
           if complexity_range else "")
    ax.set_title(title or f"Error EDF{band}{rng}", fontsize=10)
    if out is not None:
        save(fig, out)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Learning curves and parameters


def plot_curves(epochs: pd.DataFrame, *, metrics: Sequence[str] = ("val_acc", "train_loss"),
                by: str = "study", max_trials: int = 200, title: str | None = None,
                out: str | Path | None = None, figsize: tuple[float, float] | None = None) -> Figure:
    """Learning curves: one panel per metric, one line per trial, coloured by `by`.

    Args:
        epochs: per-epoch rows with `study`, `number`, `epoch` and the metrics.
        metrics: the panels.
        by: the colour column.
        max_trials: draw at most this many trials (the first by study and number).
        title: the figure title.
        out: write the figure there.
        figsize: inches (default grows with the number of panels).

    Returns:
        The matplotlib Figure.
    """
    from matplotlib import colormaps

    check_plot_columns(epochs, ["study", "number", "epoch", by, *metrics])
    metrics = list(metrics)
    fig, axes = new_figure(figsize or (5.0 * len(metrics), 4.0), 1, len(metrics))
    cmap = colormaps["tab10"]
    keys = epochs[["study", "number"]].drop_duplicates().sort_values(["study", "number"]).head(max_trials)
    shown = epochs.merge(keys, on=["study", "number"])
    groups = list(dict.fromkeys(shown[by].tolist()))
    studies = list(dict.fromkeys(epochs["study"].tolist()))
    for mi, m in enumerate(metrics):
        ax = axes[0, mi]
        for (study, number), t in shown.groupby(["study", "number"], sort=True):
            t = t.sort_values("epoch")
            colour = cmap(groups.index(t[by].iloc[0]) % 10)
            ax.plot(t["epoch"], t[m], color=colour, alpha=0.6, lw=1,
                    gid=gid("curve", m, studies.index(study), number))
        ax.set_xlabel(axis_label("epoch"))
        ax.set_ylabel(axis_label(m))
        if "loss" in m:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    from matplotlib.lines import Line2D

    axes[0, 0].legend(handles=[Line2D([], [], color=cmap(i % 10), label=str(g)) for i, g in enumerate(groups)],
                      fontsize=8, title=by, title_fontsize=8)
    n = len(keys)
    total = len(epochs[["study", "number"]].drop_duplicates())
    fig.suptitle(title or f"Learning curves ({n} of {total} trials)" if n < total else
                 title or f"Learning curves ({n} trials)", fontsize=10)
    if out is not None:
        save(fig, out)
    return fig


def plot_params(df: pd.DataFrame, *, params: Sequence[str] | None = None, metric: str = "val_acc",
                color: str | None = "study", ncols: int = 3, title: str | None = None,
                out: str | Path | None = None) -> Figure:
    """A metric against each parameter: a scatter for numeric parameters, a jittered strip for categories.

    Args:
        df: trials.
        params: the parameter columns (default `analysis.parameter_columns`).
        metric: the y axis.
        color: the colour column, or None.
        ncols: panels per row.
        title: the figure title.
        out: write the figure there.

    Returns:
        The matplotlib Figure.
    """
    import numpy as np

    from scalesearch import analysis as an
    from scalesearch.analysis.columns import complete_rows

    params = an.parameter_columns(df) if params is None else list(params)
    if not params:
        raise InputError("params: no parameter columns found; name them with params=[...]")
    check_plot_columns(df, [metric, color, *params])
    d = complete_rows(df, True)
    d = d[d[metric].notna()]
    ncols = max(1, min(ncols, len(params)))
    nrows = math.ceil(len(params) / ncols)
    fig, axes = new_figure((4.0 * ncols, 3.2 * nrows), nrows, ncols)
    groups, codes, colour_of = colour_groups(d, color if color in d.columns else None)
    rng = np.random.default_rng(0)
    for i, p in enumerate(params):
        ax = axes[i // ncols, i % ncols]
        v = d[p]
        numeric = v.dtype.kind in "ifu" and v.nunique() > 1
        if numeric:
            xs = v.to_numpy(dtype=float)
        else:
            cats = sorted(v.astype(str).unique().tolist())
            xs = np.array([cats.index(s) for s in v.astype(str)], dtype=float) + rng.uniform(-0.15, 0.15, len(v))
            ax.set_xticks(range(len(cats)), cats, rotation=30 if len(cats) > 4 else 0, fontsize=8)
        colours = [colour_of(c) for c in codes] if groups else codes
        ax.scatter(xs, d[metric], c=colours, s=14, alpha=0.7, linewidths=0, gid=gid("params", p))
        ax.set_xlabel(axis_label(p))
        ax.set_ylabel(axis_label(metric))
        ax.grid(True, alpha=0.3)
    if groups and color is not None and color in d.columns:
        from matplotlib.lines import Line2D

        axes[0, 0].legend(handles=[Line2D([], [], linestyle="none", marker="o", color=colour_of(i), label=str(g))
                                   for i, g in enumerate(groups)], fontsize=8, title=color, title_fontsize=8)
    for j in range(len(params), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    fig.suptitle(title or f"{axis_label(metric)} vs each parameter ({len(d)} complete trials)", fontsize=10)
    if out is not None:
        save(fig, out)
    return fig
