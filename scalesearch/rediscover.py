"""The rediscovery experiments of issue 16: from a study's trials, each finding's verdict with intervals over seeds.

Four experiments, each one or two spec files in `spaces/` (a `_pilot` twin measures the seed noise first):

    efficientnet-step1   rediscover_efficientnet_step1     grid over alpha, beta at phi = 1; the paper's point ranked
    efficientnet-step2   rediscover_efficientnet_step2     compound vs depth/width/resolution-only vs fast dWr at the
                                                           compound model's MACs, phi = 1..3; scaling fit phi <= 2
    resnext              rediscover_resnext_cwd,           2x complexity by cardinality/width/depth; the cardinality
                         rediscover_resnext_cardinality    sweep at fixed complexity; both at two training lengths
    degradation          rediscover_degradation            plain vs residual at two depths: final training error

`analyse(experiment, db)` reads the studies (read-only), computes the verdicts with `scalesearch.analysis.compare`
(Student t intervals, paired by seed: every configuration's repeat r trains with the same seed) and
`scalesearch.analysis.verdict` against a smallest effect that matters declared here (`MIN_EFFECT`, never tuned to
the data), and `write(...)` puts results/<study>/rediscovery.md (+ .json, + figures) beside the study's report and
rebuilds results/REDISCOVERY.md from every experiment's JSON found. `efficientnet_b_table` is the B0 -> B7 analysis
(no training): the phi each released model's multipliers imply, and its exact MACs against the nominal 2**phi.

Each output says whether it comes from a pilot, a partial run or a full run, and gives the hardware, the wall time,
the seeds and the budget. The command is `scalesearch rediscover EXPERIMENT [--pilot] [--run] [--db URL]`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis import compare, t_quantile, verdict

__all__ = ["EXPERIMENTS", "MIN_EFFECT", "Experiment", "Finding", "Outcome", "PAPER_COEFFICIENTS", "add_commands",
           "analyse", "detectable_difference", "efficientnet_b_table", "seeds_needed", "step2_spec_text", "write",
           "write_summary"]

# The smallest difference that matters, declared before any data (accuracy or error, absolute).
MIN_EFFECT: Mapping[str, float] = {"accuracy": 0.005, "train_error": 0.01}
PAPER_COEFFICIENTS = (1.2, 1.1, 1.15)
DEFAULT_DB = "results/rediscover.db"
LEVEL = 0.95
POWER = 0.8
# The proxy B0 of experiments 1 and 2: B0's layout at width 0.5, depth 0.5, with a stride-1 stem, at 16 px.
PROXY_B0 = {"width": 0.5, "depth": 0.5, "resolution": 16, "stem_stride": 1}
# Fast compound scaling (Dollar et al.): FLOPs x s by d = s**e_d, w = s**(e_w / 2), r = s**(e_r / 2), with
# e_w = a, e_d = e_r = (1 - a) / 2; a = 0.8 is "dWr".
DWR_ALPHA = 0.8


@dataclass(frozen=True)
class Experiment:
    """One rediscovery experiment: its studies' spec files (full and pilot) and what the paper reports."""

    name: str
    title: str
    specs: tuple[str, ...]
    paper: str
    analyse: Callable[..., list[Finding]] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def studies(self, pilot: bool = False) -> tuple[str, ...]:
        """The study names (`<stem>` or `<stem>_pilot`)."""
        return tuple(Path(s).stem + ("_pilot" if pilot else "") for s in self.specs)

    def spec_files(self, pilot: bool = False) -> tuple[str, ...]:
        """The spec files to run."""
        return tuple(s.replace(".yaml", "_pilot.yaml") if pilot else s for s in self.specs)


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


@dataclass
class Outcome:
    """What `analyse` returns: the findings, tables to print, figures written, provenance and the power statement."""

    experiment: str
    studies: tuple[str, ...]
    status: str
    findings: list[Finding]
    tables: dict[str, pd.DataFrame]
    provenance: dict[str, Any]
    power: list[str]
    notes: list[str]
    figures: list[str] = field(default_factory=list)
    missing: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------------------
# Power


def detectable_difference(sd: float, n: int, *, level: float = LEVEL, power: float = POWER) -> float:
    """The smallest true paired difference a t interval over n seeds detects with the given power.

    (t_{(1+level)/2, n-1} + t_{power, n-1}) * sd / sqrt(n), sd being the standard deviation of the per-seed
    differences (or sqrt(2) * the per-arm seed SD when unpaired). NaN for n < 2.

    Example:
        >>> round(detectable_difference(0.004, 5), 4)  # (t_0.975,4 + t_0.8,4) * 0.004 / sqrt(5)
        0.0066
    """
    if n < 2 or not sd == sd:
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


def _paired_sd(df: pd.DataFrame, arm: str, metric: str, by: Sequence[str] = ()) -> float:
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


def _seed_sd(df: pd.DataFrame, cols: Sequence[str], metric: str) -> float:
    """The pooled within-configuration SD of `metric` over seeds."""
    parts = [(float(g[metric].var(ddof=1)), len(g) - 1) for _, g in df.groupby(list(cols), observed=True)
             if g[metric].notna().sum() >= 2]
    if not parts:
        return math.nan
    return math.sqrt(sum(v * k for v, k in parts) / sum(k for _, k in parts))


def _power_lines(sd_diff: float, sd_seed: float, n: int, effect: float, what: str) -> list[str]:
    if not sd_diff == sd_diff:
        return [f"{what}: not enough seeds to measure the noise (need two per arm)."]
    det = detectable_difference(sd_diff, n)
    need = seeds_needed(sd_diff, effect)
    return [f"{what}: seed-to-seed SD of one arm {sd_seed * 100:.2f} pp; SD of the per-seed paired difference "
            f"{sd_diff * 100:.2f} pp. With {n} seeds a paired t interval ({LEVEL:.0%}) detects a true difference "
            f"of {det * 100:.2f} pp with {POWER:.0%} power; the smallest difference that matters here is "
            f"{effect * 100:.2f} pp, which needs {need if need <= 200 else '> 200'} seeds at this noise."]


# --------------------------------------------------------------------------------------------------------------
# Shared helpers


def _power_by(df: pd.DataFrame, arm: str, metric: str, by: str, effect: float, what: str) -> list[str]:
    """`_power_lines` for each level of `by` (the noise differs between, e.g., plain and residual nets)."""
    out = []
    for level, g in df.groupby(by, sort=False, observed=True):
        n = int(g.groupby(arm, observed=True)["seed"].nunique().max())
        out += _power_lines(_paired_sd(g, arm, metric), _seed_sd(g, [arm], metric), n, effect,
                            f"{what}, {by} = {level}")
    return out


def _finding(claim: str, paper: str, row: Mapping[str, Any] | None, effect: float, *,
             direction: str = "greater", what: str = "val acc", note: str = "") -> Finding:
    """A Finding from one `compare` row (diff = arm - baseline), tested in the claimed direction."""
    if row is None:
        return Finding(claim, paper, "not run", note=note or "no completed trials for this comparison")
    v = verdict(row, effect, claim=direction, level=float(row.get("ci_level", LEVEL)), power=POWER)
    ours = (f"{what} {row['mean'] * 100:.2f} vs {row['mean_baseline'] * 100:.2f} %: "
            f"diff {row['diff'] * 100:+.2f} pp [{row['lo'] * 100:+.2f}, {row['hi'] * 100:+.2f}]")
    return Finding(claim, paper, ours, float(row["diff"]), float(row["lo"]), float(row["hi"]), v.label,
                   float(v.detectable), int(row.get("n_pairs") or min(row["n"], row["n_baseline"])), note)


def _one(cmp: pd.DataFrame, **eq: Any) -> Mapping[str, Any] | None:
    m = np.ones(len(cmp), dtype=bool)
    for k, v in eq.items():
        m &= (cmp[k] == v).to_numpy()
    return None if not m.any() else cmp[m].iloc[0].to_dict()


def _agg(df: pd.DataFrame, by: Sequence[str], metric: str = "val_acc") -> pd.DataFrame:
    """Mean, SD, n and t interval of `metric` per group, and the group's mean MACs/acts."""
    rows = []
    for key, g in df.groupby(list(by), sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        x = g[metric].dropna().to_numpy(dtype=float)
        n = len(x)
        mean = float(x.mean()) if n else math.nan
        sd = float(x.std(ddof=1)) if n >= 2 else math.nan
        h = t_quantile((1 + LEVEL) / 2, n - 1) * sd / math.sqrt(n) if n >= 2 else math.nan
        rows.append({**dict(zip(by, key)), "n": n, "mean": mean, "sd": sd, "lo": mean - h, "hi": mean + h,
                     "macs": float(g["macs"].mean()), "acts": float(g["acts"].mean()),
                     "params": float(g["params"].mean())})
    return pd.DataFrame(rows)


def _status(record: Any, trials: pd.DataFrame, pilot: bool) -> str:
    planned = getattr(record, "planned", None)
    done = int((trials["state"] == "COMPLETE").sum())
    unfinished = int(trials["state"].isin(["QUEUED", "RUNNING", "INTERRUPTED"]).sum())
    if unfinished or (planned and done + int(trials["state"].isin(["REJECTED", "FAILED", "PRUNED"]).sum())
                      < planned) or getattr(record, "finished", None) is None:
        return "pilot-partial" if pilot else "partial"
    return "pilot" if pilot else "full"


def _provenance(record: Any, trials: pd.DataFrame) -> dict[str, Any]:
    import yaml

    spec = yaml.safe_load(record.spec_text) or {}
    done = trials[trials["state"] == "COMPLETE"]
    return {
        "study": record.name, "spec_file": record.spec_file, "state": record.state,
        "dataset": spec.get("dataset"), "train": spec.get("train"), "repeats": record.repeats,
        "seeds": sorted(int(s) for s in done["seed"].dropna().unique()),
        "trials": {k: int(v) for k, v in trials["state"].value_counts().items()},
        "wall_seconds": float(record.wall_seconds or 0.0),
        "train_seconds": float(done["wall_s"].fillna(0).sum()),
        "hardware": dict(record.hardware or {}), "started": str(record.started), "finished": str(record.finished),
    }


def _load(db: str, study: str) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    from scalesearch import results

    reader = results.open_reader(db)
    try:
        record = reader.study(study)
        trials = results.load_trials(reader, study)
        epochs = results.load_epochs(reader, study)
    finally:
        reader.close()
    return record, trials, epochs


def _complete(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[(trials["state"] == "COMPLETE") & trials["val_acc"].notna()].copy()


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


# --------------------------------------------------------------------------------------------------------------
# Experiment 1: EfficientNet step 1


def _analyse_step1(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path,
                   ) -> tuple[list[Finding], dict[str, pd.DataFrame], list[str], list[str], list[str]]:
    (_, trials, _), = data.values()
    df = _complete(trials)
    df = df[df["phi"] == 1] if "phi" in df.columns else df
    eff = MIN_EFFECT["accuracy"]
    if df.empty:
        return [Finding("the paper's (1.2, 1.1, 1.15) is among the best coefficients", "1.2, 1.1, 1.15", "not run")
                ], {}, [], ["no completed phi = 1 trials"], []
    df["coef"] = [f"{a:g}, {b:g}, {g:.3f}" for a, b, g in zip(df["alpha"], df["beta"], df["gamma"])]
    base_macs = float(trials.loc[trials["point"] == "baseline", "macs"].iloc[0]) \
        if (trials["point"] == "baseline").any() else math.nan
    agg = _agg(df, ["coef", "alpha", "beta", "gamma"]).sort_values("mean", ascending=False, kind="stable")
    agg["macs_x_b0"] = agg["macs"] / base_macs
    agg["rank"] = np.arange(1, len(agg) + 1)
    best = agg.iloc[0]["coef"]
    cmp = compare(df, "coef", baseline=best, method="t", paired="auto", seed_col="seed")
    tied = [best] + [r["arm"] for _, r in cmp.iterrows() if not r["hi"] < 0]
    agg["vs_best"] = agg["coef"].map(lambda c: "best" if c == best else (
        "tied" if c in tied else "worse"))
    paper_key = f"{PAPER_COEFFICIENTS[0]:g}, {PAPER_COEFFICIENTS[1]:g}, "
    paper = agg[agg["coef"].str.startswith(paper_key)]
    findings = []
    if paper.empty:
        findings.append(Finding("the paper's (1.2, 1.1, 1.15) is among the best", "1.2, 1.1, 1.15 best on "
                                "ImageNet", "paper point not trained"))
    else:
        p = paper.iloc[0]
        row = _one(cmp, arm=p["coef"])
        if row is None:  # the paper's point is the best
            f = Finding("the paper's (1.2, 1.1, 1.15) is among the best (within the smallest effect that matters)",
                        "1.2, 1.1, 1.15 chosen by grid search on B0 (ImageNet)",
                        f"ranked 1 of {len(agg)}: val acc {p['mean'] * 100:.2f} % [{p['lo'] * 100:.2f}, "
                        f"{p['hi'] * 100:.2f}]", 0.0, 0.0, 0.0, "reproduced", math.nan, int(p["n"]))
        else:
            # non-inferiority: paper - best > -eff ; written as verdict on (paper - best + eff) with effect eff
            shifted = {**row, "diff": row["diff"] + eff, "lo": row["lo"] + eff, "hi": row["hi"] + eff}
            f = _finding("the paper's (1.2, 1.1, 1.15) is among the best (within the smallest effect that matters)",
                         "1.2, 1.1, 1.15 chosen by grid search on B0 (ImageNet)", shifted, 0.0,
                         note="non-inferiority: the interval of (paper - best) must lie above "
                              f"-{eff * 100:.1f} pp; the best is selected on the same data, so this favours the best")
            f.ours = (f"ranked {int(p['rank'])} of {len(agg)}; paper - best ({best}) = {row['diff'] * 100:+.2f} pp "
                      f"[{row['lo'] * 100:+.2f}, {row['hi'] * 100:+.2f}]")
            f.diff, f.lo, f.hi = row["diff"], row["lo"], row["hi"]
        findings.append(f)
    b = agg.iloc[0]
    findings.append(Finding("found coefficients (best mean at phi = 1)", "alpha, beta, gamma = 1.2, 1.1, 1.15",
                            f"{best}: val acc {b['mean'] * 100:.2f} % [{b['lo'] * 100:.2f}, {b['hi'] * 100:.2f}]; "
                            f"{len(tied)} of {len(agg)} not distinguishable from it: {'; '.join(tied)}",
                            verdict="measured", n_seeds=int(b["n"])))
    rho = float(pd.Series(agg["macs_x_b0"]).rank().corr(pd.Series(agg["mean"]).rank()))
    notes = [f"At this proxy size the channel (multiple of 8) and repeat (ceil) rounding make phi = 1 cost "
             f"{agg['macs_x_b0'].min():.2f}x to {agg['macs_x_b0'].max():.2f}x the proxy B0's MACs instead of the "
             f"nominal 2x; Spearman correlation of MACs and accuracy over the grid {rho:+.2f}. A coefficient that "
             "wins by rounding up to more MACs is not the paper's finding."]
    if not paper.empty and abs(float(paper.iloc[0]["gamma"]) - PAPER_COEFFICIENTS[2]) > 1e-3:
        notes.append(f"The 'paper' point trains alpha, beta = 1.2, 1.1 with gamma derived for a product of exactly 2 "
                     f"(gamma = {float(paper.iloc[0]['gamma']):.3f}); the paper's own gamma 1.15 gives a product of "
                     "1.92 and lies off this grid's constraint surface.")
    sd_d = _paired_sd(df, "coef", "val_acc")
    power = _power_lines(sd_d, _seed_sd(df, ["coef"], "val_acc"), int(agg["n"].max()), eff, "accuracy")
    figs: list[str] = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        piv = agg.pivot_table(index="alpha", columns="beta", values="mean")
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        im = ax.imshow(piv.to_numpy() * 100, origin="lower", cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(piv.columns)), [f"{c:g}" for c in piv.columns])
        ax.set_yticks(range(len(piv.index)), [f"{c:g}" for c in piv.index])
        ax.set_xlabel("beta (width)")
        ax.set_ylabel("alpha (depth)")
        ax.set_title("val acc (%) at phi = 1, mean over seeds")
        for i in range(piv.shape[0]):
            for j in range(piv.shape[1]):
                v = piv.to_numpy()[i, j]
                if v == v:
                    ax.text(j, i, f"{v * 100:.1f}", ha="center", va="center", color="w", fontsize=8)
        fig.colorbar(im, ax=ax)
        figs += _save(fig, folder, "rediscover_grid")
    except (ValueError, KeyError):
        pass
    return findings, {"grid (ranked)": agg}, power, notes, figs


# --------------------------------------------------------------------------------------------------------------
# Experiment 2: EfficientNet step 2 (spec generation, analysis) and B0 -> B7


STEP2_STRATEGIES = ("compound", "dwr", "depth", "width", "resolution")


def _proxy_macs(wm: float, dm: float, res: int) -> int:
    from scalesearch import arch, cost

    return cost.count(arch.efficientnet(PROXY_B0["width"] * wm, PROXY_B0["depth"] * dm, resolution=res,
                                        stem_stride=PROXY_B0["stem_stride"], in_channels=1, num_classes=10)).macs


def step2_spec_text(alpha: float = PAPER_COEFFICIENTS[0], beta: float = PAPER_COEFFICIENTS[1],
                    gamma: float = PAPER_COEFFICIENTS[2], *, phis: Sequence[int] = (1, 2, 3),
                    single_phis: Sequence[int] = (1, 2), pilot: bool = False,
                    source: str = "the paper's coefficients") -> str:
    """The step-2 spec: the proxy B0 scaled at each phi by compound (alpha, beta, gamma), by fast compound dWr and
    by depth, width or resolution alone, each single-dimension arm matched to the compound model's MACs.

    Every configuration is a named point (`points_only`); `tm` is the compound model's MACs / the proxy B0's at that
    phi, the target of the matched multiplier (dk, wk: hundredths; rk: pixels). dWr scales MACs by s = tm with
    d = s**0.1, w = s**0.4, r = 16 * s**0.05 (Dollar et al., alpha = 0.8). The compound model is trained at every
    phi of `phis` (the largest is the power law's held-out point); the other four strategies at `single_phis`.
    """
    r0 = PROXY_B0["resolution"]
    lines = []
    for phi in phis:
        d, w, r = alpha ** phi, beta ** phi, int(round(r0 * gamma ** phi))
        tm = _proxy_macs(w, d, r) / _proxy_macs(1.0, 1.0, r0)
        lines.append(f"  compound_phi{phi}: {{strategy: compound, phi: {phi}, tm: {tm:.4f}, dm: {d:.4f}, "
                     f"wm: {w:.4f}, r: {r}}}")
        for s in ("dwr", "depth", "width", "resolution") if phi in single_phis else ():
            lines.append(f"  {s}_phi{phi}: {{strategy: {s}, phi: {phi}, tm: {tm:.4f}}}")
    study = "rediscover_efficientnet_step2" + ("_pilot" if pilot else "")
    size = "train_size: 3000, val_size: 1000" if pilot else "train_size: 5000, val_size: 2000"
    epochs, repeats = (4, 2) if pilot else (6, 4)
    head = ("# PILOT of spaces/rediscover_efficientnet_step2.yaml (3000 images, 4 epochs, 2 seeds).\n" if pilot
            else "")
    phi_list = ", ".join(map(str, phis))
    single_list = ", ".join(map(str, single_phis))
    return f"""{head}# Rediscovery, issue 16, experiment 2: EfficientNet step 2 (Tan & Le Fig. 8, Table 3) and fast compound
# scaling (Dollar et al.). Written by `scalesearch rediscover efficientnet-step2 --write-spec` from {source}:
# alpha, beta, gamma = {alpha:g}, {beta:g}, {gamma:g}. The proxy B0 of experiment 1 (B0's layout at width 0.5,
# depth 0.5, stride-1 stem, 16 px; see spaces/rediscover_efficientnet_step1.yaml) is scaled by compound scaling
# (alpha**phi, beta**phi, gamma**phi) at phi = {phi_list}, and at phi = {single_list} also by fast compound dWr
# (d = s**0.1, w = s**0.4, r = s**0.05 with s = sk / 100) and by depth, width or resolution alone, every
# non-compound arm matched to the compound model's MACs (tm * base_macs): depth multiplier dk / 100, width
# multiplier wk / 100, resolution rk pixels, dWr's sk / 100. The largest phi is compound only: the held-out point
# of the power law fitted on the smaller ones (the session's CPU budget, docs/rediscovery.md).
# Proxy-task sized: Fashion-MNIST, {size.replace(', ', ' / ')}, {epochs} epochs, {repeats} seeds.
study: {study}
seed: 0
dataset: {{name: fashion-mnist, {size}, resolution: 16}}
train: {{epochs: {epochs}, batch_size: 128, lr: 0.1, warmup_epochs: 1, weight_decay: 5.0e-5, crop_padding: 2}}
architecture:
  family: efficientnet
  args: {{width_mult: "0.5 * wm * wk / 100 * (sk / 100)**0.4", depth_mult: "0.5 * dm * dk / 100 * (sk / 100)**0.1",
         resolution: "round(rk * (sk / 100)**0.05)", stem_stride: 1, dropout: 0.2, drop_path: 0.0}}
parameters:
  strategy: {{fixed: compound}}
  phi: {{fixed: 0}}
  tm: {{fixed: 1.0}}                 # MACs target / base_macs: the compound model's at this phi
  dm: {{fixed: 1.0}}                 # depth multiplier (compound, dwr)
  wm: {{fixed: 1.0}}                 # width multiplier (compound, dwr)
  r: {{fixed: 16}}                   # resolution (compound, dwr)
  dk: {{match: {{target: "tm * base_macs", low: 100, high: 4000, when: "strategy == 'depth'", otherwise: 100}}}}
  wk: {{match: {{target: "tm * base_macs", low: 100, high: 800, when: "strategy == 'width'", otherwise: 100}}}}
  rk: {{match: {{target: "tm * base_macs", low: 16, high: 256, when: "strategy == 'resolution'", otherwise: r}}}}
  sk: {{match: {{target: "tm * base_macs", low: 100, high: 4000, when: "strategy == 'dwr'", otherwise: 100}}}}
constraints:
  - "phi >= 0"                     # phi labels each point's scaling step (used here so it is not an unused name)
baseline: {{strategy: compound, phi: 0}}   # the proxy B0
points:
{chr(10).join(lines)}
search:
  sampler: grid
  points_only: true
  repeats: {repeats}
  objectives: {{val_acc: max, macs: min}}
  resources: {{cpus: 1, gpus: 0}}
  max_concurrency: 2
  time_budget_s: {3600 if pilot else 14400}
"""


def efficientnet_b_table(coefficients: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """B0 -> B7: the phi each released model's multipliers imply, and its exact MACs against the nominal 2**phi.

    For each coefficient set (alpha, beta, gamma) and each released Bk (width w, depth d, resolution r, PAPERS.md):
    phi_d = log d / log alpha, phi_w = log w / log beta, phi_r = log(r / 224) / log gamma, and phi_ls, the least-
    squares phi of the three (log of each multiplier against phi * log of its coefficient). MACs are the exact
    analytic MACs of the preset (3 x r x r input, 1000 classes, conv + linear multiply-adds); `phi_macs` =
    log2(MACs / B0's MACs), the phi the MACs imply under the 2**phi rule; `nominal_x` = 2**k for Bk.

    Args:
        coefficients: name -> (alpha, beta, gamma); default the paper's only.

    Returns:
        One row per (coefficients, Bk).
    """
    from scalesearch import arch, cost

    coefficients = dict(coefficients or {"paper": PAPER_COEFFICIENTS})
    macs0 = cost.count(arch.PRESETS["efficientnet_b0"]()).macs
    rows = []
    for name, (a, b, g) in coefficients.items():
        la, lb, lg = math.log(a), math.log(b), math.log(g)
        for k, (bname, (w, d, r, _)) in enumerate(arch.EFFICIENTNET_COEFFICIENTS.items()):
            c = cost.count(arch.PRESETS[f"efficientnet_{bname}"]())
            ld, lw, lr = math.log(d), math.log(w), math.log(r / 224)
            phi_ls = (ld * la + lw * lb + lr * lg) / (la * la + lb * lb + lg * lg)
            rows.append({"coefficients": name, "alpha": a, "beta": b, "gamma": g, "model": bname.upper(),
                         "width": w, "depth": d, "resolution": r,
                         "phi_d": ld / la if la else math.nan, "phi_w": lw / lb if lb else math.nan,
                         "phi_r": lr / lg if lg else math.nan, "phi_ls": phi_ls,
                         "macs": c.macs, "params": c.params, "macs_x_b0": c.macs / macs0,
                         "phi_macs": math.log2(c.macs / macs0), "nominal_phi": k, "nominal_x": 2.0 ** k,
                         "x_at_phi_ls": 2.0 ** phi_ls})
    return pd.DataFrame(rows)


_PAPER_B = {"B0": (0.39, 77.1), "B1": (0.70, 79.1), "B2": (1.0, 80.1), "B3": (1.8, 81.6), "B4": (4.2, 82.9),
            "B5": (9.9, 83.6), "B6": (19, 84.0), "B7": (37, 84.3)}


def _b_table_markdown(tab: pd.DataFrame) -> str:
    out = ["| coefficients | model | w | d | r | phi_d | phi_w | phi_r | phi (LS) | MACs (exact) | paper FLOPs | "
           "MACs / B0 | 2^phi (LS) | nominal 2^k | phi from MACs |", "|" + "---|" * 15]
    for _, r in tab.iterrows():
        out.append(f"| {r['coefficients']} ({r['alpha']:g}, {r['beta']:g}, {r['gamma']:g}) | {r['model']} | "
                   f"{r['width']:g} | {r['depth']:g} | {r['resolution']} | {r['phi_d']:.2f} | {r['phi_w']:.2f} | "
                   f"{r['phi_r']:.2f} | {r['phi_ls']:.2f} | {r['macs'] / 1e9:.3f} G | {_PAPER_B[r['model']][0]:g} B | "
                   f"{r['macs_x_b0']:.2f}x | {r['x_at_phi_ls']:.2f}x | {r['nominal_x']:g}x | "
                   f"{r['phi_macs']:.2f} |")
    return "\n".join(out)


def write_b_table(out: str | Path = "results/efficientnet_b0_b7", coefficients: Mapping[str, Sequence[float]]
                  | None = None, *, found_note: str = "") -> Path:
    """Write the B0 -> B7 analysis (markdown + CSV + figure) into `out`; returns the markdown path."""
    tab = efficientnet_b_table(coefficients)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tab.to_csv(folder / "b0_b7.csv", index=False, float_format="%.6g")
    paper = tab[tab["coefficients"] == "paper"]
    rest = paper.iloc[1:]
    spread = (rest[["phi_d", "phi_w", "phi_r"]].max(axis=1) - rest[["phi_d", "phi_w", "phi_r"]].min(axis=1))
    short = rest["macs_x_b0"] / rest["nominal_x"]
    lines = [
        "# EfficientNet B0 -> B7: the phi each released model implies (no training)", "",
        "Issue 16, experiment 2, last part. Computed by `scalesearch rediscover b0-b7` from the released multipliers "
        "(width, depth, resolution; PAPERS.md) and the exact analytic MACs of the presets (3 x r x r input, "
        "1000 classes; conv and linear multiply-adds, what the paper calls FLOPs).", "",
        "phi_d = log(d) / log(alpha), phi_w = log(w) / log(beta), phi_r = log(r / 224) / log(gamma); phi (LS) is the "
        "least-squares phi of the three log multipliers; 'phi from MACs' = log2(MACs / MACs(B0)). Under compound "
        "scaling with alpha * beta^2 * gamma^2 = 2 one integer phi would give phi_d = phi_w = phi_r = k and MACs "
        "2^k x B0.", "", found_note, "", _b_table_markdown(tab), "",
        "## What it shows", "",
        f"- Under the paper's coefficients the three implied phis of one model disagree by "
        f"{spread.min():.2f} to {spread.max():.2f} (B1..B7): the released models do not follow one phi. "
        f"B1's width is not scaled at all (phi_w = 0) while its depth implies phi = {paper.iloc[1]['phi_d']:.2f}.",
        f"- B7's exact MACs are {paper.iloc[-1]['macs_x_b0']:.0f}x B0's, i.e. phi = {paper.iloc[-1]['phi_macs']:.2f} "
        f"from MACs, against nominal 2^7 = 128x; its least-squares phi is {paper.iloc[-1]['phi_ls']:.2f}.",
        "- Every B_k costs less than the nominal 2^k x B0: " + ", ".join(
            f"{m} {x:.2f}x vs {n:g}x" for m, x, n in zip(rest["model"], rest["macs_x_b0"], rest["nominal_x"]))
        + f" ({short.min():.0%} to {short.max():.0%} of nominal; furthest behind: "
        f"{rest['model'].iloc[int(np.argmin(short.to_numpy()))]}).",
        "- The paper's product alpha * beta^2 * gamma^2 is 1.92, not 2, and channel/repeat rounding adds to the "
        "drift: 'phi from MACs' and phi (LS) differ per model.", "",
        f"Exact MACs: ours vs the paper's FLOPs (Table 2) agree within the rounding of the paper's figures "
        f"(B0 {paper.iloc[0]['macs'] / 1e9:.3f} G vs 0.39 B).",
    ]
    md = folder / "b0_b7.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, g in tab.groupby("coefficients", sort=False):
            ax.plot(g["nominal_phi"], g["phi_ls"], "o-", label=f"phi (LS), {name}")
        ax.plot(paper["nominal_phi"], paper["phi_macs"], "s--", label="phi from exact MACs")
        ax.plot([0, 7], [0, 7], ":", color="grey", label="one integer phi")
        ax.set_xlabel("model k (B_k)")
        ax.set_ylabel("implied phi")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        _save(fig, folder, "b0_b7_phi")
    except ImportError:
        pass
    return md


def _analyse_step2(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path,
                   ) -> tuple[list[Finding], dict[str, pd.DataFrame], list[str], list[str], list[str]]:
    from scalesearch.analysis import fit_power_law

    (_, trials, _), = data.values()
    df = _complete(trials)
    eff = MIN_EFFECT["accuracy"]
    if df.empty:
        return [Finding("compound beats single-dimension scaling at equal MACs", "Table 3", "not run")], {}, [], \
            ["no completed trials"], []
    b0 = df[df["phi"] == 0]
    scaled = df[df["phi"] > 0]
    if len(b0):  # B0 belongs to every strategy's curve
        scaled = pd.concat([scaled] + [b0.assign(strategy=s) for s in STEP2_STRATEGIES])
    agg = _agg(scaled, ["strategy", "phi"]).sort_values(["strategy", "phi"])
    findings = []
    cmp = compare(df[df["phi"] > 0], "strategy", baseline="compound", by="phi", method="t", seed_col="seed")
    for phi in sorted(df.loc[df["phi"] > 0, "phi"].unique()):
        for s in ("depth", "width", "resolution"):
            row = _one(cmp, phi=phi, arm=s)
            if row is not None:
                row = {**row, "diff": -row["diff"], "lo": -row["hi"], "hi": -row["lo"],
                       "mean": row["mean_baseline"], "mean_baseline": row["mean"]}
            findings.append(_finding(f"phi = {phi}: compound beats {s}-only at the same MACs",
                                     "Table 3 (B0 at ~1.8 B): compound 81.1 vs depth 79.0 / width 78.9 / "
                                     "resolution 79.1", row, eff))
        row = _one(cmp, phi=phi, arm="dwr")
        if row is not None:
            shifted = {**row, "diff": row["diff"] + eff, "lo": row["lo"] + eff, "hi": row["hi"] + eff}
            f = _finding(f"phi = {phi}: fast compound dWr is as accurate as compound (within "
                         f"{eff * 100:.1f} pp)", "Dollar et al.: dWr keeps dwr's accuracy", shifted, 0.0,
                         note="non-inferiority")
            f.ours = (f"dWr - compound {row['diff'] * 100:+.2f} pp [{row['lo'] * 100:+.2f}, "
                      f"{row['hi'] * 100:+.2f}]")
            findings.append(f)
    notes = []
    comp = agg[agg["strategy"] == "compound"].sort_values("phi")
    fit_tab = pd.DataFrame()
    if (comp["phi"] <= 2).sum() >= 2 and (comp["phi"] == 3).any():
        train = comp[comp["phi"] <= 2]
        law = fit_power_law(train["macs"], 1 - train["mean"])
        t3 = comp[comp["phi"] == 3].iloc[0]
        pred = 1 - float(law.predict([t3["macs"]])[0])
        inside = t3["lo"] <= pred <= t3["hi"]
        fit_tab = pd.DataFrame([{"a": law.a, "b": law.b, "fit_points": law.n, "phi3_macs": t3["macs"],
                                 "predicted_acc": pred, "observed_acc": t3["mean"], "observed_lo": t3["lo"],
                                 "observed_hi": t3["hi"], "error_rel": ((1 - pred) - (1 - t3["mean"]))
                                 / (1 - t3["mean"])}])
        findings.append(Finding("a power law err = a * MACs^b fitted on phi <= 2 predicts phi = 3",
                                "(the paper does not fit; a scaling-law check)",
                                f"predicted {pred * 100:.2f} % vs observed {t3['mean'] * 100:.2f} % "
                                f"[{t3['lo'] * 100:.2f}, {t3['hi'] * 100:.2f}]; b = {law.b:.3f}",
                                verdict="within interval" if inside else "outside interval",
                                n_seeds=int(t3["n"])))
    acts = agg[agg["phi"] > 0].pivot_table(index="phi", columns="strategy", values="acts")
    if "compound" in acts.columns:
        notes.append("Activations relative to compound at each phi (Dollar et al.: width-only grows them least, "
                     "dWr nearly as little): " + "; ".join(
                         f"phi {int(p)}: " + ", ".join(f"{s} {acts.loc[p, s] / acts.loc[p, 'compound']:.2f}x"
                                                       for s in acts.columns if s != "compound")
                         for p in acts.index))
    macs = agg[agg["phi"] > 0].pivot_table(index="phi", columns="strategy", values="macs")
    if "compound" in macs.columns:
        notes.append("MACs relative to compound (matching lands within one step of depth, width or pixels): " +
                     "; ".join(f"phi {int(p)}: " + ", ".join(f"{s} {macs.loc[p, s] / macs.loc[p, 'compound']:.2f}x"
                                                           for s in macs.columns if s != "compound")
                               for p in macs.index))
    power = _power_by(df[df["phi"] > 0], "strategy", "val_acc", "phi", eff, "accuracy")
    figs = _save(_errorbar_plot(agg, "macs", "strategy", "accuracy vs MACs per strategy"), folder,
                 "rediscover_acc_vs_macs")
    figs += _save(_errorbar_plot(agg, "acts", "strategy", "accuracy vs activations per strategy"), folder,
                  "rediscover_acc_vs_acts")
    tables = {"strategies": agg}
    if len(fit_tab):
        tables["scaling fit (phi <= 2 -> phi = 3)"] = fit_tab
    return findings, tables, power, notes, figs


# --------------------------------------------------------------------------------------------------------------
# Experiment 3: ResNeXt


def _analyse_resnext(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path,
                     ) -> tuple[list[Finding], dict[str, pd.DataFrame], list[str], list[str], list[str]]:
    eff = MIN_EFFECT["accuracy"]
    findings: list[Finding] = []
    tables: dict[str, pd.DataFrame] = {}
    power: list[str] = []
    notes: list[str] = []
    figs: list[str] = []
    cwd = next((v for v in data.values() if "grow" in v[1].columns), None)
    card = next((v for v in data.values() if "grow" not in v[1].columns and "C" in v[1].columns), None)
    if cwd is not None:
        df = _complete(cwd[1])
        if len(df):
            agg = _agg(df, ["epochs", "grow"]).sort_values(["epochs", "mean"], ascending=[True, False])
            agg["rank"] = agg.groupby("epochs")["mean"].rank(ascending=False, method="first").astype(int)
            tables["2x complexity: ranking per training length"] = agg
            cmp = compare(df, "grow", by="epochs", method="t", seed_col="seed")
            for ep in sorted(df["epochs"].unique()):
                for a, b, paper in (("cardinality", "width", "Table 4: 2x64d 20.7 vs 1x100d 21.3 % err"),
                                    ("width", "depth", "Table 4: 1x100d 21.3 vs ResNet-200 21.7 % err"),
                                    ("cardinality", "depth", "Table 4: 2x64d 20.7 vs ResNet-200 21.7 % err"),
                                    ("cardinality", "none", "2x complexity beats 1x")):
                    row = _one(cmp, epochs=ep, arm=a, baseline=b)
                    if row is None:
                        row = _one(cmp, epochs=ep, arm=b, baseline=a)
                        if row is not None:
                            row = {**row, "diff": -row["diff"], "lo": -row["hi"], "hi": -row["lo"],
                                   "mean": row["mean_baseline"], "mean_baseline": row["mean"]}
                    findings.append(_finding(f"{ep} epochs: {a} > {b} at {'2x' if b != 'none' else '2x vs 1x'}",
                                             paper, row, eff))
            ranks = agg.pivot_table(index="grow", columns="epochs", values="rank")
            if ranks.shape[1] >= 2:
                same = bool((ranks.iloc[:, 0] == ranks.iloc[:, -1]).all())
                notes.append("Ranking by mean, short vs long training: " + "; ".join(
                    f"{int(c)} epochs: " + " > ".join(agg[agg['epochs'] == c].sort_values('rank')['grow'])
                    for c in ranks.columns) + (" (the same order)" if same else " (the order changes; see the "
                                                                                   "pairwise intervals before "
                                                                                   "reading anything into it)"))
            power += _power_by(df, "grow", "val_acc", "epochs", eff, "accuracy, 2x complexity")
            series = agg.assign(series=[f"{g}, {int(e)} epochs" for g, e in zip(agg["grow"], agg["epochs"])])
            figs += _save(_errorbar_plot(series, "macs", "series", "ResNeXt: 1x (none) and 2x complexity"),
                          folder, "rediscover_cwd")
    if card is not None:
        df = _complete(card[1])
        if len(df):
            agg = _agg(df, ["epochs", "C", "d"]).sort_values(["epochs", "C"])
            tables["cardinality sweep at fixed complexity"] = agg
            cmp = compare(df, "C", baseline=1, by="epochs", method="t", seed_col="seed")
            for ep in sorted(df["epochs"].unique()):
                for c in sorted(df["C"].unique()):
                    if c == 1:
                        continue
                    findings.append(_finding(f"{ep} epochs: C = {c} beats C = 1 at the same MACs",
                                             "Table 3: 1x64d 23.9, 2x40d 23.0, 4x24d 22.6, 8x14d 22.3, "
                                             "32x4d 22.2 % err",
                                             _one(cmp, epochs=ep, arm=c), eff))
                # trend: per-seed slope of accuracy on log2 C, t interval over seeds
                g = df[df["epochs"] == ep]
                slopes = []
                for _, gs in g.groupby("seed"):
                    if gs["C"].nunique() >= 2:
                        slopes.append(float(np.polyfit(np.log2(gs["C"].astype(float)), gs["val_acc"], 1)[0]))
                if len(slopes) >= 2:
                    s = np.asarray(slopes)
                    h = t_quantile((1 + LEVEL) / 2, len(s) - 1) * s.std(ddof=1) / math.sqrt(len(s))
                    row = {"diff": s.mean(), "lo": s.mean() - h, "hi": s.mean() + h, "mean": math.nan,
                           "mean_baseline": math.nan, "n": len(s), "n_baseline": len(s), "n_pairs": len(s)}
                    f = _finding(f"{ep} epochs: accuracy rises with cardinality (slope per doubling of C)",
                                 "Table 3: error falls monotonically from C = 1 to 32", row, eff / 3,
                                 note=f"smallest slope that matters {eff / 3 * 100:.2f} pp per doubling")
                    f.ours = f"slope {s.mean() * 100:+.2f} pp per doubling of C [{f.lo * 100:+.2f}, {f.hi * 100:+.2f}]"
                    findings.append(f)
            rej = card[1][card[1]["state"] == "REJECTED"]
            if len(rej):
                notes.append("Rejected by the iso-complexity constraint (the proxy cannot build them within 10% of "
                             "the MACs): " + ", ".join(sorted({f"C = {int(c)}" for c in rej["C"]})))
            power += _power_by(df, "C", "val_acc", "epochs", eff, "accuracy, cardinality sweep")
            agg2 = agg.assign(series=[f"{int(e)} epochs" for e in agg["epochs"]])
            figs += _save(_errorbar_plot(agg2, "C", "series", "ResNeXt: cardinality at fixed MACs", logx=True),
                          folder, "rediscover_cardinality")
    notes.append("ResNet-RS (Bello et al.) report that the best scaling strategy depends on the training regime; "
                 "both lengths here are short (proxy regime, little overfitting).")
    return findings, tables, power, notes, figs


# --------------------------------------------------------------------------------------------------------------
# Experiment 4: degradation


def _analyse_degradation(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path,
                         ) -> tuple[list[Finding], dict[str, pd.DataFrame], list[str], list[str], list[str]]:
    (_, trials, epochs), = data.values()
    eff = MIN_EFFECT["train_error"]
    done = _complete(trials)
    if done.empty:
        return [Finding("deeper plain net trains worse", "Fig. 1", "not run")], {}, [], ["no completed trials"], []
    last = epochs[epochs["state"] == "COMPLETE"].sort_values("epoch").groupby("number").tail(1)
    err = last.set_index("number")["train_acc"].rsub(1.0)
    done["train_error"] = done["number"].map(err)
    done["net"] = np.where(done["shortcut"] == "none", "plain", "residual")
    shallow, deep = int(done["depth"].min()), int(done["depth"].max())
    agg = _agg(done, ["net", "depth"], metric="train_error")
    agg_val = _agg(done, ["net", "depth"], metric="val_acc")
    agg["val_acc_mean"] = agg_val["mean"].to_numpy()
    tables = {"final training error (1 - running train accuracy of the last epoch)": agg}
    cmp = compare(done, "depth", "train_error", baseline=shallow, by="net", method="t", seed_col="seed")
    paper = {"plain": "Fig. 1/6: plain-56 trains worse than plain-20 (CIFAR-10); plain-34 worse than plain-18",
             "residual": "Fig. 6: ResNet-56 trains better than ResNet-20; ResNet-34 better than ResNet-18"}
    findings = [
        _finding(f"plain-{deep} has a HIGHER training error than plain-{shallow}", paper["plain"],
                 _one(cmp, net="plain", arm=deep), eff, what="train err"),
        _finding(f"residual-{deep} has a LOWER training error than residual-{shallow}", paper["residual"],
                 _one(cmp, net="residual", arm=deep), eff, direction="less", what="train err"),
    ]
    row = _one(cmp, net="residual", arm=deep)
    if row is not None:  # the issue's weaker statement: not higher by more than the smallest effect that matters
        shifted = {**row, "diff": row["diff"] - eff, "lo": row["lo"] - eff, "hi": row["hi"] - eff}
        f = _finding(f"residual-{deep}'s training error is NOT higher than residual-{shallow}'s (by more than "
                     f"{eff * 100:.1f} pp)", paper["residual"], shifted, 0.0, direction="less", what="train err",
                     note="non-inferiority: the interval of (deep - shallow) must lie below the margin")
        f.diff, f.lo, f.hi = row["diff"], row["lo"], row["hi"]
        f.ours = f"deep - shallow {row['diff'] * 100:+.2f} pp [{row['lo'] * 100:+.2f}, {row['hi'] * 100:+.2f}]"
        findings.append(f)
    # the interaction: (plain deep - shallow) - (residual deep - shallow), paired by seed
    w = done.pivot_table(index="seed", columns=["net", "depth"], values="train_error")
    try:
        inter = ((w[("plain", deep)] - w[("plain", shallow)]) - (w[("residual", deep)] - w[("residual", shallow)])
                 ).dropna()
    except KeyError:
        inter = pd.Series(dtype=float)
    if len(inter) >= 2:
        h = t_quantile((1 + LEVEL) / 2, len(inter) - 1) * inter.std(ddof=1) / math.sqrt(len(inter))
        row = {"diff": inter.mean(), "lo": inter.mean() - h, "hi": inter.mean() + h, "mean": math.nan,
               "mean_baseline": math.nan, "n": len(inter), "n_baseline": len(inter), "n_pairs": len(inter)}
        f = _finding("depth hurts plain training more than residual (interaction)", "Fig. 6 left vs middle", row,
                     eff)
        f.ours = f"(plain gap) - (residual gap) = {inter.mean() * 100:+.2f} pp [{row['lo'] * 100:+.2f}, " \
                 f"{row['hi'] * 100:+.2f}]"
        findings.append(f)
    power = _power_by(done, "depth", "train_error", "net", eff, "training error")
    notes = ["Training error is 1 - the running accuracy over the last epoch's augmented mini-batches (the paper's "
             "thin curves are the same kind of number); validation accuracy is in the table for reference."]
    steps = pd.to_numeric(done["steps"], errors="coerce").median() if "steps" in done.columns else math.nan
    if findings[1].verdict != "reproduced" and steps == steps:
        notes.append(f"Why the residual claim may not show here: each net trained {int(steps)} SGD steps; the paper "
                     "trains CIFAR nets for 64k iterations, and its deeper ResNet pulls ahead late in training. At "
                     "this "
                     "length both residual depths are still far from fitting the (augmented) training set, so depth "
                     "has had little room to help; the plain nets' gap, by contrast, is large from the first epochs.")
    figs: list[str] = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ep = epochs[epochs["state"] == "COMPLETE"].copy()
        meta = done.set_index("number")[["net", "depth"]]
        ep = ep[ep["number"].isin(meta.index)]
        ep["net"] = ep["number"].map(meta["net"])
        ep["depth"] = ep["number"].map(meta["depth"])
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
        for ax, net in zip(axes, ("plain", "residual")):
            for dval, g in ep[ep["net"] == net].groupby("depth"):
                m = g.groupby("epoch")["train_acc"].agg(["mean", "std"])
                ax.plot(m.index, (1 - m["mean"]) * 100, marker="o", label=f"{net}-{dval}")
                ax.fill_between(m.index, (1 - m["mean"] - m["std"].fillna(0)) * 100,
                                (1 - m["mean"] + m["std"].fillna(0)) * 100, alpha=0.2)
            ax.set_title(net)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        axes[0].set_ylabel("training error (%)")
        figs += _save(fig, folder, "rediscover_training_error")
    except (ImportError, KeyError):
        pass
    return findings, tables, power, notes, figs


# --------------------------------------------------------------------------------------------------------------
# The registry, analysis and writing


EXPERIMENTS: dict[str, Experiment] = {
    "efficientnet-step1": Experiment(
        "efficientnet-step1", "EfficientNet compound scaling, step 1 (grid over alpha, beta at phi = 1)",
        ("spaces/rediscover_efficientnet_step1.yaml",),
        "Tan & Le Sec. 3.3: on ImageNet B0, alpha, beta, gamma = 1.2, 1.1, 1.15 (alpha * beta^2 * gamma^2 = 1.92).",
        _analyse_step1),
    "efficientnet-step2": Experiment(
        "efficientnet-step2", "EfficientNet compound scaling, step 2 (compound vs single-dimension vs dWr)",
        ("spaces/rediscover_efficientnet_step2.yaml",),
        "Tan & Le Table 3 (B0 scaled to ~1.8 B FLOPs): depth-only 79.0, width-only 78.9, resolution-only 79.1, "
        "compound 81.1 % top-1. Dollar et al.: dWr (alpha = 0.8) matches dwr's accuracy with fewer activations.",
        _analyse_step2),
    "resnext": Experiment(
        "resnext", "ResNeXt: cardinality > width > depth, and the cardinality sweep",
        ("spaces/rediscover_resnext_cwd.yaml", "spaces/rediscover_resnext_cardinality.yaml"),
        "Xie et al. Table 4 (2x ResNet-101): ResNet-200 21.7, 1x100d 21.3, 2x64d 20.7, 64x4d 20.4 % top-1 error; "
        "Table 3 (~4.1 GFLOPs): 1x64d 23.9, 2x40d 23.0, 4x24d 22.6, 8x14d 22.3, 32x4d 22.2.",
        _analyse_resnext),
    "degradation": Experiment(
        "degradation", "Degradation: plain vs residual at two depths (training error)",
        ("spaces/rediscover_degradation.yaml",),
        "He et al. Fig. 1/6: on CIFAR-10 plain-56 has higher training (and test) error than plain-20; ResNet-56 "
        "lower than ResNet-20. ImageNet: plain-34 28.54 vs ResNet-34 25.03 % top-1 err (10-crop).",
        _analyse_degradation),
}


def analyse(experiment: str, db: str = DEFAULT_DB, *, pilot: bool = False, out_root: str | Path = "results",
            studies: Sequence[str] | None = None) -> Outcome:
    """Read an experiment's studies and compute its findings (figures are written under results/<study>/).

    Args:
        experiment: a key of `EXPERIMENTS`.
        db: the results database (read-only).
        pilot: read the `_pilot` studies and label the outcome "pilot".
        out_root: where results/<study>/ folders are.
        studies: other study names, in the order of the experiment's specs (e.g. toy copies in tests).

    Raises:
        ValueError: an unknown experiment.
        LookupError: a study that is not in the database.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment {experiment!r}: expected one of {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[experiment]
    studies = tuple(studies) if studies is not None else exp.studies(pilot)
    data = {}
    for s in studies:
        try:
            data[s] = _load(db, s)
        except LookupError:
            if len(studies) == 1:
                raise
    if not data:
        raise LookupError(f"none of the studies {', '.join(studies)} is in {db}")
    folder = Path(out_root) / next(iter(data))
    findings, tables, power, notes, figs = exp.analyse(data, folder)
    statuses = [_status(r, t, pilot) for r, t, _ in data.values()]
    complete = all(s in ("full", "pilot") for s in statuses) and len(data) == len(studies)
    status = ("pilot" if complete else "pilot-partial") if pilot else ("full" if complete else "partial")
    prov = {s: _provenance(r, t) for s, (r, t, _) in data.items()}
    return Outcome(experiment, tuple(data), status, findings, tables, prov, power, notes, figs,
                   missing=tuple(s for s in studies if s not in data))


def _fmt_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def render(outcome: Outcome) -> str:
    """rediscovery.md of one experiment."""
    exp = EXPERIMENTS[outcome.experiment]
    label = {"pilot": "PILOT (measures seed noise; not the experiment's verdict)",
             "pilot-partial": "PARTIAL PILOT (part of the pilot has not run or not finished; measures seed noise only)",
             "partial": "PARTIAL RUN (not all planned trials finished; verdicts are provisional)",
             "full": "full run"}[outcome.status]
    out = [f"# Rediscovery: {exp.title}", "", f"**Status: {label}.** Studies: " +
           ", ".join(f"`{s}` ([report](../{s}/report.md))" for s in outcome.studies), "",
           *([f"**Not run yet:** {', '.join(f'`{m}`' for m in outcome.missing)}.", ""] if outcome.missing else []),
           f"**The paper:** {exp.paper}", "",
           "## Verdicts", "",
           f"Intervals are {LEVEL:.0%} Student t intervals over seeds, paired by seed (repeat r of every "
           "configuration trains with the same seed). 'reproduced': the interval lies on the paper's side of zero; "
           "'not reproduced': it excludes the smallest effect that matters in the paper's direction; 'inconclusive':"
           " neither, at this budget. For an 'as good as' claim (marked non-inferiority) the margin is the smallest "
           "effect that matters: reproduced when the interval excludes a loss that large, not reproduced when it lies "
           f"entirely beyond it. Smallest effect that matters (declared before the data): accuracy "
           f"{MIN_EFFECT['accuracy'] * 100:.1f} pp, training error {MIN_EFFECT['train_error'] * 100:.1f} pp. "
           f"'detectable' is the smallest true difference this run detects with {POWER:.0%} power.", "",
           "| claim | paper | ours | verdict | detectable | seeds |", "|---|---|---|---|---|---|"]
    for f in outcome.findings:
        det = "-" if not f.detectable == f.detectable else f"{f.detectable * 100:.2f} pp"
        out.append(f"| {f.claim} | {f.paper} | {f.ours}{' (' + f.note + ')' if f.note else ''} | **{f.verdict}** "
                   f"| {det} | {f.n_seeds} |")
    out += ["", "## Power", ""] + [f"- {p}" for p in outcome.power] + [""]
    if outcome.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in outcome.notes] + [""]
    for name, tab in outcome.tables.items():
        out += [f"## {name[0].upper() + name[1:]}", "", _fmt_table(tab), ""]
    if outcome.figures:
        out += ["## Figures", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in outcome.figures
                                     if p.endswith(".png")] + [""]
    out += ["## Budget, hardware, wall time", ""]
    for s, p in outcome.provenance.items():
        hw = p["hardware"]
        hw_txt = ", ".join(f"{k}: {v}" for k, v in hw.items() if not isinstance(v, (dict, list))) or "not recorded"
        out += [f"### `{s}`", "",
                f"- spec: `{p['spec_file']}`; state {p['state']}; trials {p['trials']}",
                f"- dataset: {p['dataset']}; train: {p['train']}",
                f"- seeds (repeats {p['repeats']}): {p['seeds']}",
                f"- wall time {_duration(p['wall_seconds'])} (sum of trial times {_duration(p['train_seconds'])});"
                f" started {p['started']}, finished {p['finished']}",
                f"- hardware: {hw_txt}", ""]
    return "\n".join(out) + "\n"


def write(outcome: Outcome, out_root: str | Path = "results", *, db: str | None = None,
          report: bool = True) -> list[Path]:
    """Write results/<study>/rediscovery.md and .json (and each study's report with `report`), then rebuild
    results/REDISCOVERY.md. Returns the paths written."""
    root = Path(out_root)
    folder = root / outcome.studies[0]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    if report and db is not None:
        from scalesearch.report import write_report

        for s in outcome.studies:
            paths.append(write_report(db, s, root / s).markdown)
    md = folder / "rediscovery.md"
    md.write_text(render(outcome), encoding="utf-8")
    js = folder / "rediscovery.json"
    js.write_text(json.dumps({"experiment": outcome.experiment, "status": outcome.status,
                              "studies": list(outcome.studies),
                              "findings": [f.__dict__ for f in outcome.findings],
                              "power": outcome.power,
                              "wall_seconds": sum(p["wall_seconds"] for p in outcome.provenance.values()),
                              "seeds": {s: p["seeds"] for s, p in outcome.provenance.items()}},
                             indent=1, default=float), encoding="utf-8")
    for name, tab in outcome.tables.items():
        slug = "".join(c if c.isalnum() else "_" for c in name.split("(")[0].strip().lower()).strip("_")
        tab.to_csv(folder / f"rediscovery_{slug}.csv", index=False, float_format="%.6g")
    paths += [md, js, write_summary(root)]
    return paths


def write_summary(out_root: str | Path = "results") -> Path:
    """results/REDISCOVERY.md: every experiment's verdicts found under `out_root` beside the papers' numbers."""
    root = Path(out_root)
    out = ["# Rediscovery: the four findings on Fashion-MNIST proxies", "",
           "Built by `scalesearch rediscover` from results/<study>/rediscovery.json (docs/rediscovery.md says how "
           "to run each experiment). Each row says whether it comes from a pilot, a partial run or a full run: "
           "only a full run's verdict is the experiment's verdict.", ""]
    b7 = root / "efficientnet_b0_b7" / "b0_b7.md"
    for name, exp in EXPERIMENTS.items():
        out += [f"## {exp.title}", "", f"Paper: {exp.paper}", ""]
        found = False
        for pilot in (False, True):
            study = next((s for s in exp.studies(pilot) if (root / s / "rediscovery.json").exists()), None)
            if study is None:
                continue
            found = True
            d = json.loads((root / study / "rediscovery.json").read_text(encoding="utf-8"))
            out += [f"**{d['status'].upper()}** ([details]({study}/rediscovery.md); wall time "
                    f"{_duration(d.get('wall_seconds', 0))}):", "", "| claim | ours | verdict |", "|---|---|---|"]
            out += [f"| {f['claim']} | {f['ours']} | {f['verdict']} |" for f in d["findings"]]
            out.append("")
        if not found:
            out += ["Not run yet: see docs/rediscovery.md for the command.", ""]
        if name == "efficientnet-step2" and b7.exists():
            out += ["B0 -> B7 (no training, complete): [efficientnet_b0_b7/b0_b7.md](efficientnet_b0_b7/b0_b7.md).",
                    ""]
    path = root / "REDISCOVERY.md"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------------
# Command line


def _found_coefficients(db: str) -> tuple[float, float, float] | None:
    """The best (alpha, beta, gamma) of a FULL step-1 study in `db`, else None."""
    try:
        o = analyse("efficientnet-step1", db)
    except (LookupError, FileNotFoundError, ValueError):
        return None
    if o.status != "full" or "grid (ranked)" not in o.tables:
        return None
    b = o.tables["grid (ranked)"].iloc[0]
    return float(b["alpha"]), float(b["beta"]), float(b["gamma"])


def _cmd(args: argparse.Namespace) -> int:
    exp = args.experiment
    if exp == "b0-b7":
        coefs: dict[str, Sequence[float]] = {"paper": PAPER_COEFFICIENTS}
        found = _found_coefficients(args.db) if os.path.exists(args.db) else None
        note = "Found coefficients: not available yet (experiment 1 has no full run); only the paper's are used."
        if found:
            coefs["found"] = found
            note = f"Found coefficients (experiment 1, full run): {found[0]:g}, {found[1]:g}, {found[2]:.3f}."
        print(write_b_table(Path(args.out) / "efficientnet_b0_b7", coefs, found_note=note))
        write_summary(args.out)
        return 0
    if exp == "efficientnet-step2" and args.write_spec:
        found = _found_coefficients(args.db) if os.path.exists(args.db) else None
        a, b, g = found or PAPER_COEFFICIENTS
        src = "experiment 1's found coefficients" if found else "the paper's coefficients (no full step-1 run yet)"
        for pilot in (False, True):
            path = Path(EXPERIMENTS[exp].spec_files(pilot)[0])
            path.write_text(step2_spec_text(a, b, g, pilot=pilot, source=src), encoding="utf-8")
            print(path)
        return 0
    if args.run:
        for spec in EXPERIMENTS[exp].spec_files(args.pilot):
            rc = subprocess.call([sys.executable, "-m", "scalesearch", "run", spec, "--db", args.db])
            if rc != 0:
                return rc
    outcome = analyse(exp, args.db, pilot=args.pilot, out_root=args.out)
    for p in write(outcome, args.out, db=args.db, report=not args.no_report):
        print(p)
    for f in outcome.findings:
        print(f"[{outcome.status}] {f.claim}: {f.verdict} -- {f.ours}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `scalesearch rediscover` to the CLI's subparsers."""
    p = sub.add_parser("rediscover", help="run/analyse one of issue 16's rediscovery experiments and write its "
                                          "verdicts (results/<study>/rediscovery.md, results/REDISCOVERY.md)")
    p.add_argument("experiment", choices=[*EXPERIMENTS, "b0-b7"],
                   help="the experiment; b0-b7 is the EfficientNet B0 -> B7 analysis (no training)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--pilot", action="store_true", help="the _pilot studies (seed noise) instead of the full ones")
    p.add_argument("--run", action="store_true", help="run (or resume) the experiment's specs first")
    p.add_argument("--out", default="results", help="results folder (default results)")
    p.add_argument("--no-report", action="store_true", help="do not (re)write each study's report")
    p.add_argument("--write-spec", action="store_true",
                   help="efficientnet-step2: write its spec files from experiment 1's found coefficients")
    p.set_defaults(func=_cmd)
