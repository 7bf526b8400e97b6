"""Early stopping's goal on a recorded table, per rung setting: does a search with a scheduler (MO-ASHA by default)
keep the final value of the same sampler without early stopping, over the same number of configurations, for a
fraction of its epochs?

Each simulation seed runs the sampler twice on the table, without early stopping and with the scheduler at one rung
setting (grace period, reduction factor), starting the same number of configurations; the pair gives the ratio of
their final anytime values (the hypervolume for two objectives: the front of the configurations trained to their
last epoch) and the ratio of their epochs. A setting is chosen on one half of the seeds (the `select` seeds: the
setting that meets the goal with the fewest epochs, else the one with the highest value ratio) and the goal is
judged on the other half (the `report` seeds), so that the choice does not flatter its own verdict: the mean value
ratio with its 95% t interval against `goal_value` (0.98 by default) and the mean epoch ratio with its interval
against `max_epochs` (0.5). A goal is "met" where both intervals are on the right side, "missed" where either
interval is wholly on the wrong side, "not decided" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalesearch.errors import InputError
from scalesearch.simulate.replay import simulate
from scalesearch.simulate.table import Table
from scalesearch.simulate.tally import mean_ci

__all__ = ["GoalVerdict", "RungSetting", "compare_rung_settings", "judge_goal"]


@dataclass(frozen=True)
class RungSetting:
    """One rung design: the first rung at `grace_epochs` (after the warm-up when it exceeds its epochs),
    `reduction_factor` between rungs, and optionally promotion within cost bands of ratio `cost_band` (a trial
    compared only with those whose MACs are within the same factor band: `strategies.rungs.cost_bands`)."""

    grace_epochs: int
    reduction_factor: int
    cost_band: float | None = None

    @property
    def label(self) -> str:
        band = f", bands x{self.cost_band:g}" if self.cost_band else ""
        return f"grace {self.grace_epochs}, eta {self.reduction_factor}{band}"


def compare_rung_settings(table: Table, settings: Sequence[RungSetting], seeds: Sequence[int], *,
                          sampler: str = "random", scheduler: str = "moasha", trials: int | None = None) -> Any:
    """One row per setting and seed: the final value and epochs of the sampler without early stopping and with the
    scheduler at the setting (same seed, same number of configurations), and their ratios (`value_ratio`,
    `epoch_ratio`)."""
    import pandas as pd

    if not settings or not seeds:
        raise InputError("compare_rung_settings: expected at least one setting and one seed")
    rows = []
    plain = {s: simulate(table, sampler, scheduler="none", seed=s, trials=trials) for s in seeds}
    for setting in settings:
        for s in seeds:
            run = simulate(table, sampler, scheduler=scheduler, seed=s, trials=trials,
                           grace_epochs=setting.grace_epochs, reduction_factor=setting.reduction_factor,
                           cost_band=setting.cost_band)
            base = plain[s]
            v0, v1 = base.trace[-1][1], run.trace[-1][1] if run.trace else math.nan
            rows.append({"setting": setting.label, "grace_epochs": setting.grace_epochs,
                         "reduction_factor": setting.reduction_factor, "cost_band": setting.cost_band, "seed": s, "configurations": run.trainings,
                         "value": v1, "value_plain": v0, "value_ratio": v1 / v0 if v0 else math.nan,
                         "epochs": run.epochs, "epochs_plain": base.epochs,
                         "epoch_ratio": run.epochs / base.epochs if base.epochs else math.nan,
                         "stopped": run.stopped})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GoalVerdict:
    """The goal judged on the report seeds for the setting chosen on the select seeds."""

    chosen: str
    value_ratio: float
    value_lo: float
    value_hi: float
    epoch_ratio: float
    epoch_lo: float
    epoch_hi: float
    seeds: int
    verdict: str  # met, missed or not decided

    def words(self, goal_value: float = 0.98, max_epochs: float = 0.5) -> str:
        return (f"{self.chosen} (chosen on the other half of the seeds): value {self.value_ratio:.4f} "
                f"[{self.value_lo:.4f}, {self.value_hi:.4f}] of no early stopping (goal >= {goal_value}), epochs "
                f"{self.epoch_ratio:.3f} [{self.epoch_lo:.3f}, {self.epoch_hi:.3f}] (goal <= {max_epochs}) over "
                f"{self.seeds} seeds: {self.verdict}")


def _mean_interval(x: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of a 95% t interval of the non-NaN values (`tally.mean_ci`)."""
    from scalesearch.analysis.stats import t_quantile

    m, h = mean_ci(x, t_quantile)
    return m, m - h, m + h


def summarise_settings(rows: Any) -> Any:
    """Per setting: the mean value and epoch ratios with their 95% t intervals over the rows' seeds."""
    import pandas as pd

    out = []
    for label, g in rows.groupby("setting", sort=False):
        v, vlo, vhi = _mean_interval(g["value_ratio"].to_numpy(float))
        e, elo, ehi = _mean_interval(g["epoch_ratio"].to_numpy(float))
        out.append({"setting": label, "seeds": len(g), "value_ratio": v, "value_lo": vlo, "value_hi": vhi,
                    "epoch_ratio": e, "epoch_lo": elo, "epoch_hi": ehi})
    return pd.DataFrame(out)


def judge_goal(rows: Any, select: Sequence[int], report: Sequence[int], *, goal_value: float = 0.98,
               max_epochs: float = 0.5) -> tuple[Any, GoalVerdict]:
    """(per-setting summary on the select seeds, the verdict on the report seeds for the setting chosen there)."""
    if set(select) & set(report):
        raise InputError("judge_goal: the seeds that choose a setting and those that judge it must differ")
    chosen_on = summarise_settings(rows[rows["seed"].isin(select)])
    meets = chosen_on[(chosen_on["value_ratio"] >= goal_value) & (chosen_on["epoch_ratio"] <= max_epochs)]
    pick = (meets.sort_values("epoch_ratio") if len(meets) else
            chosen_on.sort_values("value_ratio", ascending=False)).iloc[0]["setting"]
    rep = summarise_settings(rows[rows["seed"].isin(report) & (rows["setting"] == pick)]).iloc[0]
    if rep["value_lo"] >= goal_value and rep["epoch_hi"] <= max_epochs:
        verdict = "met"
    elif rep["value_hi"] < goal_value or rep["epoch_lo"] > max_epochs:
        verdict = "missed"
    else:
        verdict = "not decided"
    return chosen_on, GoalVerdict(pick, rep["value_ratio"], rep["value_lo"], rep["value_hi"], rep["epoch_ratio"],
                                  rep["epoch_lo"], rep["epoch_hi"], int(rep["seeds"]), verdict)
