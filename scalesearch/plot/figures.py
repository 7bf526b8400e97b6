"""Figures of search results: Pareto fronts, scaling curves, EDFs, learning curves, metric vs parameters.

Matplotlib figures are built on `matplotlib.figure.Figure` directly (no pyplot state, Agg rendering) and saved as
PNG, SVG or PDF by the suffix of `out`; `pareto_figure_plotly` builds the interactive figure of the HTML report.
matplotlib, plotly and pandas are imported inside the functions, so `import scalesearch.plot` costs nothing.

Units: the complexity axes are named for what they count, "MACs (multiply-accumulates)", never "FLOPs" (the
papers' FLOPs are MACs), "Parameters", "Activations"; latency is in milliseconds (`latency_ms`).

SVG element ids (matplotlib gids), stable so that tests and tools can read back what a figure shows. `s` is the
study's index in order of first appearance, `c` the colour group's index, `id` the trial's `number` (or the
row's index label when there is no `number` column):
    plot_pareto      points-{s}-{c} (scatter of one study and colour group), front-line-{s} (the step line),
                     front-point-{s}-{id} (one marker per front point), front-label-{s}-{id} (its label)
    plot_scaling     scaling-points-{g} (fitted), scaling-held-out-{g}, scaling-fit-{g}  (g: group index)
    plot_edf         edf-{g}, edf-band-{g}
    plot_curves      curve-{metric}-{s}-{id}
    plot_params      params-{name}
SVG text is written as <text> elements (svg.fonttype "none"), and ids are salted so that equal figures give
equal files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from scalesearch.analysis import ScalingFit

AXIS_LABELS = {
    "macs": "MACs (multiply-accumulates)",
    "params": "Parameters",
    "acts": "Activations (output elements)",
    "latency": "Latency (ms, batch 1)",
    "latency_ms": "Latency (ms, batch 1)",
    "val_acc": "Validation accuracy",
    "test_acc": "Test accuracy",
    "train_acc": "Training accuracy",
    "val_loss": "Validation loss",
    "test_loss": "Test loss",
    "train_loss": "Training loss",
    "epoch": "Epoch",
}
LOG_AXES = ("macs", "params", "acts", "latency", "latency_ms")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", ":", "-.")
RASTERIZE_ABOVE = 5000  # scatter points beyond which SVG/PDF embed the cloud as an image (front stays vector)


def axis_label(col: str) -> str:
    """The axis label of a column: its unit for costs ("MACs (multiply-accumulates)"), a readable metric name.

    Example:
        >>> axis_label("macs"), axis_label("val_acc"), axis_label("depth")
        ('MACs (multiply-accumulates)', 'Validation accuracy', 'depth')
    """
    return AXIS_LABELS.get(col, col)


def save(fig: Figure, out: str | Path, *, dpi: int = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (by suffix), creating the folder; SVG text stays text, ids are stable.

    Example:
        >>> import tempfile
        >>> from matplotlib.figure import Figure
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save(Figure(), Path(d) / "empty.svg").stat().st_size > 0
        True
    """
    import matplotlib

    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"out {str(out)!r}: expected a .png, .svg or .pdf file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else {}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "scalesearch"}):
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
    return path


# --------------------------------------------------------------------------------------------------------------
# Helpers


def _figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _gid(*parts: Any) -> str:
    """An SVG-safe id from parts joined by "-": characters other than letters, digits, "_", "." and "-" become "_"."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]", "_", str(p)) for p in parts)


def _combine(data: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One DataFrame with a `study` column from a DataFrame, {study: DataFrame} or a list of DataFrames."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data if "study" in data.columns else data.assign(study="study")
    if isinstance(data, Mapping):
        frames = [df.assign(study=name) for name, df in data.items()]
    else:
        frames = [df if "study" in df.columns else df.assign(study=f"study{i}") for i, df in enumerate(data)]
    if not frames:
        raise ValueError("data: no DataFrame given")
    return pd.concat(frames, ignore_index=True)


def _resolve_x(df: pd.DataFrame, x: str) -> str:
    if x == "latency" and "latency" not in df.columns and "latency_ms" in df.columns:
        return "latency_ms"
    return x


def _check(df: pd.DataFrame, cols: Sequence[str | None], what: str = "column") -> None:
    from scalesearch.analysis import _check_columns

    _check_columns(df, [c for c in cols if c is not None], what)


def _direction(y: str) -> str:
    return "min" if any(t in y for t in ("loss", "err", "latency")) else "max"


def _log_axis(ax: Axes, which: str = "x") -> None:
    from matplotlib.ticker import EngFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(EngFormatter(sep=""))


def _colours(df: pd.DataFrame, color: str | None) -> tuple[list[Any], Any, Any]:
    """(groups, per-row group codes or values, colour of a group / colormap) for a colour column."""
    import numpy as np
    from matplotlib import colormaps

    if color is None:
        return [None], np.zeros(len(df), dtype=int), lambda i: "tab:blue"
    col = df[color]
    numeric = col.dtype.kind in "if" and col.nunique() > 12
    if numeric:
        return [], col.to_numpy(dtype=float), colormaps["viridis"]
    import pandas as pd

    groups = sorted(col.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    codes = np.asarray(pd.Categorical(col, categories=groups).codes, dtype=int)
    if (codes < 0).any():
        codes[codes < 0] = len(groups)  # missing values: a group of their own, last
        groups.append(None)
    cmap = colormaps["tab10" if len(groups) <= 10 else "tab20"]
    return groups, codes, lambda i: cmap(i % cmap.N)


def _row_ids(df: pd.DataFrame) -> list[Any]:
    """The trials' numbers (the row index labels without a `number` column); integral floats as ints."""
    ids = df["number"].tolist() if "number" in df.columns else df.index.tolist()
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in ids]


# --------------------------------------------------------------------------------------------------------------
# Pareto


def plot_pareto(data: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame], *, x: str = "macs",
                y: str = "val_acc", color: str | None = "family", label: str | None = "arch",
                y_direction: str | None = None, front: bool = True, max_labels: int = 60,
                title: str | None = None, out: str | Path | None = None,
                figsize: tuple[float, float] = (9.0, 6.0)) -> Figure:
    """Accuracy (or any metric) against complexity on a log axis, with each study's Pareto front.

    Each study gets a marker, each colour group (a family, or any parameter) a colour, with a colour bar for a
    numeric parameter of many values. The front of each study (maximal `y` for minimal `x` by default, computed
    by `analysis.pareto_front` over its "COMPLETE" trials) is drawn as a step line through its points, each
    labelled with its `label` column (the architecture); past `max_labels` front points only the first are
    labelled. Only "COMPLETE" rows with both values are drawn.

    Args:
        data: trials: a DataFrame (several studies by its `study` column), {study: DataFrame} or a list of them.
        x: "macs", "params", "acts", "latency" (the `latency_ms` column) or another column.
        y: the metric.
        color: the column that colours points ("family", a parameter), or None.
        label: the column that labels front points, or None.
        y_direction: "max" or "min"; default "min" for losses, errors and latency, else "max".
        front: draw the fronts.
        max_labels: at most this many labels per study.
        title: the title.
        out: write the figure there (.png, .svg or .pdf).
        figsize: inches.

    Returns:
        The matplotlib Figure.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"number": [0, 1, 2], "macs": [1e6, 2e6, 3e6], "val_acc": [0.8, 0.9, 0.85],
        ...                    "family": "resnet", "arch": ["r8", "r14", "r20"], "state": "COMPLETE"})
        >>> fig = plot_pareto(df)
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), ax.get_xlabel()
        ('log', 'MACs (multiply-accumulates)')
    """
    import numpy as np

    from scalesearch import analysis as an

    df = _combine(data)
    x = _resolve_x(df, x)
    _check(df, [x, y, color, label])
    df = an._complete(df, True)
    df = df[df[x].notna() & df[y].notna()]
    if x in LOG_AXES:
        df = df[df[x] > 0]
    fig, axes = _figure(figsize)
    ax = axes[0, 0]
    groups, codes, colour_of = _colours(df, color)
    studies = list(dict.fromkeys(df["study"].tolist()))
    rasterize = len(df) > RASTERIZE_ABOVE
    direction = y_direction or _direction(y)
    mappable = None
    for s, study in enumerate(studies):
        in_study = (df["study"] == study).to_numpy()
        marker = MARKERS[s % len(MARKERS)]
        if groups:
            for c, g in enumerate(groups):
                sel = in_study & (codes == c)
                if sel.any():
                    ax.scatter(df[x].to_numpy()[sel], df[y].to_numpy()[sel], s=22, marker=marker,
                               color=colour_of(c), alpha=0.7, linewidths=0, rasterized=rasterize,
                               gid=_gid("points", s, c), zorder=2)
        else:
            sel = in_study
            mappable = ax.scatter(df[x].to_numpy()[sel], df[y].to_numpy()[sel], s=22, marker=marker,
                                  c=codes[sel], cmap=colour_of, vmin=np.nanmin(codes), vmax=np.nanmax(codes),
                                  alpha=0.8, linewidths=0, rasterized=rasterize, gid=_gid("points", s, 0), zorder=2)
        if not front:
            continue
        f = an.pareto_front(df[in_study], {y: direction, x: "min"})
        f = f.sort_values([x, y], ascending=[True, direction == "min"])
        xs, ys = f[x].to_numpy(), f[y].to_numpy()
        if len(f) == 0:
            continue
        ax.step(xs, ys, where="post", color="0.15", lw=1.2, linestyle=LINESTYLES[s % len(LINESTYLES)],
                gid=_gid("front-line", s), zorder=3, label=f"front ({study})" if len(studies) > 1 else "front")
        for i, (rid, xv, yv) in enumerate(zip(_row_ids(f), xs, ys)):
            ax.plot([xv], [yv], linestyle="none", marker=marker, markersize=8, markerfacecolor="none",
                    markeredgecolor="0.05", markeredgewidth=1.4, gid=_gid("front-point", s, rid), zorder=4)
            if label is not None and i < max_labels:
                ax.annotate(str(f[label].iloc[i]), (xv, yv), xytext=(4, 5 if i % 2 == 0 else -10),
                            textcoords="offset points", fontsize=7, color="0.1", gid=_gid("front-label", s, rid),
                            zorder=5)
    if x in LOG_AXES:
        _log_axis(ax, "x")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, groups, colour_of, color, studies, len(df))
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label=color)
    ax.set_title(title or f"{axis_label(y)} vs {axis_label(x).split(' (')[0]}"
                 + (f" ({len(studies)} studies)" if len(studies) > 1 else f" ({studies[0]})" if studies else ""))
    if out is not None:
        save(fig, out)
    return fig


def _legend(ax: Axes, groups: list[Any], colour_of: Any, color: str | None, studies: list[Any], n: int) -> None:
    """Colour groups, study markers and fronts; "best" placement only for small plots (it scans every point)."""
    from matplotlib.lines import Line2D

    handles = []
    if color is not None and groups:
        handles += [Line2D([], [], linestyle="none", marker="o", color=colour_of(i), label=f"{color}={g}")
                    for i, g in enumerate(groups)]
    if len(studies) > 1:
        handles += [Line2D([], [], linestyle="none", marker=MARKERS[s % len(MARKERS)], color="0.4",
                           label=str(st)) for s, st in enumerate(studies)]
    handles += [h for h in ax.get_legend_handles_labels()[0] if str(h.get_label()).startswith("front")]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best" if n <= 2000 else "lower right", framealpha=0.85)


# --------------------------------------------------------------------------------------------------------------
# Scaling curves


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

    x = _resolve_x(df, x)
    _check(df, [x, y, by])
    d = an._complete(df, True)
    d = d[d[x].notna() & d[y].notna()]
    group_col = by or "_all"
    if by is None:
        d = d.assign(_all="all")
    result = fit if not isinstance(fit, bool) else (
        an.fit_scaling(d, y, x=x, by=group_col, fit_on=fit_on, offset=offset, complete_only=False) if fit else None)
    held = result.points["held_out"].reindex(d.index).fillna(False).astype(bool) if result is not None else \
        np.zeros(len(d), dtype=bool)
    d = d.assign(_held=np.asarray(held))
    fig, axes = _figure(figsize)
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
        for held_out, kind in ((False, "points"), (True, "held-out")):
            a = agg[agg["_held"] == held_out]
            if a.empty:
                continue
            err = np.vstack([a[f"{y}_mean"] - a[f"{y}_lo"], a[f"{y}_hi"] - a[f"{y}_mean"]])
            container = ax.errorbar(a[x], a[f"{y}_mean"], yerr=np.nan_to_num(err), fmt="o", color=colour,
                                    markerfacecolor="none" if held_out else colour, capsize=2, ms=6,
                                    label=None if held_out else label, zorder=3)
            container.lines[0].set_gid(_gid("scaling-held-out" if held_out else "scaling-points", gi))
        if law is not None:
            xs_fit = d.loc[(d[group_col] == g) & ~d["_held"], x]
            grid = np.geomspace(d[x].min(), d[x].max(), 200)
            pred = law.predict(grid)
            curve = 1.0 - pred if "acc" in y else pred
            inside = grid <= xs_fit.max() * (1 + 1e-9)
            ax.plot(grid[inside], curve[inside], "-", color=colour, lw=1.3, gid=_gid("scaling-fit", gi), zorder=2)
            if (~inside).any():
                ax.plot(grid[~inside], curve[~inside], "--", color=colour, lw=1.3,
                        gid=_gid("scaling-fit-extrapolated", gi), zorder=2)
    if x in LOG_AXES:
        _log_axis(ax, "x")
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

    _check(df, [metric, by])
    fig, axes = _figure(figsize)
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
        ax.step(e["error"], e["edf"], where="post", color=colour, lw=1.5, gid=_gid("edf", gi),
                label=f"{name} (n={e.attrs['n']})")
        if "lo" in e.columns:
            ax.fill_between(e["error"], e["lo"], e["hi"], step="post", color=colour, alpha=0.2, linewidth=0,
                            gid=_gid("edf-band", gi))
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

    _check(epochs, ["study", "number", "epoch", by, *metrics])
    metrics = list(metrics)
    fig, axes = _figure(figsize or (5.0 * len(metrics), 4.0), 1, len(metrics))
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
                    gid=_gid("curve", m, studies.index(study), number))
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

    params = an.parameter_columns(df) if params is None else list(params)
    if not params:
        raise ValueError("params: no parameter columns found; name them with params=[...]")
    _check(df, [metric, color, *params])
    d = an._complete(df, True)
    d = d[d[metric].notna()]
    ncols = max(1, min(ncols, len(params)))
    nrows = math.ceil(len(params) / ncols)
    fig, axes = _figure((4.0 * ncols, 3.2 * nrows), nrows, ncols)
    groups, codes, colour_of = _colours(d, color if color in d.columns else None)
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
        ax.scatter(xs, d[metric], c=colours, s=14, alpha=0.7, linewidths=0, gid=_gid("params", p))
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


# --------------------------------------------------------------------------------------------------------------
# Interactive (plotly)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.4g}"
    return str(v)


def _human(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(f) >= scale:
            return f"{f / scale:.3g}{prefix}"
    return f"{f:.4g}"


def hover_text(df: pd.DataFrame, *, y: str = "val_acc", params: Sequence[str] | None = None) -> list[str]:
    """One HTML hover text per row: architecture, study and trial, MACs, params, activations, metrics, parameters.

    Example:
        >>> import pandas as pd
        >>> hover_text(pd.DataFrame({"arch": ["r20"], "macs": [4.1e7], "params": [2.7e5], "val_acc": [0.91],
        ...                          "depth": [20]}))
        ['<b>r20</b><br>MACs: 41M<br>params: 270K<br>val_acc: 0.91<br>depth = 20']
    """
    from scalesearch import analysis as an

    params = an.parameter_columns(df) if params is None else list(params)
    metrics = [m for m in dict.fromkeys([y, *an.METRIC_COLUMNS]) if m in df.columns]
    costs = [(c, "MACs" if c == "macs" else c) for c in ("macs", "params", "acts", "latency_ms") if c in df.columns]
    out = []
    for row in df.to_dict("records"):
        head = [f"<b>{row['arch']}</b>"] if "arch" in row else []
        ident = " ".join(f"{k} {row[k]}" for k in ("study", "number") if k in row)
        lines = head + ([ident] if ident else [])
        lines += [f"{name}: {_human(row[c])}" for c, name in costs]
        lines += [f"{m}: {_fmt(row[m])}" for m in metrics]
        lines += [f"{p} = {_fmt(row[p])}" for p in params]
        out.append("<br>".join(lines))
    return out


def pareto_figure_plotly(data: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame], *,
                         x: str = "macs", y: str = "val_acc", color: str | None = "family",
                         label: str | None = "arch", params: Sequence[str] | None = None,
                         y_direction: str | None = None, title: str | None = None) -> Any:
    """The interactive Pareto figure of the HTML report: hovering a point shows its parameters and costs.

    One trace per study and colour group (legend entries toggle them), each study's front as a step line with
    its points labelled, a log x axis named for its unit. Only "COMPLETE" rows are drawn.

    Args:
        data: trials (as for `plot_pareto`).
        x: the complexity column.
        y: the metric.
        color: the colour column, or None.
        label: the front's label column, or None.
        params: the parameters in the hover text (default `analysis.parameter_columns`).
        y_direction: "max" or "min" (default as `plot_pareto`).
        title: the title.

    Returns:
        A `plotly.graph_objects.Figure`.
    """
    import plotly.graph_objects as go

    from scalesearch import analysis as an

    df = _combine(data)
    x = _resolve_x(df, x)
    _check(df, [x, y, color, label])
    df = an._complete(df, True)
    df = df[df[x].notna() & df[y].notna()]
    direction = y_direction or _direction(y)
    symbols = ("circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "x", "star")
    fig = go.Figure()
    studies = list(dict.fromkeys(df["study"].tolist()))
    groups = sorted(df[color].dropna().unique().tolist(), key=str) if color else [None]
    for s, study in enumerate(studies):
        ds = df[df["study"] == study]
        for g in groups:
            dg = ds if g is None else ds[ds[color] == g]
            if dg.empty:
                continue
            name = (f"{color}={g}" if g is not None else "trials") + (f" · {study}" if len(studies) > 1 else "")
            fig.add_trace(go.Scatter(
                x=dg[x], y=dg[y], mode="markers", name=name, legendgroup=str(g),
                marker={"symbol": symbols[s % len(symbols)], "size": 7, "opacity": 0.75},
                text=hover_text(dg, y=y, params=params), hovertemplate="%{text}<extra></extra>",
                customdata=_row_ids(dg), meta={"kind": "points", "study": str(study)}))
        f = an.pareto_front(ds, {y: direction, x: "min"}).sort_values([x, y], ascending=[True, direction == "min"])
        if len(f):
            fig.add_trace(go.Scatter(
                x=f[x], y=f[y], mode="lines+markers+text" if label else "lines+markers", line_shape="hv",
                name=f"front · {study}" if len(studies) > 1 else "front",
                text=f[label].astype(str) if label else None, textposition="top left",
                textfont={"size": 9}, hovertext=hover_text(f, y=y, params=params), hoverinfo="text",
                marker={"symbol": symbols[s % len(symbols)], "size": 10, "color": "rgba(0,0,0,0)",
                        "line": {"width": 1.5, "color": "black"}},
                line={"color": "black", "width": 1.2}, customdata=_row_ids(f),
                meta={"kind": "front", "study": str(study)}))
    fig.update_xaxes(type="log" if x in LOG_AXES else "linear", title_text=axis_label(x))
    fig.update_yaxes(title_text=axis_label(y))
    fig.update_layout(title=title or f"{axis_label(y)} vs {axis_label(x).split(' (')[0]}", template="plotly_white",
                      hovermode="closest", legend={"font": {"size": 10}})
    return fig


__all__ = ["AXIS_LABELS", "axis_label", "hover_text", "pareto_figure_plotly", "plot_curves", "plot_edf",
           "plot_params", "plot_pareto", "plot_scaling", "save"]
