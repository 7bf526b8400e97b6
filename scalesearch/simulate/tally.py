"""Summaries of simulated runs (`scalesearch.simulate.replay`): the anytime curves with intervals over seeds, the
trainings, hours and epochs each strategy needs to reach 98% of the table's best, and each strategy against its
baseline."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scalesearch.simulate.table import Table

__all__ = ["baseline_of", "mean_ci", "reach_98", "summarise", "value_at"]


def mean_ci(x: np.ndarray, t_quantile: Any) -> tuple[float, float]:
    """(mean, half-width of a 95% t interval) of the non-NaN values; NaN where there are too few."""
    x = x[~np.isnan(x)]
    if not len(x):
        return math.nan, math.nan
    sd = float(x.std(ddof=1)) if len(x) > 1 else math.nan
    sd = 0.0 if sd < 1e-12 * max(1.0, abs(float(x.mean()))) else sd  # equal values: no rounding noise
    h = float(t_quantile(0.975, len(x) - 1) * sd / math.sqrt(len(x))) if len(x) > 1 else math.nan
    return float(x.mean()), h


def baseline_of(strategy: str) -> str | None:
    """What a summary row is compared with: a prefiltered sampler with the same sampler without its prefilter,
    any other strategy with `random` (random itself with nothing).

    Example:
        >>> baseline_of("rea [naswot 16->4]"), baseline_of("tpe"), baseline_of("random")
        ('rea', 'random', None)
    """
    sampler = strategy.split(" [")[0]
    if sampler != strategy:
        return sampler
    return None if strategy == "random" else "random"


def value_at(run: Any, t: float) -> float:
    """The run's anytime value at simulated time t (NaN before its first completion)."""
    times = [x[0] for x in run.trace]
    i = int(np.searchsorted(times, t, side="right")) - 1
    return run.trace[i][1] if i >= 0 else math.nan


def reach_98(table: Table, run: Any, best: float | None = None) -> tuple[float, float, float]:
    """(trainings, simulated seconds, epochs) until the run's anytime value is within 2% of the table's best (`best`:
    that value, computed when not given); NaNs where it never gets there. Trainings count every one started,
    stopped ones included."""
    best = table.anytime(list(table.entries)) if best is None else best
    dirs = [d for _, d in table.objectives]
    for t, v, trainings, epochs in run.trace:
        ok = v >= 0.98 * best if (len(dirs) > 1 or dirs[0] == "max") else v <= best / 0.98
        if ok:
            return float(trainings), t, float(epochs)
    return math.nan, math.nan, math.nan


def summarise(table: Table, runs: Sequence[Any], *, points: int = 50) -> tuple[Any, Any]:
    """(curves, summary) DataFrames. curves: per strategy, scheduler and time on a common grid, the mean anytime
    value over seeds with a 95% t interval. summary: per strategy and scheduler, the final value, the fraction of
    the table's best reached, trainings, simulated hours and epochs to reach 98% of the table's best (the mean over
    the seeds that reach it, `reached_98` of them, with the half-width of its 95% interval in `*_ci`), the difference
    in trainings to 98% from its baseline (`baseline_of`, same scheduler: `vs`, `trainings_vs` with its 95% Welch
    interval `trainings_vs_lo`, `trainings_vs_hi`, over the seeds of each that reach 98%), epochs trained, asks,
    misses and simulated trials per second of wall time."""
    import pandas as pd

    from scalesearch.analysis.stats import t_quantile, welch

    end = max((r.trace[-1][0] for r in runs if r.trace), default=1.0)
    grid = np.linspace(0, end, points)
    best = table.anytime(list(table.entries))
    curves, rows = [], []
    to_98: dict[tuple[str, str], np.ndarray] = {}
    for (strategy, scheduler), group in itertools.groupby(sorted(runs, key=lambda r: (r.strategy, r.scheduler)),
                                                          key=lambda r: (r.strategy, r.scheduler)):
        group = list(group)
        mat = np.array([[value_at(r, t) for t in grid] for r in group])
        for j, t in enumerate(grid):
            m, h = mean_ci(mat[:, j], t_quantile)
            curves.append({"strategy": strategy, "scheduler": scheduler, "time_s": float(t), "mean": m,
                           "lo": m - h, "hi": m + h, "n": int(np.sum(~np.isnan(mat[:, j])))})

        finals = np.array([r.trace[-1][1] if r.trace else math.nan for r in group])
        reached = np.array([reach_98(table, r, best) for r in group])
        to_98[(strategy, scheduler)] = reached[:, 0]
        final, h = mean_ci(finals, t_quantile)
        to_trainings, to_epochs = mean_ci(reached[:, 0], t_quantile), mean_ci(reached[:, 2], t_quantile)
        wall = max(sum(r.wall_s for r in group), 1e-9)
        rows.append({"strategy": strategy, "scheduler": scheduler, "seeds": len(group),
                     "final": final, "final_ci": h, "of_best": final / best if best else math.nan,
                     "reached_98": int(np.sum(~np.isnan(reached[:, 0]))),
                     "trainings_to_98": to_trainings[0], "trainings_to_98_ci": to_trainings[1],
                     "hours_to_98": mean_ci(reached[:, 1], t_quantile)[0] / 3600,
                     "epochs_to_98": to_epochs[0], "epochs_to_98_ci": to_epochs[1],
                     "epochs": float(np.mean([r.epochs for r in group])),
                     "trainings": float(np.mean([r.trainings for r in group])),
                     "dropped": float(np.mean([r.dropped for r in group])),
                     "asks": float(np.mean([r.asks for r in group])), "misses": int(sum(r.misses for r in group)),
                     "trainings_per_s": sum(r.trainings for r in group) / wall,
                     "asks_per_s": sum(r.asks for r in group) / wall})
    for row in rows:
        base = (baseline_of(row["strategy"]), row["scheduler"])
        d, lo, hi = math.nan, math.nan, math.nan
        if base in to_98:  # over the seeds of each that reach 98%; a side with fewer than two: no difference
            diff, se, df = welch(*(x[~np.isnan(x)] for x in (to_98[(row["strategy"], row["scheduler"])], to_98[base])))
            if not math.isnan(se):
                h = se * t_quantile(0.975, df) if se > 0 else 0.0
                d, lo, hi = diff, diff - h, diff + h
        row.update(vs=base[0] if base in to_98 else "", trainings_vs=d, trainings_vs_lo=lo, trainings_vs_hi=hi)
    return pd.DataFrame(curves), pd.DataFrame(rows)
