"""Experiment 3: ResNeXt.

`analyse_resnext_looks` is the redesigned experiment: the 1x control and 2x by cardinality or by width in
one study per planned look; a positive control (each 2x arm beats 1x) that must pass before the primary claim
(cardinality beats width at 2x, O'Brien-Fleming looks) can be decided; the regime guards beside the verdicts.
`analyse_resnext` is the first design's analysis (verdicts withdrawn: no positive control, 33 claims, no primary):
twice the complexity by cardinality, width or depth ranked per training length, and the cardinality sweep."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.analysis import compare, t_quantile
from scalesearch.rediscover.claims import (
    ALPHA_ONE_SIDED,
    LEVEL,
    MIN_EFFECT,
    Finding,
    aggregate_by,
    complete_looks,
    control_finding,
    epochs_of,
    finding,
    judged,
    look_finding,
    look_guards,
    look_pairs,
    one_sided_p,
    paired_sd,
    power_by,
    power_lines,
    pp_interval,
    ranking_line,
    row_where,
    seed_sd,
    t_row,
)
from scalesearch.rediscover.drawing import arm_curves, errorbar_plot, save_figure
from scalesearch.rediscover.reading import completed_trials


def analyse_resnext(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path,
                    ) -> tuple[list[Finding], dict[str, pd.DataFrame], list[str], list[str], list[str]]:
    """The first design's ResNeXt analysis (verdicts withdrawn): (findings, tables, figures, power, notes)."""
    eff = MIN_EFFECT["accuracy"]
    findings: list[Finding] = []
    tables: dict[str, pd.DataFrame] = {}
    power: list[str] = []
    notes: list[str] = []
    figs: list[str] = []
    cwd = next((v for v in data.values() if "grow" in v[1].columns), None)
    card = next((v for v in data.values() if "grow" not in v[1].columns and "C" in v[1].columns), None)
    if cwd is not None:
        df = completed_trials(cwd[1])
        if len(df):
            agg = aggregate_by(df, ["epochs", "grow"]).sort_values(["epochs", "mean"], ascending=[True, False])
            agg["rank"] = agg.groupby("epochs")["mean"].rank(ascending=False, method="first").astype(int)
            tables["2x complexity: ranking per training length"] = agg
            cmp = compare(df, "grow", by="epochs", method="t", seed_col="seed")
            trained = set(cwd[1].loc[cwd[1]["state"] != "REJECTED", "grow"])  # a follow-up trains some arms only
            for ep in sorted(df["epochs"].unique()):
                for a, b, paper in (("cardinality", "width", "Table 4: 2x64d 20.7 vs 1x100d 21.3 % err"),
                                    ("width", "depth", "Table 4: 1x100d 21.3 vs ResNet-200 21.7 % err"),
                                    ("cardinality", "depth", "Table 4: 2x64d 20.7 vs ResNet-200 21.7 % err"),
                                    ("cardinality", "none", "2x complexity beats 1x")):
                    if not {a, b} <= trained:
                        continue
                    row = row_where(cmp, epochs=ep, arm=a, baseline=b)
                    if row is None:
                        row = row_where(cmp, epochs=ep, arm=b, baseline=a)
                        if row is not None:
                            row = {**row, "diff": -row["diff"], "lo": -row["hi"], "hi": -row["lo"],
                                   "mean": row["mean_baseline"], "mean_baseline": row["mean"]}
                    findings.append(finding(f"{ep} epochs: {a} > {b} at {'2x' if b != 'none' else '2x vs 1x'}",
                                            paper, row, eff))
            findings += _regime_findings(df, eff)
            ranks = agg.pivot_table(index="grow", columns="epochs", values="rank")
            if ranks.shape[1] >= 2:
                same = bool((ranks.iloc[:, 0] == ranks.iloc[:, -1]).all())
                notes.append("Ranking by mean, short vs long training: " + "; ".join(
                    f"{int(c)} epochs: " + " > ".join(agg[agg['epochs'] == c].sort_values('rank')['grow'])
                    for c in ranks.columns) + (" (the same order)" if same else " (the order changes; see the "
                                                                                   "pairwise intervals before "
                                                                                   "reading anything into it)"))
            power += power_by(df, "grow", "val_acc", "epochs", eff, "accuracy, 2x complexity")
            series = agg.assign(series=[f"{g}, {int(e)} epochs"
                                        for g, e in zip(agg["grow"], agg["epochs"], strict=True)])
            figs += save_figure(errorbar_plot(series, "macs", "series", "ResNeXt: 1x (none) and 2x complexity"),
                                folder, "rediscover_cwd")
    if card is not None:
        df = completed_trials(card[1])
        if len(df):
            agg = aggregate_by(df, ["epochs", "C", "d"]).sort_values(["epochs", "C"])
            tables["cardinality sweep at fixed complexity"] = agg
            cmp = compare(df, "C", baseline=1, by="epochs", method="t", seed_col="seed")
            for ep in sorted(df["epochs"].unique()):
                for c in sorted(df["C"].unique()):
                    if c == 1:
                        continue
                    findings.append(finding(f"{ep} epochs: C = {c} beats C = 1 at the same MACs",
                                            "Table 3: 1x64d 23.9, 2x40d 23.0, 4x24d 22.6, 8x14d 22.3, "
                                            "32x4d 22.2 % err",
                                            row_where(cmp, epochs=ep, arm=c), eff))
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
                    f = finding(f"{ep} epochs: accuracy rises with cardinality (slope per doubling of C)",
                                "Table 3: error falls monotonically from C = 1 to 32", row, eff / 3,
                                note=f"smallest slope that matters {eff / 3 * 100:.2f} pp per doubling")
                    f.ours = f"slope {s.mean() * 100:+.2f} pp per doubling of C [{f.lo * 100:+.2f}, {f.hi * 100:+.2f}]"
                    findings.append(f)
            rej = card[1][card[1]["state"] == "REJECTED"]
            if len(rej):
                notes.append("Rejected by the iso-complexity constraint (the proxy cannot build them within 10% of "
                             "the MACs): " + ", ".join(sorted({f"C = {int(c)}" for c in rej["C"]})))
            power += power_by(df, "C", "val_acc", "epochs", eff, "accuracy, cardinality sweep")
            agg2 = agg.assign(series=[f"{int(e)} epochs" for e in agg["epochs"]])
            figs += save_figure(errorbar_plot(agg2, "C", "series", "ResNeXt: cardinality at fixed MACs", logx=True),
                                folder, "rediscover_cardinality")
    if cwd is not None and cwd[1]["epochs"].nunique() >= 2:
        notes.append("ResNet-RS (Bello et al.) report that the best scaling strategy depends on the training regime; "
                     "both lengths here are short (proxy regime, little overfitting).")
    return findings, tables, power, notes, figs


def _regime_findings(df: pd.DataFrame, eff: float) -> list[Finding]:
    """Does the training length change a 2x comparison? Per seed, (a - b) at the longest minus at the shortest
    training, with a t interval over seeds: "reproduced" (ResNet-RS: the regime matters) when it excludes zero, "not
    reproduced" when it lies within +-`eff` (the gap moves by less than what matters), else "inconclusive"."""
    lengths = sorted(df["epochs"].unique())
    if len(lengths) < 2:
        return []
    short, long_ = lengths[0], lengths[-1]
    w = df.pivot_table(index="seed", columns=["grow", "epochs"], values="val_acc")
    out = []
    for a, b in (("cardinality", "width"), ("width", "depth"), ("cardinality", "depth")):
        try:
            x = ((w[(a, long_)] - w[(b, long_)]) - (w[(a, short)] - w[(b, short)])).dropna()
        except KeyError:
            continue
        if len(x) < 2:
            continue
        m = float(x.mean())
        h = t_quantile((1 + LEVEL) / 2, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
        lo, hi = m - h, m + h
        label = ("reproduced" if lo > 0 or hi < 0 else "not reproduced" if -eff < lo and hi < eff
                 else "inconclusive")
        out.append(Finding(f"the training length changes {a} - {b} (gap at {int(long_)} minus at {int(short)} "
                           f"epochs)", "ResNet-RS (Bello et al.): the best scaling strategy depends on the "
                           "training regime",
                           pp_interval(m, lo, hi), m, lo, hi, label,
                           n_seeds=len(x), note=f"'not reproduced' needs the interval within +-{eff * 100:.1f} pp"))
    return out


# --------------------------------------------------------------------------------------------------------------
# The redesigned experiment: 1x, 2x by cardinality and 2x by width in one study per planned look.

PRIMARY_RESNEXT = "PRIMARY: at 2x complexity, cardinality beats width (val acc)"
CONTROL = "positive control: 2x by {arm} beats the 1x control (val acc)"
SECONDARY = "secondary: at 2x complexity, {a} beats depth (val acc)"
_ARMS = {"cardinality": "grow == 'cardinality'", "width": "grow == 'width'", "none": "grow == 'none'",
         "depth": "grow == 'depth'"}
DEPTH_OFFSET = 100_000  # a depth study's trial numbers, moved past its look's (trial numbers repeat between studies)
PAPER_TABLE4 = "Table 4: 2x64d 20.7, 1x100d 21.3, ResNet-200 21.7 % top-1 err"
# the paper's accuracy differences (Table 4, top-1 error; ResNet-101, the 1x control, 22.0)
PAPER_GAIN = {"cardinality": 0.013, "width": 0.007, "depth": 0.003, "primary": 0.006,
              "width > depth": 0.004, "cardinality > depth": 0.010}


def _label(arms: pd.DataFrame) -> str:
    c = arms.groupby("grow")[["C", "d", "n"]].first()
    return ", ".join(f"{g} (C={int(r['C'])}, d={int(r['d'])}, n={int(r['n'])})" for g, r in c.iterrows())


def _is_depth_study(trials: pd.DataFrame) -> bool:
    return "grow" in trials.columns and set(trials["grow"].dropna()) == {"depth"}


def merge_depth_looks(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], complete: Sequence[bool],
                      ) -> tuple[dict[str, tuple[Any, pd.DataFrame, pd.DataFrame]], list[bool], list[bool]]:
    """The looks' studies with the depth arm's studies (those that train only `grow == 'depth'`) merged into their
    look: the k-th depth study joins the k-th look (the same study seed, so the same trial seeds per repeat), its
    trial numbers moved by DEPTH_OFFSET. A depth study joins only when it is complete; returns (the looks, their
    complete flags, whether each complete look holds the depth arm)."""
    items = [(s, v, complete[i]) for i, (s, v) in enumerate(data.items())]
    main = [it for it in items if not _is_depth_study(it[1][1])]
    depth = [it for it in items if _is_depth_study(it[1][1])]
    merged: dict[str, tuple[Any, pd.DataFrame, pd.DataFrame]] = {}
    flags, with_depth = [], []
    for i, (study, (record, trials, epochs), done) in enumerate(main):
        joins = i < len(depth) and depth[i][2]  # the k-th depth study, complete
        if joins:
            _, dt_, de = depth[i][1]
            trials = pd.concat([trials, dt_.assign(number=dt_["number"] + DEPTH_OFFSET)], ignore_index=True)
            epochs = pd.concat([epochs, de.assign(number=de["number"] + DEPTH_OFFSET)], ignore_index=True)
        merged[study] = (record, trials, epochs)
        flags.append(done)
        with_depth.append(bool(done and joins))
    return merged, flags, with_depth


def _reading(findings: Sequence[Finding], guards_lines: Sequence[str]) -> str:
    """'How to read it': the controls, the primary effect with its size, the depth links, and the budget."""
    by = {f.claim: f for f in findings}
    controls = [f for f in findings if f.claim.startswith("positive control")]
    text = "How to read it: " + "; ".join(
        f"2x by {f.claim.split('2x by ')[1].split(' beats')[0]} {'beats' if f.verdict == 'passed' else 'is not shown to beat'}"
        f" the 1x control ({pp_interval(f.diff, f.lo, f.hi)})" for f in controls) + ". "
    p = by.get(PRIMARY_RESNEXT)
    if p is not None:
        text += f"Cardinality against width: {pp_interval(p.diff, p.lo, p.hi)}, {p.words()}. "
    s1 = by.get(SECONDARY.format(a="width"))
    if s1 is not None:
        text += ("Width against depth: " + ("the depth arm's looks have not run." if s1.verdict.startswith("not tested")
                                            else f"{pp_interval(s1.diff, s1.lo, s1.hi)}, {s1.words()}. "))
    if any("not converged: FIRED" in g for g in guards_lines):
        text += (" The curves were still rising at the last epoch ('not converged' fired): the verdicts hold at this "
                 "budget, not at convergence.")
    return " ".join(text.split())


def analyse_resnext_looks(data: Mapping[str, tuple[Any, pd.DataFrame, pd.DataFrame]], folder: Path, *,
                          looks: int, complete: Sequence[bool]) -> tuple[list[Finding], dict[str, pd.DataFrame],
                                                                         list[str], list[str], list[str]]:
    """The redesigned ResNeXt experiment over its looks' studies (in look order; `complete[i]` says whether study
    i has finished), the depth arm's studies merged into their looks (`merge_depth_looks`). The positive control
    (each 2x arm's interval over all complete looks above 0) gates the primary claim; the primary claim is tested at
    the last complete look against that look's boundary; the secondary claims (width and cardinality each beat
    depth at 2x, Holm over the two) once every look holds a complete depth arm."""
    from scalesearch.analysis.sequential import holm, sequential_test
    eff = MIN_EFFECT["accuracy"]
    data, complete, with_depth = merge_depth_looks(data, complete)
    done = complete_looks(data, complete, lambda t, e: completed_trials(t))
    if done.empty:
        return [Finding(PRIMARY_RESNEXT, "Table 4", "no look complete yet")], {}, [], [], []
    k = int(done["look"].nunique())
    fractions = [(i + 1) / looks for i in range(looks)]
    mean = done.groupby("grow")["val_acc"].mean()
    findings: list[Finding] = []
    control = {}
    for arm in ("cardinality", "width", "depth"):
        if arm not in mean.index:
            continue
        findings.append(control_finding(done, "grow", arm, "none", CONTROL.format(arm=arm),
                                        "Table 4: every 2x ResNeXt/ResNet beats ResNet-101 (1x)"))
        control[arm] = findings[-1].verdict == "passed"
        findings[-1].paper_effect = PAPER_GAIN[arm]
    primary = look_pairs(done, "grow", "cardinality", "width")
    if len(primary) >= 2:
        lt = sequential_test(primary.tolist(), k, fractions, alpha=ALPHA_ONE_SIDED)
        ours = (f"val acc {mean['cardinality'] * 100:.2f} vs {mean['width'] * 100:.2f} %: diff {lt.diff * 100:+.2f} "
                f"pp [{lt.lo * 100:+.2f}, {lt.hi * 100:+.2f}] (repeated CI at look {k} of {looks}); one-sided p = "
                f"{lt.p:.2g} against the look's O'Brien-Fleming level {lt.nominal:.2g}")
        findings.insert(0, look_finding(PRIMARY_RESNEXT, "Table 4 (2x ResNet-101): 2x64d 20.7 vs 1x100d 21.3 % "
                                        "top-1 err", ours, lt, eff,
                                        gate=control.get("cardinality", False) and control.get("width", False)))
        findings[0].paper_effect = PAPER_GAIN["primary"]
    if "depth" not in mean.index:  # the depth arm's looks have not run: its declared claims wait for them
        findings += [Finding(SECONDARY.format(a=a), PAPER_TABLE4, "the depth arm has not run (spaces/"
                             "resnext_depth_look1.yaml, _look2.yaml)", verdict=f"not tested before look {looks}",
                             min_effect=eff, paper_effect=PAPER_GAIN[f"{a} > depth"]) for a in ("width", "cardinality")]
    else:
        final = k == looks and sum(with_depth) == looks
        pairs = {a: look_pairs(done, "grow", a, "depth") for a in ("width", "cardinality")}
        ps = [one_sided_p(d) for d in pairs.values()]
        adjusted = holm([1.0 if math.isnan(p) else p for p in ps])
        for (a, d), p, q in zip(pairs.items(), ps, adjusted, strict=True):
            row = t_row(d)
            ours = (f"val acc {mean[a] * 100:.2f} vs {mean['depth'] * 100:.2f} %: diff "
                    f"{pp_interval(row['diff'], row['lo'], row['hi'])} over {row['n']} seeds (95% paired t); "
                    f"one-sided p = {p:.2g}, Holm-adjusted {q:.2g}")
            claim, paper = SECONDARY.format(a=a), PAPER_TABLE4
            if not final:
                f = Finding(claim, paper, ours, row["diff"], row["lo"], row["hi"],
                            f"not tested before look {looks}", math.nan, row["n"], min_effect=eff)
            else:
                gate = control.get(a, False) and control.get("depth", False)
                f = judged(claim, paper, ours, row["diff"], row["lo"], row["hi"], eff, n=row["n"], gate=gate,
                           holm_p=q, note="decided by Holm over the two secondary claims" + (
                               "" if gate else f"; the positive control of {a if not control.get(a) else 'depth'} "
                                               "failed"))
            f.paper_effect = PAPER_GAIN[f"{a} > depth"]
            findings.append(f)
    guards_lines = look_guards(data, complete, [("cardinality vs width", _ARMS["cardinality"], _ARMS["width"])])
    guards_lines += look_guards(data, with_depth, [("width vs depth", _ARMS["width"], _ARMS["depth"])])
    agg = aggregate_by(done, ["grow"]).sort_values("mean", ascending=False)
    pair = done[done["grow"].isin(["cardinality", "width"])].assign(seed=done["look"] * 1000 + done["repeat"])
    power = power_lines(paired_sd(pair, "grow", "val_acc"), seed_sd(pair, ["grow"], "val_acc"),
                        int(pair.groupby("grow")["seed"].nunique().max()) if len(pair) else 0, eff,
                        "accuracy, cardinality vs width at 2x")
    names = list(data)
    notes = [(f"Planned: {looks} looks of equal size (information fractions "
              f"{', '.join(f'{t:.2f}' for t in fractions)}); O'Brien-Fleming alpha spending (Lan-DeMets), one-sided "
              f"alpha {ALPHA_ONE_SIDED:g} for the primary claim, decided only if both positive controls pass; the "
              f"depth arm's secondary claims (width > depth, cardinality > depth) with Holm once every look holds "
              f"it. Looks complete: {k} of {looks} ({', '.join(names[:k])}); with the depth arm: {sum(with_depth)}."),
             f"Arms: {_label(done)}; counted MACs: " + ", ".join(
                 f"{g} {m / 1e6:.2f}M" for g, m in done.groupby("grow")["macs"].first().items()) + "."]
    if "depth" in mean.index:
        failed = [a for a in ("cardinality", "width", "depth") if not control.get(a, False)]
        notes.append("Order of the 2x arms: " + ranking_line(
            done, "grow", ["cardinality", "width", "depth"],
            gate=(f"the positive control of {' and '.join(failed)} failed (2x by {failed[0]} not shown to beat 1x), so "
                  "the links to it are not decidable in this regime") if failed else ""))
    notes.append(_reading(findings, guards_lines))
    notes += [("The guards (those of `scalesearch compare`, on the primary pair and width vs depth): unequal cost must "
               "stay quiet (the 2x arms are matched to the same MACs within 5%); not converged says whether the "
               "curves had flattened."), *guards_lines]
    return findings, {"final validation accuracy per arm": agg}, power, notes, arm_curves(
        done, epochs_of(data, complete), folder, "grow", "rediscover_resnext_curves",
        lambda arm: f"{arm} ({'1x' if arm == 'none' else '2x'})")
