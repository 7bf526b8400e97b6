"""The matplotlib Pareto figure: every trial, each study's front as a labelled step line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from scalesearch.plot.common import (
    LINESTYLES,
    LOG_AXES,
    MARKERS,
    RASTERIZE_ABOVE,
    axis_label,
    check_plot_columns,
    colour_groups,
    combine_studies,
    gid,
    log_axis,
    metric_direction,
    new_figure,
    resolve_x,
    row_ids,
    save,
)


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
    from scalesearch.analysis.columns import complete_rows

    df = combine_studies(data)
    x = resolve_x(df, x)
    check_plot_columns(df, [x, y, color, label])
    df = complete_rows(df, True)
    df = df[df[x].notna() & df[y].notna()]
    if x in LOG_AXES:
        df = df[df[x] > 0]
    fig, axes = new_figure(figsize)
    ax = axes[0, 0]
    groups, codes, colour_of = colour_groups(df, color)
    studies = list(dict.fromkeys(df["study"].tolist()))
    rasterize = len(df) > RASTERIZE_ABOVE
    direction = y_direction or metric_direction(y)
    mappable = None
    for s, study in enumerate(studies):
        in_study = (df["study"] == study).to_numpy()
        marker = MARKERS[s % len(MARKERS)]
        if groups:
            for c in range(len(groups)):
                sel = in_study & (codes == c)
                if sel.any():
                    ax.scatter(df[x].to_numpy()[sel], df[y].to_numpy()[sel], s=22, marker=marker,
                               color=colour_of(c), alpha=0.7, linewidths=0, rasterized=rasterize,
                               gid=gid("points", s, c), zorder=2)
        else:
            sel = in_study
            mappable = ax.scatter(df[x].to_numpy()[sel], df[y].to_numpy()[sel], s=22, marker=marker,
                                  c=codes[sel], cmap=colour_of, vmin=np.nanmin(codes), vmax=np.nanmax(codes),
                                  alpha=0.8, linewidths=0, rasterized=rasterize, gid=gid("points", s, 0), zorder=2)
        if not front:
            continue
        f = an.pareto_front(df[in_study], {y: direction, x: "min"})
        f = f.sort_values([x, y], ascending=[True, direction == "min"])
        xs, ys = f[x].to_numpy(), f[y].to_numpy()
        if len(f) == 0:
            continue
        ax.step(xs, ys, where="post", color="0.15", lw=1.2, linestyle=LINESTYLES[s % len(LINESTYLES)],
                gid=gid("front-line", s), zorder=3, label=f"front ({study})" if len(studies) > 1 else "front")
        for i, (rid, xv, yv) in enumerate(zip(row_ids(f), xs, ys, strict=True)):
            ax.plot([xv], [yv], linestyle="none", marker=marker, markersize=8, markerfacecolor="none",
                    markeredgecolor="0.05", markeredgewidth=1.4, gid=gid("front-point", s, rid), zorder=4)
            if label is not None and i < max_labels:
                ax.annotate(str(f[label].iloc[i]), (xv, yv), xytext=(4, 5 if i % 2 == 0 else -10),
                            textcoords="offset points", fontsize=7, color="0.1", gid=gid("front-label", s, rid),
                            zorder=5)
    if x in LOG_AXES:
        log_axis(ax, "x")
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
