"""Iso-complexity comparisons: matched pairs, bootstrap differences of an arm against a baseline, verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import check_columns, complete_rows
from scalesearch.analysis.stats import t_quantile
from scalesearch.errors import InputError


def match_pairs(df: pd.DataFrame, arm: str, baseline: Any, *, on: str = "macs", rtol: float = 0.1,
                key: str = "config_key") -> pd.Series:
    """Match each configuration of every other arm to the baseline configuration of nearest complexity.

    A configuration (one `key`) of a non-baseline arm is matched to the baseline configuration whose `on` value
    is nearest on a log scale, if within a factor (1 + rtol); the group label of its rows is the baseline
    configuration's key, and baseline rows are labelled with their own key. Unmatched rows get NaN. Use the result
    as the `by` column of `compare`.

    Args:
        df: trials.
        arm: the column naming the arm (e.g. "strategy", "family").
        baseline: the baseline arm's value.
        on: the complexity column.
        rtol: the largest relative complexity gap accepted.
        key: the configuration column.

    Returns:
        A Series of group labels aligned with `df`.

    Example:
        >>> t = pd.DataFrame({"strategy": ["base", "base", "deep", "wide", "wide"],
        ...                   "config_key": ["b1", "b2", "d1", "w1", "w2"], "macs": [1e6, 2e6, 2.1e6, 1.05e6, 9e6]})
        >>> match_pairs(t, "strategy", "base").tolist()
        ['b1', 'b2', 'b2', 'b1', nan]
    """
    check_columns(df, [arm, on, key])
    if rtol < 0:
        raise InputError(f"rtol: expected >= 0, got {rtol}")
    is_base = (df[arm] == baseline).to_numpy()
    if not is_base.any():
        raise InputError(f"baseline {baseline!r}: no row has {arm} == {baseline!r}")
    base = df[is_base].groupby(key, sort=False)[on].median()
    blog = np.log(base.to_numpy(dtype=float))
    cfg = df[~is_base].groupby(key, sort=False)[on].median()
    labels: dict[Any, Any] = {k: k for k in base.index}
    for k, v in cfg.items():
        gap = np.abs(blog - math.log(v)) if v > 0 else np.full(len(blog), np.inf)
        i = int(np.argmin(gap))
        if gap[i] <= math.log1p(rtol) + 1e-12:
            labels[k] = base.index[i]
    out = df[key].map(lambda k: labels.get(k, np.nan))
    out[~is_base & ~df[key].isin([k for k in cfg.index if k in labels])] = np.nan
    return out.rename("match")


def _boot_ci(draws: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))


_COMPARE_COLUMNS = ("arm", "baseline", "metric", "n", "n_baseline", "mean", "mean_baseline", "diff", "lo", "hi",
                    "se", "paired", "n_pairs", "method", "ci_level")


def compare(df: pd.DataFrame, arm: str, metric: str = "val_acc", *, baseline: Any = None,
            by: str | Sequence[str] | pd.Series | None = None, seed_col: str = "seed",
            paired: bool | Literal["auto"] = "auto", method: Literal["bootstrap", "t"] = "bootstrap",
            n_boot: int = 4000, level: float = 0.95, seed: int = 0, complete_only: bool = True) -> pd.DataFrame:
    """Differences of a metric between arms within iso-complexity groups, with intervals over seeds.

    Within each group (`by`: a MACs bin from `complexity_bins`, a matched pair from `match_pairs`, or a design
    level such as phi) every arm is compared with the baseline arm (or, with `baseline=None`, every pair of arms
    in order of first appearance). An arm's value at one seed is the mean of its rows with that seed in the group.
    When both arms have the same seeds (at least two) the comparison is paired: the interval is over the per-seed
    differences, resampling seeds. Otherwise the two arms' seeds are resampled independently. `method="t"` gives
    a Student t interval (paired) or Welch's instead of the percentile bootstrap: with 3-5 seeds the percentile
    bootstrap is too narrow, and the t interval is the honest one.

    Args:
        df: trials.
        arm: the column naming the arms.
        metric: the compared metric (diff = arm - baseline, in its units).
        baseline: the baseline arm, or None for all pairs.
        by: the grouping column(s) or a Series aligned with `df`; None for one group.
        seed_col: the seed column (without it, each row is one independent sample).
        paired: "auto" (paired when the seed sets are equal), True (pair on the shared seeds) or False.
        method: "bootstrap" (percentile) or "t".
        n_boot: bootstrap resamples.
        level: the interval's coverage.
        seed: the bootstrap's random seed.
        complete_only: use only "COMPLETE" rows.

    Returns:
        A tidy DataFrame, one row per (group, arm, baseline): the group columns, `arm`, `baseline`, `metric`, `n`
        and `n_baseline` (seeds or rows), `mean`, `mean_baseline`, `diff`, `lo`, `hi` (NaN when a side has fewer
        than two values), `se`, `paired`, `n_pairs`, `method`, `ci_level`.

    Example:
        >>> t = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "seed": [0, 1, 2, 3] * 2,
        ...                   "val_acc": [0.90, 0.91, 0.92, 0.93, 0.88, 0.90, 0.90, 0.92]})
        >>> r = compare(t, "arm", baseline="b").iloc[0]
        >>> r.arm, round(float(r["diff"]), 3), bool(r.paired), bool(r.lo > 0)
        ('a', 0.015, True, True)
    """
    if method not in ("bootstrap", "t"):
        raise InputError(f"method {method!r}: expected 'bootstrap' or 't'")
    if not 0.0 < level < 1.0:
        raise InputError(f"level: expected 0 < level < 1, got {level}")
    check_columns(df, [arm, metric])
    d = df.copy()
    group_cols: list[str]
    if by is None:
        group_cols = []
    elif isinstance(by, pd.Series):
        name = "group" if by.name is None else str(by.name)
        d[name] = by.reindex(d.index)
        group_cols = [name]
    else:
        group_cols = [by] if isinstance(by, str) else list(by)
        check_columns(d, group_cols, "group column")
    clash = [c for c in group_cols if c in _COMPARE_COLUMNS]
    if clash:
        raise InputError(f"by: group column {clash[0]!r} clashes with a result column; rename it")
    d = complete_rows(d, complete_only)
    d = d[d[metric].notna()]
    has_seed = seed_col in d.columns
    rng = np.random.default_rng(seed)
    rows = []
    groups = d.groupby(group_cols, sort=True, observed=True, dropna=True) if group_cols else [((), d)]
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        arms = list(dict.fromkeys(g[arm].tolist()))
        if baseline is None:
            pairs = list(combinations(arms, 2))
        else:
            pairs = [(a, baseline) for a in arms if a != baseline] if baseline in arms else []
        per_arm = {}
        for a in arms:
            ga = g[g[arm] == a]
            per_arm[a] = (ga.groupby(seed_col)[metric].mean() if has_seed
                          else pd.Series(ga[metric].to_numpy(dtype=float)))
        for a, b in pairs:
            va, vb = per_arm[a], per_arm[b]
            shared = va.index.intersection(vb.index) if has_seed else pd.Index([])
            same = has_seed and set(va.index) == set(vb.index)
            use_pair = (paired is True and len(shared) >= 2) or (paired == "auto" and same and len(shared) >= 2)
            if use_pair:
                diffs = (va.loc[shared] - vb.loc[shared]).to_numpy(dtype=float)
                diff, m = float(diffs.mean()), len(diffs)
                if method == "t":
                    se = float(diffs.std(ddof=1) / math.sqrt(m))
                    h = t_quantile((1 + level) / 2, m - 1) * se
                    lo, hi = diff - h, diff + h
                else:
                    draws = diffs[rng.integers(0, m, size=(n_boot, m))].mean(axis=1)
                    lo, hi = _boot_ci(draws, level)
                    se = float(draws.std(ddof=1))
            else:
                xa, xb = va.to_numpy(dtype=float), vb.to_numpy(dtype=float)
                diff, m = float(xa.mean() - xb.mean()), 0
                if len(xa) < 2 or len(xb) < 2:
                    lo = hi = se = math.nan
                elif method == "t":
                    sa, sb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
                    se = math.sqrt(sa + sb)
                    dof = ((sa + sb) ** 2 / (sa ** 2 / (len(xa) - 1) + sb ** 2 / (len(xb) - 1))
                           if sa + sb > 0 else len(xa) + len(xb) - 2)
                    h = t_quantile((1 + level) / 2, dof) * se
                    lo, hi = diff - h, diff + h
                else:
                    da = xa[rng.integers(0, len(xa), size=(n_boot, len(xa)))].mean(axis=1)
                    db = xb[rng.integers(0, len(xb), size=(n_boot, len(xb)))].mean(axis=1)
                    lo, hi = _boot_ci(da - db, level)
                    se = float((da - db).std(ddof=1))
            rows.append((*gkey, a, b, metric, len(va), len(vb), float(va.mean()), float(vb.mean()), diff, lo, hi,
                         se, bool(use_pair), m, method, level))
    cols = [*group_cols, *_COMPARE_COLUMNS]
    return pd.DataFrame(rows, columns=cols)


@dataclass(frozen=True)
class Verdict:
    """The outcome of testing a claimed difference at a budget: the one verdict rule of every experiment and of
    `compare`.

    `label` is "reproduced", "not reproduced", "inconclusive" or "not decidable" (a failed gate); `diff`, `lo`, `hi`
    are oriented so that positive is the claimed direction; `detectable` is the smallest true difference this run
    would detect with the stated power (from the interval's width); `min_effect` is the smallest difference that
    matters. `size` places a reproduced effect against `min_effect` ("at least", "uncertain" or "smaller", else "");
    `reversed` says that the interval lies wholly against the claim (a significant reversal), which a "not
    reproduced" or a "not decidable" verdict prints beside it.
    """

    label: str
    diff: float
    lo: float
    hi: float
    min_effect: float
    detectable: float
    power: float
    level: float
    size: str = ""
    reversed: bool = False

    def words(self, *, scale: float = 100.0, unit: str = "pp") -> str:
        """The verdict in words, the effect's size or the reversal beside it (values times `scale`, in `unit`).

        Example:
            >>> verdict((0.0038, 0.0005, 0.007), 0.005).words()
            'reproduced, size uncertain against 0.5 pp'
            >>> verdict((-0.0067, -0.0108, -0.0026), 0.005, gate=False).words()
            'not decidable; significant effect against the claim: -0.67 pp [-1.08, -0.26]'
        """
        m = f"{self.min_effect * scale:.3g} {unit}"
        if self.label == "reproduced":
            return "reproduced, " + {"at least": f"at least {m}", "uncertain": f"size uncertain against {m}",
                                     "smaller": f"smaller than {m}"}[self.size]
        if self.reversed:
            effect = f"{self.diff * scale:+.2f} {unit} [{self.lo * scale:+.2f}, {self.hi * scale:+.2f}]"
            return (f"{self.label}; significant effect against the claim: {effect}" if self.label == "not decidable"
                    else f"{self.label} (a significant reversal: {effect})")
        return self.label

    def __str__(self) -> str:
        return (f"{self.label}: difference {self.diff:+.4g} [{self.lo:+.4g}, {self.hi:+.4g}] "
                f"({self.level:.0%} interval); smallest effect that matters {self.min_effect:.4g}; "
                f"smallest detectable at {self.power:.0%} power {self.detectable:.4g}")


SIZES = ("at least", "uncertain", "smaller")  # a reproduced effect against the smallest effect that matters


def verdict(diff_ci: Sequence[float] | Mapping[str, float] | pd.Series, min_effect: float, *,
            claim: Literal["greater", "less"] = "greater", level: float = 0.95, power: float = 0.8,
            gate: bool = True) -> Verdict:
    """Decide whether a claimed difference was reproduced, from its interval: the one rule of every experiment.

    With the difference oriented so that the claim says it is positive ("greater"; `claim="less"` flips signs):
    "not decidable" when `gate` is False (a positive control or another declared gate failed; a significant effect
    against the claim is still flagged); otherwise "reproduced" when the interval lies above zero, its size "at
    least" `min_effect` (lower end at or above it), "uncertain" (the interval straddles it) or "smaller" (upper end
    below it); "not reproduced" when the interval reaches zero and lies below `min_effect` (the run rules out an
    effect as large as the smallest one that matters), a significant reversal (the interval wholly below zero)
    flagged; "inconclusive" otherwise (the interval holds both zero and `min_effect`), and when it is NaN. The
    smallest detectable difference is (z_{(1+level)/2} + z_{power}) * se with se = half-width / z_{(1+level)/2}, a
    normal approximation from the interval's width.

    Args:
        diff_ci: (lo, hi), (diff, lo, hi), or a mapping / row with `diff`, `lo`, `hi` (a row of `compare`).
        min_effect: the smallest difference that matters (>= 0), in the metric's units.
        claim: the paper's direction of the difference.
        level: the interval's coverage.
        power: for the detectable difference.
        gate: whether the claim's declared gate (e.g. its positive control) passed.

    Returns:
        A Verdict.

    Example:
        >>> verdict((0.004, 0.001, 0.007), 0.002).label, verdict((-0.001, 0.001), 0.002).label
        ('reproduced', 'not reproduced')
        >>> v = verdict((-0.002, 0.004), 0.003)
        >>> v.label, round(v.detectable, 4)
        ('inconclusive', 0.0043)
        >>> [verdict(ci, 0.005).size for ci in ((0.006, 0.009), (0.001, 0.009), (0.001, 0.004))]
        ['at least', 'uncertain', 'smaller']
    """
    if isinstance(diff_ci, (Mapping, pd.Series)):
        lo, hi = float(diff_ci["lo"]), float(diff_ci["hi"])
        diff = float(diff_ci["diff"]) if "diff" in diff_ci else (lo + hi) / 2
    else:
        vals = [float(v) for v in diff_ci]
        if len(vals) == 2:
            (lo, hi), diff = vals, (vals[0] + vals[1]) / 2
        elif len(vals) == 3:
            diff, lo, hi = vals
        else:
            raise InputError(f"diff_ci: expected (lo, hi) or (diff, lo, hi), got {len(vals)} values")
    if not min_effect >= 0:
        raise InputError(f"min_effect: expected >= 0, got {min_effect}")
    if claim not in ("greater", "less"):
        raise InputError(f"claim {claim!r}: expected 'greater' or 'less'")
    if claim == "less":
        diff, lo, hi = -diff, -hi, -lo
    z = NormalDist().inv_cdf((1 + level) / 2)
    detectable = (z + NormalDist().inv_cdf(power)) * (hi - lo) / (2 * z)
    size, reverse = "", bool(hi < 0)
    if not gate:
        label = "not decidable"
    elif math.isnan(lo) or math.isnan(hi):
        label = "inconclusive"
    elif lo > 0:
        label = "reproduced"
        size = "at least" if lo >= min_effect else "smaller" if hi < min_effect else "uncertain"
    elif hi < min_effect:
        label = "not reproduced"
    else:
        label = "inconclusive"
    return Verdict(label, diff, lo, hi, float(min_effect), float(detectable), power, level, size, reverse)


def verdicts(comparisons: pd.DataFrame, min_effect: float, *, claim: Literal["greater", "less"] = "greater",
             power: float = 0.8) -> pd.DataFrame:
    """`compare`'s table with `verdict` and `detectable` columns added (each row's own `ci_level` is used).

    Example:
        >>> c = pd.DataFrame({"diff": [0.01, 0.0], "lo": [0.005, -0.01], "hi": [0.015, 0.01], "ci_level": 0.95})
        >>> verdicts(c, 0.005)["verdict"].tolist()
        ['reproduced', 'inconclusive']
    """
    out = comparisons.copy()
    vs = [verdict(r, min_effect, claim=claim, level=float(r.get("ci_level", 0.95)), power=power)
          for _, r in comparisons.iterrows()]
    out["verdict"] = [v.label for v in vs]
    out["detectable"] = [v.detectable for v in vs]
    return out
