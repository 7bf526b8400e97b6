"""The figures the rediscovery experiments share: saving a matplotlib figure as PNG and SVG, and the error-bar plot
of a metric's mean and interval per group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _save(fig: Any, folder: Path, name: str) -> list[str]:
    from scalesearch.plot import save

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "svg"):
        out.append(str(save(fig, folder / f"{name}.{ext}")))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def _errorbar_plot(agg: pd.DataFrame, x: str, group: str, title: str, *, logx: bool = True,
                   ylabel: str = "validation accuracy") -> Any:
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
