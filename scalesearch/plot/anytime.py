"""The simulator's figure: the anytime value (best objective or hypervolume) against simulated time, the mean
over seeds with its 95% interval as a band, one line per strategy and scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.plot.common import LINESTYLES, new_figure, save

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plot_anytime"]


def plot_anytime(curves: pd.DataFrame, out: str | Path, *, ylabel: str, title: str = "") -> Path:
    """Write the figure of `curves` (columns strategy, scheduler, time_s, mean, lo, hi) to `out`."""
    n = curves.groupby(["strategy", "scheduler"]).ngroups
    outside = n > 6  # many lines: the legend beside the axes, where it hides no curve
    fig, axes = new_figure((6.4 + (3.4 if outside else 0.0), max(4.2, 0.2 * n + 0.8) if outside else 4.2))
    ax = axes[0][0]
    hours = curves["time_s"].max() > 3 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    for i, ((strategy, scheduler), g) in enumerate(curves.groupby(["strategy", "scheduler"], sort=True)):
        x = g["time_s"] / scale
        label = strategy if scheduler == "none" else f"{strategy} + {scheduler}"
        line, = ax.plot(x, g["mean"], LINESTYLES[(i // 10) % len(LINESTYLES)], label=label, drawstyle="steps-post")
        ax.fill_between(x, g["lo"], g["hi"], step="post", alpha=0.15, color=line.get_color(), linewidth=0)
    ax.set_xlabel(f"Simulated time ({unit})")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if outside:
        fig.legend(loc="outside right upper", fontsize="x-small")
    else:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return save(fig, out)
