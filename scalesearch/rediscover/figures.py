"""The figures the rediscovery experiments share: saving a matplotlib figure as PNG and SVG, the error-bar plot
of a metric's mean and interval per group, and the planned looks' validation curves per arm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def save_figure(fig: Any, folder: Path, name: str) -> list[str]:
    """Save `fig` as `folder`/`name`.png and .svg, close it; the paths written."""
    from scalesearch.plot import save

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "svg"):
        out.append(str(save(fig, folder / f"{name}.{ext}")))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def errorbar_plot(agg: pd.DataFrame, x: str, group: str, title: str, *, logx: bool = True,
                  ylabel: str = "validation accuracy") -> Any:
    """A figure of each group's mean and interval of the metric (`agg` as `aggregate_by` gives it) against `x`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for gval, g in agg.groupby(group, sort=False):
        g = g.sort_values(x)
        yerr = np.vstack([(g["mean"] - g["lo"]).fillna(0), (g["hi"] - g["mean"]).fillna(0)])
        ax.errorbar(g[x], g["mean"], yerr=yerr, marker="o", capsize=3, label=str(gval), gid=f"series-{gval}")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel({"macs": "MACs", "acts": "activations"}.get(x, x))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def arm_curves(done: pd.DataFrame, epochs: pd.DataFrame, folder: Path, column: str, name: str,
               label: Callable[[object], str] = str) -> list[str]:
    """Validation-accuracy curves per arm (`column` of `done`: mean +- SD over seeds and looks), written as
    `<name>.png/svg`; `done` and `epochs` carry `look` and `number` (trial numbers repeat between looks)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    ep = epochs[epochs["state"] == "COMPLETE"].join(done.set_index(["look", "number"])[[column]],
                                                     on=["look", "number"], how="inner")
    if ep.empty:
        return []
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for arm, g in ep.groupby(column):
        m = g.groupby("epoch")["val_acc"].agg(["mean", "std"])
        ax.plot(m.index, m["mean"] * 100, marker="o", ms=3, label=label(arm))
        ax.fill_between(m.index, (m["mean"] - m["std"].fillna(0)) * 100, (m["mean"] + m["std"].fillna(0)) * 100,
                        alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(bottom=max(0.0, float(ep["val_acc"].quantile(0.1)) * 100 - 5))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, folder, name)
