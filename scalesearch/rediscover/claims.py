"""The statistics of the rediscovery verdicts: the declared smallest effects, the level and power, `Finding`, the
power statement (`detectable_difference`, `seeds_needed`) and the helpers that turn `compare` rows into findings.

Legend: sd, the standard deviation of per-seed paired differences (or of one arm over seeds); n, seeds; eff, the
smallest effect that matters; arm, the column that names the configurations compared.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis import Verdict, t_quantile, verdict
from scalesearch.analysis.guards import Guard

# The smallest difference that matters, declared before any data (accuracy or error, absolute).
MIN_EFFECT: Mapping[str, float] = {"accuracy": 0.005, "train_error": 0.01}
LEVEL = 0.95
POWER = 0.8
ALPHA_ONE_SIDED = (1 - LEVEL) / 2  # 0.025: the one-sided level of a 95% two-sided interval


@dataclass
class Finding:
    """One claim tested: the paper's statement and numbers, ours, the interval and the verdict."""

    claim: str
    paper: str
    ours: str
    diff: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    verdict: str = "inconclusive"
    detectable: float = math.nan
    n_seeds: int = 0
    note: str = ""
    size: str = ""  # a reproduced effect against the smallest effect that matters: "at least", "uncertain", "smaller"
    reversed: bool = False  # the interval lies wholly against the claim (printed beside the verdict)
    min_effect: float = math.nan  # the smallest effect that matters, in the difference's units
    paper_effect: float = math.nan  # the paper's own difference in the same units and direction, where it has one

    def words(self) -> str:
        """The verdict in words, with a reproduced effect's size against the smallest effect that matters or a
        significant reversal beside it (pp): the one rule of `analysis.verdict`, as the page prints it."""
        if self.verdict in ("reproduced", "not reproduced", "not decidable") and not math.isnan(self.min_effect):
            return verdict_of(self).words()
        return self.verdict


def verdict_of(f: Finding) -> Verdict:
    """The `analysis.Verdict` a finding carries (its interval, label, size and reversal)."""
    return Verdict(f.verdict, f.diff, f.lo, f.hi, f.min_effect, f.detectable, POWER, LEVEL, f.size, f.reversed)


def judged(claim: str, paper: str, ours: str, diff: float, lo: float, hi: float, effect: float, *, n: int = 0,
           gate: bool = True, note: str = "", direction: str = "greater", holm_p: float | None = None) -> Finding:
    """A Finding whose verdict is `analysis.verdict`'s (the one rule) on the interval (diff, lo, hi). A secondary
    claim passes its Holm-adjusted p-value (`holm_p`): "reproduced" then also needs it below ALPHA_ONE_SIDED, and an
    interval that excludes 0 alone is "inconclusive" (said in the note)."""
    v = verdict((diff, lo, hi), effect, claim=direction, level=LEVEL, power=POWER, gate=gate)
    f = Finding(claim, paper, ours, diff, lo, hi, v.label, float(v.detectable), n, note, v.size, v.reversed, effect)
    if holm_p is not None and f.verdict == "reproduced" and not holm_p < ALPHA_ONE_SIDED:
        f.verdict, f.size = "inconclusive", ""
        f.note += "; its interval excludes 0 alone, not after Holm's adjustment"
    return f


# --------------------------------------------------------------------------------------------------------------
# Power


def pp_interval(diff: float, lo: float, hi: float) -> str:
    """A difference of fractions and its interval in percentage points: "+0.38 pp [+0.05, +0.70]"."""
    return f"{diff * 100:+.2f} pp [{lo * 100:+.2f}, {hi * 100:+.2f}]"


def detectable_difference(sd: float, n: int, *, level: float = LEVEL, power: float = POWER) -> float:
    """The smallest true paired difference a t interval over n seeds detects with the given power.

    (t_{(1+level)/2, n-1} + t_{power, n-1}) * sd / sqrt(n), sd being the standard deviation of the per-seed
    differences (or sqrt(2) * the per-arm seed SD when unpaired). NaN for n < 2.

    Example:
        >>> round(detectable_difference(0.004, 5), 4)  # (t_0.975,4 + t_0.8,4) * 0.004 / sqrt(5)
        0.0066
    """
    if n < 2 or math.isnan(sd):
        return math.nan
    return (t_quantile((1 + level) / 2, n - 1) + t_quantile(power, n - 1)) * sd / math.sqrt(n)


def seeds_needed(sd: float, effect: float, *, level: float = LEVEL, power: float = POWER, most: int = 200) -> int:
    """The fewest seeds whose `detectable_difference` is at most `effect` (`most` + 1 when none up to `most`).

    Example:
        >>> seeds_needed(0.004, 0.005)
        8
    """
    for n in range(2, most + 1):
        if detectable_difference(sd, n, level=level, power=power) <= effect:
            return n
    return most + 1


def paired_sd(df: pd.DataFrame, arm: str, metric: str, by: Sequence[str] = ()) -> float:
    """The pooled SD of per-seed differences between arms (within each `by` group), from every pair of arms."""
    sds = []
    groups = df.groupby(list(by), observed=True) if by else [((), df)]
    for _, g in groups:
        wide = g.pivot_table(index="seed", columns=arm, values=metric, aggfunc="mean")
        cols = list(wide.columns)
        for i in range(len(cols)):
            for j in range(i + 1, len(cols)):
                d = (wide[cols[i]] - wide[cols[j]]).dropna()
                if len(d) >= 2:
                    sds.append((float(d.var(ddof=1)), len(d) - 1))
    if not sds:
        return math.nan
    return math.sqrt(sum(v * k for v, k in sds) / sum(k for _, k in sds))


def seed_sd(df: pd.DataFrame, cols: Sequence[str], metric: str) -> float:
    """The pooled within-configuration SD of `metric` over seeds."""
    parts = [(float(g[metric].var(ddof=1)), len(g) - 1) for _, g in df.groupby(list(cols), observed=True)
             if g[metric].notna().sum() >= 2]
    if not parts:
        return math.nan
    return math.sqrt(sum(v * k for v, k in parts) / sum(k for _, k in parts))


def power_lines(sd_diff: float, sd_seed: float, n: int, effect: float, what: str) -> list[str]:
    """The sentence on the noise and the power of `n` seeds to detect `effect` (or why it cannot be measured)."""
    if math.isnan(sd_diff):
        return [f"{what}: not enough seeds to measure the noise (need two per arm)."]
    det = detectable_difference(sd_diff, n)
    need = seeds_needed(sd_diff, effect)
    return [(f"{what}: seed-to-seed SD of one arm {sd_seed * 100:.2f} pp; SD of the per-seed paired difference "
             f"{sd_diff * 100:.2f} pp. With {n} seeds a paired t interval ({LEVEL:.0%}) detects a true difference "
             f"of {det * 100:.2f} pp with {POWER:.0%} power; the smallest difference that matters here is "
             f"{effect * 100:.2f} pp, which needs {need if need <= 200 else '> 200'} seeds at this noise.")]


# --------------------------------------------------------------------------------------------------------------
# From `compare` rows and trials to findings and tables


def power_by(df: pd.DataFrame, arm: str, metric: str, by: str, effect: float, what: str) -> list[str]:
    """`power_lines` for each level of `by` (the noise differs between, e.g., plain and residual nets)."""
    out = []
    for level, g in df.groupby(by, sort=False, observed=True):
        n = int(g.groupby(arm, observed=True)["seed"].nunique().max())
        out += power_lines(paired_sd(g, arm, metric), seed_sd(g, [arm], metric), n, effect,
                           f"{what}, {by} = {level}")
    return out


def finding(claim: str, paper: str, row: Mapping[str, Any] | None, effect: float, *,
            direction: str = "greater", what: str = "val acc", note: str = "") -> Finding:
    """A Finding from one `compare` row (diff = arm - baseline), tested in the claimed direction."""
    if row is None:
        return Finding(claim, paper, "not run", note=note or "no completed trials for this comparison")
    v = verdict(row, effect, claim=direction, level=float(row.get("ci_level", LEVEL)), power=POWER)
    ours = (f"{what} {row['mean'] * 100:.2f} vs {row['mean_baseline'] * 100:.2f} %: "
            f"diff {pp_interval(row['diff'], row['lo'], row['hi'])}")
    return Finding(claim, paper, ours, float(row["diff"]), float(row["lo"]), float(row["hi"]), v.label,
                   float(v.detectable), int(row.get("n_pairs") or min(row["n"], row["n_baseline"])), note, v.size,
                   v.reversed, effect)


def row_where(cmp: pd.DataFrame, **eq: Any) -> Mapping[str, Any] | None:
    """The first `compare` row whose columns equal `eq` (as a mapping), None when none does."""
    m = np.ones(len(cmp), dtype=bool)
    for k, v in eq.items():
        m &= (cmp[k] == v).to_numpy()
    return None if not m.any() else cmp[m].iloc[0].to_dict()


def aggregate_by(df: pd.DataFrame, by: Sequence[str], metric: str = "val_acc") -> pd.DataFrame:
    """Mean, SD, n and t interval of `metric` per group, and the group's mean MACs/acts."""
    rows = []
    for key, g in df.groupby(list(by), sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        x = g[metric].dropna().to_numpy(dtype=float)
        n = len(x)
        mean = float(x.mean()) if n else math.nan
        sd = float(x.std(ddof=1)) if n >= 2 else math.nan
        h = t_quantile((1 + LEVEL) / 2, n - 1) * sd / math.sqrt(n) if n >= 2 else math.nan
        rows.append({**dict(zip(by, key, strict=True)), "n": n, "mean": mean, "sd": sd, "lo": mean - h, "hi": mean + h,
                     "macs": float(g["macs"].mean()), "acts": float(g["acts"].mean()),
                     "params": float(g["params"].mean())})
    return pd.DataFrame(rows)


# The planned looks' helpers, shared by the redesigned experiments (one study per look).

def one_sided_p(d: pd.Series, shift: float = 0.0) -> float:
    """One-sided p of a paired t test that mean(d) > shift."""
    from scipy import stats as sps

    x = d.to_numpy(dtype=float) - shift
    if len(x) < 2:
        return math.nan
    se = x.std(ddof=1) / math.sqrt(len(x))
    if se == 0:
        return 0.0 if x.mean() > 0 else 1.0
    return float(sps.t.sf(x.mean() / se, len(x) - 1))


def t_row(d: pd.Series) -> dict[str, float]:
    """The mean of paired differences `d` with its two-sided t interval at LEVEL, and the number of pairs."""
    n = len(d)
    h = t_quantile((1 + LEVEL) / 2, n - 1) * d.std(ddof=1) / math.sqrt(n) if n >= 2 else math.nan
    return {"diff": float(d.mean()) if n else math.nan, "lo": float(d.mean() - h), "hi": float(d.mean() + h),
            "n": n}


def epochs_of(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], complete: Sequence[bool]) -> pd.DataFrame:
    """The complete looks' epochs, with `look` (trial numbers repeat between looks)."""
    parts = [e.assign(look=i + 1) for i, (_, (_, _, e)) in enumerate(data.items()) if complete[i]]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def look_pairs(done: pd.DataFrame, column: str, a: Any, b: Any, metric: str = "val_acc") -> pd.Series:
    """`metric` of the trials with `column` == a minus those with `column` == b, one value per (look, repeat)
    pair (the trials of one seed in one look); empty when either arm is missing."""
    w = done.pivot_table(index=["look", "repeat"], columns=column, values=metric)
    if a not in w.columns or b not in w.columns:
        return pd.Series(dtype=float)
    return (w[a] - w[b]).dropna()


def complete_looks(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], complete: Sequence[bool],
                   prepare: Any) -> pd.DataFrame:
    """The complete looks' trials, each prepared by `prepare(trials, epochs)` (completed rows with the metric the
    experiment reads), concatenated with `look` (1-based); empty when no look is complete."""
    parts = [prepare(t, e).assign(look=i + 1) for i, (_, (_, t, e)) in enumerate(data.items()) if complete[i]]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def control_finding(done: pd.DataFrame, column: str, arm: Any, base: Any, claim: str, paper: str) -> Finding:
    """A positive control over the complete looks: `arm` beats `base` in val_acc, paired by (look, repeat); it
    passes only if the 95% paired t interval's lower end is above 0."""
    d = look_pairs(done, column, arm, base)
    row = t_row(d)
    mean = done.groupby(column)["val_acc"].mean()
    ours = (f"val acc {mean.get(arm, math.nan) * 100:.2f} vs {mean.get(base, math.nan) * 100:.2f} %: diff "
            f"{pp_interval(row['diff'], row['lo'], row['hi'])} over {row['n']} seeds "
            "(95% paired t)")
    ok = len(d) >= 2 and row["lo"] > 0
    return Finding(claim, paper, ours, row["diff"], row["lo"], row["hi"], "passed" if ok else "failed", math.nan,
                   row["n"], "passes only if the interval's lower end is above 0")


def look_guards(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], complete: Sequence[bool],
                pairs: Sequence[tuple[str, str, str]], *, metric: str = "val_acc",
                prepare: Any = None) -> list[str]:
    """The regime guards of `scalesearch compare` on each complete look's study (in look order), for each
    (label, A, B) pair of filter expressions, paired by repeat: one line per guard, "<study> (look i), <label>:
    <guard>". `prepare(trials, epochs)` gives the table compared (default: the trials as they are)."""
    from scalesearch.results.compare import compare_frames
    from scalesearch.spec import parse_spec

    lines = []
    for i, (study, (record, trials, epochs)) in enumerate(data.items()):
        if not complete[i]:
            continue
        spec = parse_spec(record.spec_text, f"<study {study}>")
        table = trials if prepare is None else prepare(trials, epochs)
        for label, a, b in pairs:
            cmp = compare_frames(table, epochs, spec, a, b, study=study, metric=metric, pair_by="repeat")
            lines += [f"{study} (look {i + 1}), {label}: {g.line()}" for g in cmp.guards]
    return lines


def look_memorising(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], complete: Sequence[bool],
                    column: str, arms: Sequence[Any], base: Any) -> Guard:
    """The memorising guard of `scalesearch compare` over the complete looks pooled: each arm (`column` == arm)
    minus `base` in the last epoch's train_acc and in val_acc, paired by (look, repeat) as `look_pairs` pairs
    them (95% paired t); the trials named per look. A diagnostic printed beside the verdicts, never a gate.

    Returns:
        The Guard (`.line()` is the line to print).
    """
    from scalesearch.results.compare import last_epoch, memorising_guard

    done = complete_looks(data, complete, lambda t, e: t[t["state"] == "COMPLETE"])
    if done.empty:
        return memorising_guard({}, done)
    train = last_epoch(epochs_of(data, complete), keys=("look", "number"))
    done = done.assign(train_acc=[train.get((lk, n), math.nan) for lk, n in zip(done["look"], done["number"],
                                                                                strict=True)])
    return memorising_guard({str(a): done[done[column] == a] for a in arms}, done[done[column] == base],
                            pair_by=["look", "repeat"], level=LEVEL, group="look")


def look_finding(claim: str, paper: str, ours: str, lt: Any, effect: float, *, gate: bool = True,
                 gate_reason: str = "the positive control failed") -> Finding:
    """A sequentially tested claim at its look `lt` (an `analysis.sequential.LookTest`): the one verdict rule
    (`judged`) on the look's repeated confidence interval once the boundary is crossed or at the final look
    ("reproduced" with its size, "not reproduced", "inconclusive"; "not decidable" when `gate` failed, at any look);
    "continue to look k+1" before that."""
    note = f"look {lt.look} of {lt.looks}: z boundary {lt.bound_z:.3f}"
    if lt.crossed and lt.look < lt.looks:
        note += f"; decided at look {lt.look} (its boundary crossed)"
    if not gate:
        note += f"; {gate_reason}"
    if gate and not lt.crossed and lt.look < lt.looks:
        return Finding(claim, paper, ours, lt.diff, lt.lo, lt.hi, f"continue to look {lt.look + 1}", math.nan,
                       lt.n, note, min_effect=effect)
    return judged(claim, paper, ours, lt.diff, lt.lo, lt.hi, effect, n=lt.n, gate=gate, note=note)


def ranking_line(done: pd.DataFrame, column: str, arms: Sequence[Any], metric: str = "val_acc", *,
                 gate: str = "") -> str:
    """Whether `arms` (values of `column`) may be ranked: Friedman's test over them (blocks: the seeds, i.e. (look,
    repeat) pairs, that trained every arm; paired), then each adjacent pair in the order of the means with its 95%
    paired t interval. A ranking is printed only where Friedman rejects at 0.05, every adjacent interval lies
    above 0 and no declared gate failed (`gate`: why one did, e.g. a failed positive control); otherwise the line
    says which link or gate does not support it."""
    from scipy import stats as st

    w = done[done[column].isin(arms)].pivot_table(index=["look", "repeat"], columns=column, values=metric)
    w = w.reindex(columns=list(arms)).dropna()
    if len(w) < 2:
        return f"fewer than 2 seeds trained every one of {', '.join(map(str, arms))}: no omnibus test, no ranking."
    with np.errstate(invalid="ignore", divide="ignore"):  # every block tied: the statistic is undefined
        chi2, p = st.friedmanchisquare(*[w[a].to_numpy() for a in arms])
    if math.isnan(p):
        chi2, p = 0.0, 1.0
    order = list(w.mean().sort_values(ascending=False).index)
    links = []  # (a, b, "a - b +x pp [lo, hi]", supported)
    for a, b in itertools.pairwise(order):
        row = t_row(w[a] - w[b])
        links.append((a, b, f"{a} - {b} {pp_interval(row['diff'], row['lo'], row['hi'])}", row["lo"] > 0))
    head = (f"Friedman's test (paired by seed, {len(w)} seeds) chi2 = {chi2:.2f}, p = {p:.2g}; adjacent pairs "
            f"by mean: {'; '.join(text for *_, text, _ in links)}.")
    if p < 0.05 and all(ok for *_, ok in links):
        if gate:
            return head + f" Order by mean {' > '.join(map(str, order))}, not claimed: {gate}."
        return head + f" Ranking supported: {' > '.join(map(str, order))}."
    why = ("Friedman's test does not reject at 0.05" if p >= 0.05 else "the interval of " + ", ".join(
        f"{a} - {b}" for a, b, _, ok in links if not ok) + " reaches 0")
    return head + f" No ranking claimed: {why}."
