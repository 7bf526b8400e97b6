"""Regime guards: whether a comparison of two arms can say anything about how architectures scale.

A difference between two arms is evidence about the architectures only in a regime where training has done its
job. Each guard looks at the trials of the compared arms (and the spec's baseline) and returns a `Guard` that
names the trials it is about:

    positive control   a scaled arm that does not beat the spec's baseline (the lower end of its interval is not
                       above 0): bigger nets train worse here, so scaling verdicts are "not decidable in this
                       regime"
    not converged      the metric still rising over the last quarter of the epochs: last epoch against epoch
                       floor(3E/4) (at least the one before the last), by more than the margin
    failed start       a trial at chance level after its first quarter of epochs: val_acc at epoch ceil(E/4)
                       within 2 binomial standard errors of 1/K on the validation size
    unequal cost       the arms' counted MACs (median per arm) differ by more than 5%
    memorising         a scaled arm whose training accuracy (the last epoch's train_acc) rises over the spec's
                       baseline (the interval of the difference lies above 0) while its validation accuracy
                       (val_acc) does not (that interval reaches 0 or below): the added capacity is spent on
                       memorising the training set, which may be why a positive control fails

Guards never change a number; they say when a number should not be read as a verdict. Pure functions of
DataFrames (`scalesearch.results.load_trials` / `load_epochs` columns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from scalesearch.errors import InputError
from scalesearch.util.text import human

__all__ = [
    "COST_TOLERANCE",
    "DEFAULT_MARGIN",
    "GUARD_NAMES",
    "Guard",
    "chance_band",
    "failed_start",
    "memorising",
    "not_converged",
    "positive_control",
    "unequal_cost",
]

GUARD_NAMES = ("positive control", "not converged", "failed start", "unequal cost", "memorising")
COST_TOLERANCE = 0.05
DEFAULT_MARGIN = 0.005  # 0.5 percentage points of accuracy


@dataclass(frozen=True)
class Guard:
    """One guard's finding.

    Attributes:
        name: one of GUARD_NAMES.
        fired: True when the regime fails this guard.
        detail: one line: what was checked, and (when fired) which trials and why.
        trials: the trial numbers it names (empty when it did not fire or concerns whole arms).
        applicable: False when the data cannot answer it (no baseline, a single epoch); then `fired` is False.
    """

    name: str
    fired: bool
    detail: str
    trials: tuple[int, ...] = ()
    applicable: bool = True

    def line(self) -> str:
        """`name: FIRED|ok|n/a: detail`, one line."""
        state = "FIRED" if self.fired else "ok" if self.applicable else "n/a"
        return f"{self.name}: {state}: {self.detail}"


def trial_list(ns: Sequence[int], limit: int = 8) -> str:
    """Trial numbers as `#1, #4, #7` (sorted; the first `limit`, then how many more)."""
    ns = sorted(int(n) for n in ns)
    shown = ", ".join(f"#{n}" for n in ns[:limit])
    return shown + (f" and {len(ns) - limit} more" if len(ns) > limit else "")


def _last_epochs(epochs: pd.DataFrame, metric: str) -> dict[int, pd.Series]:
    """trial number -> its metric by epoch (sorted), for trials with at least one value."""
    if metric not in epochs.columns:
        raise InputError(f"metric {metric!r}: not a per-epoch metric; expected val_acc, train_acc, val_loss or "
                         "train_loss")
    out = {}
    for n, g in epochs[epochs[metric].notna()].groupby("number", sort=True):
        out[int(n)] = g.sort_values("epoch").set_index("epoch")[metric]
    return out


def not_converged(epochs: pd.DataFrame, metric: str = "val_acc", *, margin: float = DEFAULT_MARGIN,
                  direction: str = "max") -> Guard:
    """Trials whose metric still improves over the last quarter of their epochs by more than `margin`.

    For a trial with E epochs the last epoch is compared with epoch floor(3E/4), or E-1 when that is E.

    Example:
        >>> e = pd.DataFrame({"number": [0] * 4 + [1] * 4, "epoch": [1, 2, 3, 4] * 2,
        ...                   "val_acc": [0.5, 0.7, 0.80, 0.801, 0.5, 0.6, 0.70, 0.75]})
        >>> g = not_converged(e, margin=0.005)
        >>> g.fired, g.trials
        (True, (1,))
    """
    if not margin >= 0:
        raise InputError(f"margin: expected >= 0, got {margin}")
    sign = 1.0 if direction == "max" else -1.0
    rising, checked, short = [], 0, []
    worst = 0.0
    for n, curve in _last_epochs(epochs, metric).items():
        last = int(curve.index.max())
        ref = min(math.floor(3 * last / 4), last - 1)
        if ref < 1 or ref not in curve.index:
            short.append(n)
            continue
        checked += 1
        gain = sign * float(curve.loc[last] - curve.loc[ref])
        if gain > margin + 1e-12:  # 'more than': a rise of exactly the margin (up to rounding) passes
            rising.append(n)
            worst = max(worst, gain)
    if not checked:
        return Guard("not converged", False, f"cannot tell: {len(short)} trial(s) with too few epochs",
                     applicable=False)
    if rising:
        return Guard("not converged", True,
                     f"{trial_list(rising)} still improve {metric} by more than {margin:g} over the last quarter of "
                     f"their epochs (up to {worst:+.4g}): train longer before reading the difference",
                     tuple(sorted(rising)))
    return Guard("not converged", False, f"{checked} trial(s) improve {metric} by at most {margin:g} over the last "
                 "quarter of their epochs")


def chance_band(num_classes: int, val_size: int) -> tuple[float, float]:
    """(low, high) of accuracies within 2 binomial standard errors of chance (1/K) on `val_size` images."""
    if num_classes < 2 or val_size < 1:
        raise InputError(f"chance_band: expected num_classes >= 2 and val_size >= 1, got {num_classes}, {val_size}")
    p = 1.0 / num_classes
    se = math.sqrt(p * (1 - p) / val_size)
    return p - 2 * se, p + 2 * se


def failed_start(epochs: pd.DataFrame, *, num_classes: int, val_size: int) -> Guard:
    """Trials whose val_acc at epoch ceil(E/4) (the end of their first quarter) is still at chance level.

    Example:
        >>> e = pd.DataFrame({"number": [0] * 4 + [1] * 4, "epoch": [1, 2, 3, 4] * 2,
        ...                   "val_acc": [0.3, 0.6, 0.7, 0.8, 0.1, 0.1, 0.5, 0.7]})
        >>> failed_start(e, num_classes=10, val_size=1000).trials
        (1,)
    """
    lo, hi = chance_band(num_classes, val_size)
    stuck, checked, values = [], 0, []
    for n, curve in _last_epochs(epochs, "val_acc").items():
        last = int(curve.index.max())
        at = max(1, math.ceil(last / 4))
        if at not in curve.index:
            continue
        checked += 1
        v = float(curve.loc[at])
        if lo <= v <= hi:
            stuck.append(n)
            values.append(v)
    band = f"chance {1 / num_classes:.3g}, band [{lo:.3g}, {hi:.3g}] on {val_size} validation images"
    if not checked:
        return Guard("failed start", False, "no trial has validation accuracies", applicable=False)
    if stuck:
        return Guard("failed start", True, f"{trial_list(stuck)} at chance after the first quarter of their epochs "
                     f"(val_acc {min(values):.3g}-{max(values):.3g}; {band})", tuple(sorted(stuck)))
    return Guard("failed start", False, f"{checked} trial(s) above chance after the first quarter ({band})")


def unequal_cost(costs: Mapping[str, Sequence[float]], *, tolerance: float = COST_TOLERANCE,
                 cost: str = "macs") -> Guard:
    """Arms whose counted cost (the median of their trials) differs by more than `tolerance` (relative to the
    cheaper arm).

    Example:
        >>> unequal_cost({"A": [1.00e6], "B": [1.04e6]}).fired, unequal_cost({"A": [1e6], "B": [1.2e6]}).fired
        (False, True)
    """
    med = {k: float(pd.Series(list(v), dtype=float).median()) for k, v in costs.items() if len(v)}
    if len(med) < 2 or any(not (m > 0) for m in med.values()):
        return Guard("unequal cost", False, f"cannot tell: no counted {cost} for every arm", applicable=False)
    lo, hi = min(med.values()), max(med.values())
    gap = hi / lo - 1
    shown = ", ".join(f"{k} {human(v)}" for k, v in med.items())
    if gap > tolerance + 1e-12:  # exactly the tolerance (up to rounding) is equal enough
        return Guard("unequal cost", True, f"the arms' {cost} differ by {gap:.1%} (> {tolerance:.0%}): {shown}; "
                     "a difference may be the cost's, not the architecture's")
    return Guard("unequal cost", False, f"the arms' {cost} are within {gap:.1%} (<= {tolerance:.0%}): {shown}")


def positive_control(controls: Mapping[str, tuple[float, float, float]], *, has_baseline: bool = True) -> Guard:
    """Scaled arms that do not beat the baseline: `controls` maps an arm's label to (diff, lo, hi) of the arm
    minus the spec's baseline. An arm passes only when the interval's lower end is above 0.

    Example:
        >>> positive_control({"A": (0.02, 0.01, 0.03), "B": (0.01, -0.002, 0.02)}).fired
        True
    """
    if not has_baseline:
        return Guard("positive control", False, "the spec has no baseline point to control against",
                     applicable=False)
    if not controls:
        return Guard("positive control", False, "the baseline has no completed trials", applicable=False)
    failing = {k: v for k, v in controls.items() if not (v[1] > 0)}
    shown = "; ".join(f"{k} - baseline {d:+.4g} [{lo:+.4g}, {hi:+.4g}]" for k, (d, lo, hi) in controls.items())
    if failing:
        return Guard("positive control", True, f"{', '.join(failing)} not shown to beat the baseline ({shown}): "
                     "scaling verdicts are not decidable in this regime")
    return Guard("positive control", False, f"every arm beats the baseline ({shown})")


Interval = tuple[float, float, float]  # (diff, lo, hi)


def _pp(d: Interval) -> str:
    """(diff, lo, hi) of fractions in percentage points: `+0.81 pp [+0.57, +1.05]`."""
    diff, lo, hi = d
    return f"{diff * 100:+.2f} pp [{lo * 100:+.2f}, {hi * 100:+.2f}]"


def memorising(gains: Mapping[str, tuple[Interval, Interval]],
               trials: Mapping[str, Sequence[int] | str] | None = None, *, has_baseline: bool = True,
               train: str = "train_acc", val: str = "val_acc") -> Guard:
    """Scaled arms that gain training accuracy over the baseline but not validation accuracy.

    `gains` maps an arm's label to ((diff, lo, hi) of `train`, (diff, lo, hi) of `val`), each the arm minus the
    spec's baseline (accuracies as fractions; printed in percentage points). An arm fires when the training
    interval lies above 0 (lo > 0) while the validation interval reaches 0 or below (lo <= 0). A diagnostic beside
    a verdict, never a gate. `trials` names each arm's trials: trial numbers (kept in `Guard.trials`) or a phrase
    printed as it is (e.g. for trials pooled over several studies, whose numbers repeat).

    Example:
        >>> g = memorising({"A": ((0.008, 0.006, 0.010), (0.001, -0.002, 0.003))}, {"A": [3, 7]})
        >>> g.fired, g.trials
        (True, (3, 7))
        >>> memorising({"A": ((0.008, 0.006, 0.010), (0.006, 0.002, 0.010))}).fired
        False
    """
    if not has_baseline:
        return Guard("memorising", False, "the spec has no baseline point to compare the training gain with",
                     applicable=False)
    known = {k: v for k, v in gains.items() if not any(math.isnan(x) for x in (v[0][1], v[1][1]))}
    if not known:
        return Guard("memorising", False, f"cannot tell: no arm has two {train} and {val} values (or pairs) beside "
                     "the baseline's", applicable=False)
    trials = trials or {}

    def named(k: str) -> str:
        ns = trials.get(k)
        if ns is None:
            return k
        return f"{k} (trials {ns if isinstance(ns, str) else trial_list(ns)})"

    firing = [k for k, (tr, va) in known.items() if tr[1] > 0 and not (va[1] > 0)]
    if firing:
        shown = "; ".join(f"{named(k)} vs baseline: {train} {_pp(known[k][0])} but {val} {_pp(known[k][1])}"
                          for k in firing)
        numbers = sorted({int(n) for k in firing if not isinstance(trials.get(k, ""), str) for n in trials[k]})
        return Guard("memorising", True, f"{shown}: added capacity is spent on memorising; a failed positive "
                     "control may mean this", tuple(numbers))
    shown = "; ".join(f"{k} - baseline {train} {_pp(tr)}, {val} {_pp(va)}" for k, (tr, va) in known.items())
    return Guard("memorising", False, f"no arm gains {train} over the baseline without {val} ({shown})")
