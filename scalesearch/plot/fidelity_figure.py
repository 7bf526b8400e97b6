"""The figure of `scalesearch fidelity`: how each epoch ranks the configurations as the final metric does.

Three panels sharing the epoch axis: (1) Spearman's rho and Kendall's tau with their bootstrap bands against the
epoch, the tolerance line at 1 - tol, and each training-free score's rho at epoch 0 (no training) with its
interval; (2) the top-K overlap as a fraction of K (the scores' at 0); (3) the cost bias (Spearman's rho of counted MACs with the rank
gained from epoch k to the end; above 0: costly models ranked too low early) with its band.

SVG element ids: fidelity-spearman, fidelity-kendall (lines), fidelity-band-spearman, fidelity-band-kendall,
fidelity-tol, fidelity-score-{name}, fidelity-score-overlap-{name}, fidelity-score-bias-{name} (a training-free
score at epoch 0), fidelity-overlap, fidelity-bias, fidelity-band-bias.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.analysis.fidelity import Fidelity, epoch_rows, score_rows
from scalesearch.plot.common import axis_label, gid, new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_fidelity"]


def plot_fidelity(f: Fidelity, *, title: str | None = None, out: str | Path | None = None,
                  figsize: tuple[float, float] = (7.0, 9.0)) -> Figure:
    """Draw a `Fidelity` (see the module docstring) and save it to `out` (PNG, SVG or PDF by suffix) when given.

    Args:
        f: the result of `scalesearch.analysis.fidelity.rank_fidelity`.
        title: the figure title (default names the metric and the configurations).
        out: write the figure there.
        figsize: inches.

    Returns:
        The matplotlib Figure.
    """
    ep, sc = epoch_rows(f), score_rows(f)
    fig, axes = new_figure(figsize, 3, 1)
    ax_r, ax_o, ax_b = axes[0, 0], axes[1, 0], axes[2, 0]
    for col, colour in (("spearman", "tab:blue"), ("kendall", "tab:orange")):
        ax_r.plot(ep["epoch"], ep[col], marker="o", color=colour, label=f"{col.capitalize()} (epoch k)",
                  gid=gid("fidelity", col))
        ax_r.fill_between(ep["epoch"], ep[f"{col}_lo"], ep[f"{col}_hi"], color=colour, alpha=0.2, lw=0,
                          gid=gid("fidelity-band", col))
    ax_r.axhline(1.0 - f.tol, color="black", ls="--", lw=1, label=f"1 - tol = {1 - f.tol:g}", gid="fidelity-tol")
    for i, r in enumerate(sc.itertuples()):  # the training-free scores at epoch 0, side by side
        x = -0.15 + 0.3 * i / (len(sc) - 1) if len(sc) > 1 else 0.0
        colour = f"C{(i + 2) % 10}"
        ax_r.errorbar([x], [r.spearman], yerr=[[r.spearman - r.spearman_lo], [r.spearman_hi - r.spearman]],
                      fmt="s", ms=5, capsize=3, color=colour, label=f"{r.source} (score, rho)",
                      gid=gid("fidelity-score", r.source))
        if r.overlap == r.overlap:  # not NaN
            ax_o.plot([x], [r.overlap / r.top_k], "s", ms=5, color=colour, gid=gid("fidelity-score-overlap", r.source))
        if r.bias == r.bias:
            ax_b.errorbar([x], [r.bias], yerr=[[r.bias - r.bias_lo], [r.bias_hi - r.bias]], fmt="s", ms=5,
                          capsize=3, color=colour, gid=gid("fidelity-score-bias", r.source))
    if f.faithful_epoch is not None:
        ax_r.axvline(f.faithful_epoch, color="tab:green", lw=1, alpha=0.6)
    ax_r.set_ylabel(f"Rank correlation with final {f.metric}")
    ax_r.set_ylim(-1.05, 1.05)
    ax_r.legend(fontsize=7, loc="lower right")
    with_overlap = ep[ep["overlap"].notna()]
    if len(with_overlap):
        ax_o.plot(with_overlap["epoch"], with_overlap["overlap"] / with_overlap["top_k"], marker="o",
                  color="tab:purple", gid="fidelity-overlap")
    else:
        ax_o.text(0.5, 0.5, f"top-{f.top_k} overlap: n/a ({f.top_k} or fewer configurations)",
                  transform=ax_o.transAxes, ha="center", va="center", fontsize=8)
    ax_o.set_ylabel(f"Top-{f.top_k} overlap (fraction)")
    ax_o.set_ylim(-0.05, 1.05)
    biased = ep[ep["bias"].notna()]
    ax_b.plot(biased["epoch"], biased["bias"], marker="o", color="tab:red", gid="fidelity-bias")
    ax_b.fill_between(biased["epoch"], biased["bias_lo"], biased["bias_hi"], color="tab:red", alpha=0.2, lw=0,
                      gid="fidelity-band-bias")
    ax_b.axhline(0.0, color="black", lw=0.8)
    cost = "MACs" if f.cost == "macs" else f.cost or "cost"
    ax_b.set_ylabel(f"Cost bias: rho({cost}, rank at k - final rank)\n> 0: costly ranked too low early", fontsize=8)
    ax_b.set_ylim(-1.05, 1.05)
    ax_b.set_xlabel(axis_label("epoch") + " k (training-free scores at 0)")
    last = f.final_epoch or 1
    for ax in (ax_r, ax_o, ax_b):
        ax.set_xlim(-0.5, last + 0.5)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title or f"Rank fidelity of short runs: {f.metric} at epoch k vs the final {f.metric} "
                 f"({f.n_configs} configurations)", fontsize=10)
    if out is not None:
        save(fig, out)
    return fig
