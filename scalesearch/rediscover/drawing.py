"""The figures the rediscovery experiments share: saving a matplotlib figure as PNG and SVG, the error-bar plot
of a metric's mean and interval per group, and the planned looks' validation curves per arm."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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


def forest_plot(rows: Sequence[tuple[str, Any, str, float]], folder: Path, name: str) -> list[str]:
    """A forest plot of effects: one panel per experiment (rows of (experiment, Finding, kind, smallest effect that
    matters)), each effect's difference and 95% interval in pp against zero and +-the smallest effect that matters,
    the paper's effect (Finding.paper_effect) as a diamond where it has one; written as `<name>.png/svg`."""
    if not rows:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    groups: dict[str, list[tuple[Any, str, float]]] = {}
    for exp, f, kind, eff in rows:
        groups.setdefault(exp, []).append((f, kind, eff))
    heights = [max(1.2, 0.42 * len(g) + 0.6) for g in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8.5, sum(heights)), gridspec_kw={"height_ratios": heights},
                             squeeze=False)
    for ax, (exp, items) in zip(axes[:, 0], groups.items(), strict=True):
        for y, (f, kind, _) in enumerate(reversed(items)):
            color = "0.55" if kind == "control" else "C0"
            face = "white" if kind == "secondary" else color
            ax.errorbar(f.diff * 100, y, xerr=[[(f.diff - f.lo) * 100], [(f.hi - f.diff) * 100]], fmt="o",
                        color=color, mfc=face, ms=6, capsize=3)
            if not math.isnan(getattr(f, "paper_effect", math.nan)):
                ax.plot(f.paper_effect * 100, y, "D", color="C3", ms=5)
        eff = items[0][2] * 100
        ax.axvline(0, color="black", lw=0.8)
        for x in (-eff, eff):
            ax.axvline(x, color="0.4", lw=0.8, ls="--")
        labels = [(_wrap(f.claim.replace("PRIMARY: ", "primary: ")) + f"  [{f.verdict}]") for f, _, _ in
                  reversed(items)]
        ax.set_yticks(range(len(items)), labels, fontsize=7)
        ax.set_ylim(-0.6, len(items) - 0.4)
        ax.set_title(exp, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("difference (pp): claimed direction positive; dashed: the smallest effect that matters; "
                           "diamond: the paper", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, folder, name)


def _wrap(text: str, width: int = 70) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:2])
