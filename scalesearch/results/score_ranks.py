"""How well training-free scores rank a study's trained configurations: Spearman's rho and Kendall's tau of each
score (`score_<name>` columns, stored at claim time by `scalesearch.train.scores`) and of the exact `params` and `macs`
with the trained metric, over the study's configurations (COMPLETE trials, repeats averaged), with percentile
bootstrap intervals over configurations, and each score's rho minus params' rho on the same bootstrap draws (a
proxy that loses to params is reported as such). `scalesearch scores STUDY` prints `score_table`.

Published reference points (White et al. 2022, NATS-Bench TSS, CIFAR-100, Spearman): synflow 0.794, params 0.735,
jacob_cov 0.719, flops 0.714, snip 0.679, grad_norm 0.678.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.errors import InputError

__all__ = ["PUBLISHED", "score_correlations", "score_table"]

# FLOPs rank networks as MACs do (about 2 FLOPs per MAC), so the published flops figure stands beside macs
PUBLISHED = {"synflow": 0.794, "params": 0.735, "macs": 0.714, "snip": 0.679, "grad_norm": 0.678}


def _rank_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan, math.nan
    return float(spearmanr(a, b).statistic), float(kendalltau(a, b).statistic)


def score_correlations(df: pd.DataFrame, *, metric: str = "val_acc", n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """One row per score (params and macs first): n configurations, rho with its 95% interval, tau with its
    interval, and rho - rho(params) with its interval, from a `load_trials` frame."""
    if metric not in df.columns:
        raise InputError(f"--metric {metric!r}: not a column of the trials")
    done = df[df["state"] == "COMPLETE"] if "state" in df.columns else df
    scores = [c for c in done.columns if str(c).startswith("score_")]
    if not scores:
        raise InputError("the study has no training-free scores (it was run before scalesearch stored them)")
    cols = ["params", "macs", *scores]
    by = "config_key" if "config_key" in done.columns else None
    g = done.groupby(by)[[metric, *cols]].mean() if by else done[[metric, *cols]]
    g = g.dropna(subset=[metric])
    y = g[metric].to_numpy(float)
    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, len(g), len(g)) for _ in range(n_boot)]
    base = g["params"].to_numpy(float)
    rows = []
    for c in cols:
        x = g[c].to_numpy(float)
        ok = ~np.isnan(x)
        rho, tau = _rank_corr(x[ok], y[ok])
        boot, diff = [], []
        for i in idx:  # params' rho on the same rows as the score's (those where the score has a value)
            k = i[~np.isnan(x[i])]
            r = _rank_corr(x[k], y[k])
            boot.append(r)
            diff.append(r[0] - _rank_corr(base[k], y[k])[0])
        boot, diff = np.array(boot), np.array(diff)

        def ci(v: np.ndarray) -> tuple[float, float]:
            v = v[~np.isnan(v)]
            return (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if len(v) else (math.nan, math.nan)

        name = c.removeprefix("score_")
        rows.append({"score": name, "n": int(ok.sum()), "spearman": rho, "spearman_lo": ci(boot[:, 0])[0],
                     "spearman_hi": ci(boot[:, 0])[1], "kendall": tau, "kendall_lo": ci(boot[:, 1])[0],
                     "kendall_hi": ci(boot[:, 1])[1], "vs_params": rho - _rank_corr(base[ok], y[ok])[0],
                     "vs_params_lo": ci(diff)[0], "vs_params_hi": ci(diff)[1],
                     "published": PUBLISHED.get(name, math.nan)})
    return pd.DataFrame(rows)


def score_table(db: Any, study: str, *, metric: str = "val_acc", n_boot: int = 1000, seed: int = 0) -> str:
    """`scalesearch scores`: the correlations as text, with what each interval means."""
    from scalesearch.results.load import load_trials

    df = load_trials(db, study)
    t = score_correlations(df, metric=metric, n_boot=n_boot, seed=seed)
    lines = [f"study {study}: rank correlation of each score with {metric} over {int(t['n'].max())} configurations "
             f"(repeats averaged; 95% percentile bootstrap over configurations, {n_boot} draws, seed {seed})",
             f"{'score':10} {'spearman':>24} {'kendall':>24} {'vs params (rho)':>26} {'published':>9}"]

    def f(v: float, lo: float, hi: float) -> str:
        return "n/a" if math.isnan(v) else f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for r in t.itertuples():
        verdict = ""
        if r.score not in ("params", "macs") and not math.isnan(r.vs_params_hi):
            verdict = (" loses to params" if r.vs_params_hi < 0 else " beats params" if r.vs_params_lo > 0
                       else "")
        pub = "" if math.isnan(r.published) else f"{r.published:.3f}"
        lines.append(f"{r.score:10} {f(r.spearman, r.spearman_lo, r.spearman_hi):>24} "
                     f"{f(r.kendall, r.kendall_lo, r.kendall_hi):>24} "
                     f"{f(r.vs_params, r.vs_params_lo, r.vs_params_hi):>26} {pub:>9}{verdict}")
    lines.append("published: White et al. 2022, NATS-Bench TSS on CIFAR-100 (another space and task: context, not "
                 "a target; their flops stands beside macs)")
    if (df["state"] == "REJECTED").any() and df["rejected_by"].fillna("").str.startswith("prefilter").any():
        lines.append("note: a prefilter dropped some candidates untrained; the correlations cover the trained ones "
                     "only, a range the prefilter already narrowed")
    return "\n".join(lines)
