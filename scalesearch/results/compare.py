"""`compare_arms`: two arms of a study (each a filter in the query language), their difference with its interval,
the test, the smallest difference the data could detect, and the regime guards (`scalesearch.analysis.guards`).

What `scalesearch compare STUDY --a EXPR --b EXPR` prints. The difference is A - B of the metric's per-trial
values (COMPLETE trials only). With `pair_by` (e.g. "repeat") the trials of A and B that share that column's value
are paired: the interval is a paired Student t interval over the pairs, the test a paired t-test. Without it the
arms are independent samples: Welch's interval and test. The smallest detectable difference is
(t_{1-alpha/2} + t_{power}) x se, on the same degrees of freedom.

The memorising guard reads each trial's training accuracy at its last epoch (`train_acc` of `load_epochs`) and its
validation accuracy (`val_acc`), each arm against the spec's baseline with the same pairing and the same interval as
the difference (`memorising_guard`, also what the rediscovery verdicts use on trials pooled over looks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from scalesearch.analysis.guards import (
    DEFAULT_MARGIN,
    Guard,
    failed_start,
    memorising,
    not_converged,
    positive_control,
    trial_list,
    unequal_cost,
)
from scalesearch.analysis.stats import welch
from scalesearch.errors import InputError
from scalesearch.results.load import load_epochs, load_trials, open_reader
from scalesearch.results.query import filter_rows

if TYPE_CHECKING:
    from scalesearch.results.load import DB

__all__ = ["ArmComparison", "Difference", "compare_arms", "compare_frames", "difference", "last_epoch",
           "memorising_guard"]

EPOCH_METRICS = ("val_acc", "train_acc", "val_loss", "train_loss")
LOWER_IS_BETTER = ("val_loss", "train_loss", "train_error", "test_loss", "macs", "params", "acts", "latency_ms")


@dataclass(frozen=True)
class Difference:
    """A - B of a metric with its interval and test.

    Attributes:
        diff, lo, hi: the mean difference and its interval (NaN when a side has fewer than two values).
        level: the interval's coverage.
        test: "paired t" or "Welch t"; `t`, `dof`, `p` its statistic, degrees of freedom and two-sided p-value.
        n_a, n_b: values per arm (trials); `n_pairs` the pairs used when paired.
        detectable: the smallest true difference detected with `power` at this level.
    """

    diff: float
    lo: float
    hi: float
    level: float
    test: str
    t: float
    dof: float
    p: float
    n_a: int
    n_b: int
    n_pairs: int
    detectable: float
    power: float


def difference(a: pd.Series, b: pd.Series, *, paired: bool, level: float = 0.95, power: float = 0.8) -> Difference:
    """A - B with a Student t interval and test: paired over the shared index labels of `a` and `b` (one value
    per label), or Welch's for independent samples.

    Example:
        >>> a = pd.Series([0.90, 0.91, 0.92, 0.93]); b = pd.Series([0.88, 0.90, 0.90, 0.92])
        >>> d = difference(a, b, paired=True)
        >>> round(d.diff, 3), d.test, d.n_pairs, d.lo > 0
        (0.015, 'paired t', 4, True)
    """
    from scipy import stats

    if not 0 < level < 1 or not 0 < power < 1:
        raise InputError(f"level and power: expected in (0, 1), got {level}, {power}")
    nan = math.nan
    if paired:
        shared = a.index.intersection(b.index)
        d = (a.loc[shared] - b.loc[shared]).to_numpy(dtype=float)
        m = len(d)
        diff = float(d.mean()) if m else nan
        if m < 2:
            return Difference(diff, nan, nan, level, "paired t", nan, nan, nan, len(a), len(b), m, nan, power)
        se, dof = float(d.std(ddof=1) / math.sqrt(m)), float(m - 1)
        test, n_pairs = "paired t", m
    else:
        diff, se, dof = welch(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
        if math.isnan(se):
            return Difference(diff, nan, nan, level, "Welch t", nan, nan, nan, len(a), len(b), 0, nan, power)
        test, n_pairs = "Welch t", 0
    q = float(stats.t.ppf((1 + level) / 2, dof))
    if se > 0:
        t = diff / se
        p = float(2 * stats.t.sf(abs(t), dof))
    else:
        t, p = (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    detectable = (q + float(stats.t.ppf(power, dof))) * se
    return Difference(diff, diff - q * se, diff + q * se, level, test, t, dof, p, len(a), len(b), n_pairs,
                      detectable, power)


@dataclass(frozen=True)
class ArmComparison:
    """What `compare_arms` found: the arms, the difference, the guards."""

    study: str
    metric: str
    a: str
    b: str
    a_trials: tuple[int, ...]
    b_trials: tuple[int, ...]
    mean_a: float
    mean_b: float
    result: Difference
    margin: float
    pair_by: str | None
    guards: tuple[Guard, ...] = field(default=())

    @property
    def fired(self) -> tuple[Guard, ...]:
        """The guards that fired."""
        return tuple(g for g in self.guards if g.fired)

    @property
    def reading(self) -> str:
        """The difference in words: which arm is better by the interval, or that the data cannot tell."""
        r, better = self.result, "lower" if self.metric in LOWER_IS_BETTER else "higher"
        if math.isnan(r.lo):
            return "no interval: an arm has fewer than two trials (or pairs)"
        if r.lo > 0:
            return f"A's {self.metric} is {better} than B's"
        if r.hi < 0:
            return f"B's {self.metric} is {better} than A's"
        if -self.margin < r.lo and r.hi < self.margin:
            return f"A and B are equal within the margin of {self.margin:g}"
        return f"no difference shown: the interval holds 0 (the data detect {r.detectable:.4g} at " \
               f"{r.power:.0%} power)"

    def text(self) -> str:
        """The lines `scalesearch compare` prints."""
        r = self.result
        pairing = f", paired by {self.pair_by} ({r.n_pairs} pairs)" if self.pair_by else ", unpaired"
        lines = [f"compare {self.study}: {self.metric}, A - B{pairing}",
                 f"  A  {self.a}: {len(self.a_trials)} trials ({trial_list(self.a_trials)}), mean {self.mean_a:.4f}",
                 f"  B  {self.b}: {len(self.b_trials)} trials ({trial_list(self.b_trials)}), mean {self.mean_b:.4f}",
                 f"difference {r.diff:+.4f} [{r.lo:+.4f}, {r.hi:+.4f}] ({r.level:.0%} {r.test} interval)",
                 f"test       {r.test}: t = {r.t:.3f}, dof = {r.dof:.1f}, p = {r.p:.4g}",
                 (f"detectable {r.detectable:.4f} at {r.power:.0%} power (the smallest true difference these "
                  "trials would show)"),
                 f"reading    {self.reading}" + (" -- but see the guards that fired" if self.fired else ""),
                 f"guards ({len(self.fired)} of {len(self.guards)} fired; margin {self.margin:g}):"]
        lines += [f"  {g.line()}" for g in self.guards]
        return "\n".join(lines)


def compare_arms(db: DB, study: str, a: str, b: str, *, metric: str = "val_acc", margin: float = DEFAULT_MARGIN,
                 pair_by: str | None = None, level: float = 0.95, power: float = 0.8) -> ArmComparison:
    """Compare two arms of a study and check the regime the comparison was made in.

    Args:
        db: a SQLAlchemy URL or SQLite path, or a Reader; read-only.
        study: the study.
        a, b: the arms, as conditions in the query language over `load_trials`' columns (`"w == 8"`,
            `"point == 'width'"`), never SQL or Python.
        metric: a trial column (val_acc, best_val_acc, test_acc, ...).
        margin: the smallest difference that matters, in the metric's units: the threshold of "not converged"
            and of "equal within the margin".
        pair_by: a column whose equal values pair A's and B's trials (e.g. "repeat"); None for independent arms.
        level, power: the interval's coverage, and the power of the detectable difference.

    Returns:
        The ArmComparison (`.text()` is what the CLI prints).

    Raises:
        InputError: a bad filter or column, an arm with no completed trial, arms that share trials, a pairing
            column that leaves no pair.
        NotFoundError: no such study.
    """
    if not margin >= 0:
        raise InputError(f"--margin: expected a number >= 0, got {margin}")
    reader = open_reader(db)
    try:
        spec_text = reader.study(study).spec_canonical
        trials = load_trials(reader, study)
        epochs = load_epochs(reader, study)
    finally:
        if reader is not db:  # ours: close it; a caller's Reader stays open
            reader.close()
    from scalesearch.spec import parse_spec

    return compare_frames(trials, epochs, parse_spec(spec_text, f"<study {study}>"), a, b, study=study,
                          metric=metric, margin=margin, pair_by=pair_by, level=level, power=power)


def compare_frames(trials: pd.DataFrame, epochs: pd.DataFrame, spec: Any, a: str, b: str, *, study: str = "",
                   metric: str = "val_acc", margin: float = DEFAULT_MARGIN, pair_by: str | None = None,
                   level: float = 0.95, power: float = 0.8) -> ArmComparison:
    """`compare_arms` on a study's tables (`load_trials` and `load_epochs` frames, or the same columns read back
    from a study's trials.csv and epochs.csv) and its SearchSpec (for the baseline, the classes and the validation
    size): what recomputes a verdict without the database. `metric` may be a column added to `trials` (e.g.
    train_error); "train_error" reads its curve from train_acc.

    Raises:
        InputError: as `compare_arms`.
    """
    if not margin >= 0:
        raise InputError(f"--margin: expected a number >= 0, got {margin}")
    if metric not in trials.columns:
        raise InputError(f"--metric {metric!r}: not a column of the study's trials; expected e.g. val_acc, "
                         "best_val_acc or test_acc")
    if pair_by is not None and pair_by not in trials.columns:
        raise InputError(f"--pair-by {pair_by!r}: not a column of the study's trials; expected e.g. repeat or seed")
    done = trials[(trials["state"] == "COMPLETE") & trials[metric].notna()]
    arm_a, arm_b = filter_rows(done, a, option="--a"), filter_rows(done, b, option="--b")
    for name, rows, expr in (("--a", arm_a, a), ("--b", arm_b, b)):
        if rows.empty:
            raise InputError(f"{name} {expr!r}: no completed trial of study {study!r} matches")
    both = set(arm_a["number"]) & set(arm_b["number"])
    if both:
        raise InputError(f"--a and --b both match trials {trial_list(both)}; expected disjoint arms")

    def values(rows: pd.DataFrame) -> pd.Series:
        if pair_by is None:
            return rows[metric].astype(float).reset_index(drop=True)
        return rows.groupby(pair_by)[metric].mean().astype(float)

    va, vb = values(arm_a), values(arm_b)
    if pair_by is not None and len(va.index.intersection(vb.index)) == 0:
        raise InputError(f"--pair-by {pair_by}: A and B share no value of {pair_by}; expected paired trials")
    result = difference(va, vb, paired=pair_by is not None, level=level, power=power)
    arms = pd.concat([arm_a, arm_b])["number"]
    guards = [_positive_control(done, arm_a, arm_b, metric, pair_by, level, has_baseline=spec.baseline is not None),
              _converged(epochs[epochs["number"].isin(arms)], metric, margin),
              failed_start(epochs[epochs["number"].isin(arms)], num_classes=spec.dataset.num_classes,
                           val_size=spec.dataset.val_size),
              unequal_cost({"A": arm_a["macs"].dropna().tolist(), "B": arm_b["macs"].dropna().tolist()}),
              _memorising(trials, epochs, arm_a, arm_b, pair_by, level, has_baseline=spec.baseline is not None)]
    return ArmComparison(study, metric, a, b, tuple(int(n) for n in arm_a["number"]),
                         tuple(int(n) for n in arm_b["number"]), float(va.mean()), float(vb.mean()), result,
                         float(margin), pair_by, tuple(guards))


def _positive_control(done: pd.DataFrame, arm_a: pd.DataFrame, arm_b: pd.DataFrame, metric: str,
                      pair_by: str | None, level: float, *, has_baseline: bool) -> Guard:
    """Each arm minus the spec's baseline trials (oriented so that positive is better)."""
    base = done[done["point"] == "baseline"]
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    controls = {}
    for label, rows in (("A", arm_a), ("B", arm_b)):
        rows = rows[~rows["number"].isin(base["number"])]
        if rows.empty or base.empty:
            continue
        if pair_by is None:
            va, vb = rows[metric].astype(float).reset_index(drop=True), base[metric].astype(float).reset_index(
                drop=True)
        else:
            va, vb = rows.groupby(pair_by)[metric].mean(), base.groupby(pair_by)[metric].mean()
        paired = pair_by is not None and len(va.index.intersection(vb.index)) >= 2
        d = difference(va, vb, paired=paired, level=level)
        lo, hi = (sign * d.lo, sign * d.hi) if sign > 0 else (sign * d.hi, sign * d.lo)
        controls[label] = (sign * d.diff, lo, hi)
    return positive_control(controls, has_baseline=has_baseline)


def _converged(epochs: pd.DataFrame, metric: str, margin: float) -> Guard:
    curve = "train_acc" if metric == "train_error" else metric if metric in EPOCH_METRICS else "val_acc"
    return not_converged(epochs, curve, margin=margin, direction="min" if curve.endswith("loss") else "max")


def last_epoch(epochs: pd.DataFrame, metric: str = "train_acc", keys: Sequence[str] = ("number",)) -> pd.Series:
    """Each trial's `metric` at its last epoch that has a value, indexed by `keys` (add e.g. "look" where trials
    of several studies are pooled, since their numbers repeat).

    Example:
        >>> e = pd.DataFrame({"number": [0, 0, 1], "epoch": [1, 2, 1], "train_acc": [0.5, 0.7, 0.6]})
        >>> last_epoch(e).to_dict()
        {0: 0.7, 1: 0.6}
    """
    keys = list(keys)
    if metric not in epochs.columns:
        return pd.Series(dtype=float, name=metric)
    e = epochs[epochs[metric].notna()].sort_values([*keys, "epoch"])
    return e.groupby(keys)[metric].last().astype(float)


def memorising_guard(arms: Mapping[str, pd.DataFrame], base: pd.DataFrame, *,
                     pair_by: str | Sequence[str] | None = None, level: float = 0.95, group: str | None = None,
                     has_baseline: bool = True) -> Guard:
    """The memorising guard (`scalesearch.analysis.guards.memorising`): each arm's completed trials minus the
    baseline's, in `train_acc` (the last epoch's: `last_epoch`) and in `val_acc`, with `difference`: paired over
    the values of `pair_by` (the mean of an arm's trials at each value) where at least two are shared, else
    Welch's. Only trials with both accuracies count, so both differences use the same trials and pairs.

    Args:
        arms: an arm's label -> its trials (`number`, `train_acc`, `val_acc` and the `pair_by` columns); the
            baseline's own trials must not be among them.
        base: the baseline's trials, with the same columns.
        pair_by: the column(s) whose equal values pair an arm's trials with the baseline's, or None.
        level: the intervals' coverage.
        group: a column that tells apart trials pooled from several studies (e.g. "look"); the guard then names
            the trials per group, as `look 1 #2, #3; look 2 #2, #3`.
        has_baseline: False when the spec declares no baseline point.

    Returns:
        The Guard (applicable only where an arm and the baseline have two values or pairs each).
    """
    keys = None if pair_by is None else [pair_by] if isinstance(pair_by, str) else list(pair_by)

    def usable(rows: pd.DataFrame) -> pd.DataFrame:
        if "train_acc" not in rows.columns or "val_acc" not in rows.columns:
            return rows.iloc[0:0]
        return rows[rows["train_acc"].notna() & rows["val_acc"].notna()]

    def values(rows: pd.DataFrame, metric: str) -> pd.Series:
        if keys is None:
            return rows[metric].astype(float).reset_index(drop=True)
        return rows.groupby(keys)[metric].mean().astype(float)

    def names(rows: pd.DataFrame) -> Sequence[int] | str:
        if group is None:
            return [int(n) for n in rows["number"]]
        return "; ".join(f"{group} {g} {trial_list(r['number'].tolist())}"
                         for g, r in rows.groupby(group, sort=True))

    b = usable(base)
    gains, trials = {}, {}
    for label, rows in arms.items():
        rows = usable(rows)
        if rows.empty or b.empty:
            continue
        diffs = []
        for metric in ("train_acc", "val_acc"):
            va, vb = values(rows, metric), values(b, metric)
            paired = keys is not None and len(va.index.intersection(vb.index)) >= 2
            d = difference(va, vb, paired=paired, level=level)
            diffs.append((d.diff, d.lo, d.hi))
        gains[label] = (diffs[0], diffs[1])
        trials[label] = names(rows)
    return memorising(gains, trials, has_baseline=has_baseline)


def _memorising(trials: pd.DataFrame, epochs: pd.DataFrame, arm_a: pd.DataFrame, arm_b: pd.DataFrame,
                pair_by: str | None, level: float, *, has_baseline: bool) -> Guard:
    """Each compared arm against the spec's baseline trials, in the last epoch's train_acc and in val_acc."""
    done = trials[trials["state"] == "COMPLETE"]
    done = done.assign(train_acc=done["number"].map(last_epoch(epochs)))
    base = done[done["point"] == "baseline"]
    arms = {label: done[done["number"].isin(rows["number"]) & ~done["number"].isin(base["number"])]
            for label, rows in (("A", arm_a), ("B", arm_b))}
    return memorising_guard(arms, base, pair_by=pair_by, level=level, has_baseline=has_baseline)
