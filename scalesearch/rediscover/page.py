"""results/REDISCOVERY.md, the page a reader takes in at a glance (`write_summary`), and the withdrawn designs' page
(results/REDISCOVERY_withdrawn.md), both built from each experiment's results/<study>/rediscovery.json.

The page opens with one table (per claim: the paper's number, ours with its interval, the verdict of the one rule
`analysis.verdict`, one caveat), a "not tested" list and a forest plot of every primary, secondary and
positive-control effect against zero and the smallest effect that matters; one short section per experiment follows,
with its guards as one compact table of the final look (the full lines one link away, in the experiment's
rediscovery.md)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from scalesearch.rediscover.claims import MIN_EFFECT, Finding
from scalesearch.rediscover.drawing import forest_plot
from scalesearch.rediscover.experiments import EXPERIMENTS, Experiment
from scalesearch.util.text import fmt_duration, md_table

WITHDRAWN = "withdrawn"  # results/withdrawn/<study>/: the first designs' outputs, kept for the record
WITHDRAWN_PAGE = "REDISCOVERY_withdrawn.md"
FOREST = "rediscovery_forest"  # results/rediscovery_forest.png/.svg
GUARDS = ("positive control", "not converged", "failed start", "unequal cost", "memorising")
# what the proxies have not tested (beside any declared claim still waiting for its looks)
NOT_TESTED = (
    ("EfficientNet at the paper's scale (phi = 2-3) and a trained B0 -> B3 ladder per strategy: not decidable on "
     "this machine's budget, by the rule declared before the second headroom pilot (neither pilot showed a 2x-wider "
     "or 2x-deeper base beating the base on the cluttered proxy: [pilot 1](efficientnet_headroom_pilot/README.md), "
     "[pilot 2](efficientnet_headroom_pilot2/README.md)); B0 -> B7 is arithmetic only "
     "([efficientnet_b0_b7](efficientnet_b0_b7/b0_b7.md))"),
    "EfficientNet's step 1 (alpha, beta, gamma found by the tool's own search) in a design that can decide it",
    "ResNeXt's cardinality sweep at fixed complexity (Table 3) since its first design was withdrawn",
    "Degradation at ImageNet depths (plain-34 vs plain-18) and any claim about test error",
)
_GUARD_LINE = re.compile(r"^(?P<study>\S+) \(look (?P<look>\d+)\), (?P<pair>[^:]+): (?P<guard>[^:]+): (?P<state>[^:]+):")


def _load(folder: Path, exp: Experiment) -> tuple[str, dict[str, Any]] | None:
    """(study, its rediscovery.json) of the experiment's full run under `folder`, None when it has none."""
    study = next((s for s in exp.studies() if (folder / s / "rediscovery.json").exists()), None)
    if study is None:
        return None
    return study, json.loads((folder / study / "rediscovery.json").read_text(encoding="utf-8"))


def _finding(d: dict[str, Any]) -> Finding:
    known = Finding.__dataclass_fields__
    return Finding(**{k: v for k, v in d.items() if k in known})


def _kind(f: Finding) -> str:
    c = f.claim.lower()
    return ("primary" if c.startswith("primary") else "secondary" if c.startswith("secondary") else
            "control" if c.startswith("positive control") else "other")


def _short(claim: str) -> str:
    return re.sub(r"^(PRIMARY|secondary|positive control): ", "", claim)


def _final_guards(notes: list[str]) -> dict[str, dict[str, str]]:
    """The final look's guard states per pair: {pair: {guard: "fired" | "ok"}}."""
    rows = [m.groupdict() for n in notes if (m := _GUARD_LINE.match(n))]
    if not rows:
        return {}
    last = max(int(r["look"]) for r in rows)
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        if int(r["look"]) == last:
            out.setdefault(f"{r['pair']} (look {last})", {})[r["guard"]] = (
                "fired" if r["state"].strip() == "FIRED" else "ok")
    return out


def _caveat(f: Finding, d: dict[str, Any], by_design: tuple[str, ...]) -> str:
    """One caveat for a claim: an interim status first, then the memorising guard, then a guard that fired on the
    final look (those that fire by design for this experiment left out), else the effect's size."""
    if d["status"] != "full":
        return f"{d['status']} look: not the experiment's verdict yet"
    if f.verdict.startswith("not tested"):
        return "its looks have not run"
    mem = next((n for n in d.get("notes", []) if n.startswith("Memorising") and "FIRED" in n), None)
    if mem:
        return "memorising regime: added capacity raised training accuracy, not validation accuracy"
    if f.verdict == "not decidable":
        failed = [_short(c["claim"]).replace(" (val acc)", "").replace(" beats ", " not shown to beat ", 1)
                  for c in d["findings"] if _kind(_finding(c)) == "control" and c.get("verdict") == "failed"]
        if failed:
            return "gate failed: " + "; ".join(failed)
    fired = sorted({g for states in _final_guards(d.get("notes", [])).values() for g, s in states.items()
                    if s == "fired" and g not in by_design})
    if "not converged" in fired:
        return "curves still rising at the end: holds at this budget, not at convergence"
    if fired:
        return f"{', '.join(fired)} fired on the final look"
    return "-"


def _by_design(exp: Experiment) -> tuple[str, ...]:
    """Guards that fire by design for an experiment's claim (a deeper plain net is meant to cost more and train
    worse than the shallow one): shown as such, not as a defect."""
    return ("positive control", "unequal cost") if exp.name.startswith("degradation") else ()


def _pp(f: Finding) -> str:
    return "-" if math.isnan(f.diff) else f"{f.diff * 100:+.2f} pp [{f.lo * 100:+.2f}, {f.hi * 100:+.2f}]"


def _glance(current: dict[str, tuple[Experiment, str, dict[str, Any]]]) -> tuple[list[list[str]], list[str]]:
    rows, waiting = [], []
    for exp, _, d in current.values():
        for f in map(_finding, d["findings"]):
            if _kind(f) not in ("primary", "secondary"):
                continue
            if f.verdict.startswith("not tested"):
                waiting.append(f"{exp.title.split(' (')[0]}: {_short(f.claim)} (declared; its looks have not run)")
                continue
            rows.append([f"{exp.title.split(' (')[0]}: {_short(f.claim)}" + (" **(primary)**" if _kind(f) ==
                                                                             "primary" else ""),
                         f.paper, _pp(f), f"**{f.words()}**", _caveat(f, d, _by_design(exp))])
    return rows, waiting


def _section(root: Path, exp: Experiment, study: str, d: dict[str, Any]) -> list[str]:
    findings = list(map(_finding, d["findings"]))
    link = f"{study}/rediscovery.md"
    out = [f"## {exp.title}", "", f"Paper: {exp.paper}", "",
           (f"**{d['status'].upper()}** ([every number, guard line and figure]({link}); wall time "
            f"{fmt_duration(d.get('wall_seconds', 0), 'hms')} on a 2-core CPU)."), ""]
    reading = next((n for n in d.get("notes", []) if n.startswith("How to read it")), None)
    if reading:
        out += [reading.replace("How to read it:", "**How to read it:**", 1), ""]
    out += [md_table(["claim", "ours", "verdict"],
                     [[_short(f.claim) if _kind(f) != "control" else "control: " + _short(f.claim), _pp(f),
                       f.words()] for f in findings if _kind(f) != "other" or not f.verdict.endswith("crossed")]),
            ""]
    order = next((n for n in d.get("notes", []) if "Friedman" in n), None)
    if order:
        out += [f"Order: {order.split(': ', 1)[1] if order.startswith(('Order', 'The single')) else order}", ""]
    guards = _final_guards(d.get("notes", []))
    if guards:
        names = [g for g in GUARDS if any(g in s for s in guards.values())]
        design = _by_design(exp)
        out += [f"Guards of the final look ([full lines]({link}#notes)"
                + (f"; {' and '.join(design)} fire by design here" if design else "") + "):", "",
                md_table(["pair", *names], [[p, *[s.get(g, "-") + (" (by design)" if g in design and s.get(g) ==
                                                                   "fired" else "") for g in names]]
                                           for p, s in guards.items()]), ""]
    return out


def _withdrawn_page(root: Path) -> Path:
    """results/REDISCOVERY_withdrawn.md: the first designs' verdicts, each reason for withdrawing written once."""
    out = ["# Rediscovery: the withdrawn designs", "",
           ("The first designs' verdicts, kept for the record under results/withdrawn/ and not to be read as findings. "
            "An independent review recomputed them and found the regime unable to decide; their databases did not "
            "survive the machine they ran on, so they have no raw per-trial files. Their redesigned experiments are "
            "on [REDISCOVERY.md](REDISCOVERY.md)."), ""]
    reasons: dict[str, list[Experiment]] = {}
    for exp in EXPERIMENTS.values():
        if exp.withdrawn:
            reasons.setdefault(exp.withdrawn, []).append(exp)
    for reason, exps in reasons.items():
        out += [f"## {' / '.join(e.title for e in exps)}", "", f"**Why withdrawn:** {reason}.", ""]
        for exp in exps:
            got = _load(root / WITHDRAWN, exp)
            if got is None:
                out += [f"{exp.title}: no outputs kept.", ""]
                continue
            study, d = got
            out += [f"### {exp.title}", "",
                    f"[details]({WITHDRAWN}/{study}/rediscovery.md); verdicts as they were written (withdrawn):", "",
                    md_table(["claim", "ours", "verdict"],
                             [[f["claim"], f["ours"], f"withdrawn (was: {f['verdict']})"] for f in d["findings"]]), ""]
    path = root / WITHDRAWN_PAGE
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def write_summary(out_root: str | Path = "results") -> Path:
    """results/REDISCOVERY.md (and REDISCOVERY_withdrawn.md, and the forest plot beside them) from every
    experiment's rediscovery.json found under `out_root`. Returns the page's path."""
    root = Path(out_root)
    current = {n: (e, *got) for n, e in EXPERIMENTS.items() if not e.withdrawn and (got := _load(root, e))}
    rows, waiting = _glance(current)
    out = ["# Rediscovery: the papers' findings on Fashion-MNIST proxies", "",
           ("Generated by `scalesearch rediscover` from each study's committed trials.csv and epochs.csv (`scalesearch "
            "rediscover EXPERIMENT --from-csv` recomputes every number). Every training ran on a 2-core CPU on "
            "proxy tasks: small nets, 16-36 px images, 8-16 epochs. Verdicts follow one rule "
            "([docs/rediscovery.md](../docs/rediscovery.md#verdicts)): *reproduced* (the 95% interval above 0; its "
            f"size against the smallest effect that matters, {MIN_EFFECT['accuracy'] * 100:.1f} pp of accuracy or "
            f"{MIN_EFFECT['train_error'] * 100:.0f} pp of training error), *not reproduced* (the interval reaches 0 "
            "and rules out that effect, or a significant reversal, said so), *inconclusive*, or *not decidable* (a "
            "declared gate failed; an effect against the claim is printed beside it)."), "",
           "## At a glance", ""]
    out += [md_table(["finding", "paper", "ours (95% interval)", "verdict", "caveat"], rows), ""] if rows else \
        ["No experiment has a complete run yet.", ""]
    out += ["## Not tested", "", *[f"- {w}" for w in waiting], *[f"- {t}" for t in NOT_TESTED],
            *[f"- {t}: no complete run ({EXPERIMENTS[n].not_run or 'not run yet'})" for n, t in
              ((n, e.title) for n, e in EXPERIMENTS.items() if not e.withdrawn and n not in current)], ""]
    effects = [(exp, f) for exp, _, d in current.values() for f in map(_finding, d["findings"])]
    figs = forest_plot([(exp.title.split(" (")[0], f, _kind(f),
                         MIN_EFFECT["train_error" if exp.name.startswith("degradation") else "accuracy"])
                        for exp, f in effects
                        if _kind(f) in ("primary", "secondary", "control") and not math.isnan(f.diff)], root, FOREST)
    if figs:
        out += ["## Every effect against zero and the smallest effect that matters", "",
                f"![forest plot]({FOREST}.png)", "",
                ("Each primary (filled), secondary (open) and positive-control (grey) effect with its 95% interval, "
                 "in pp; the dashed lines mark the smallest effect that matters; a diamond marks the paper's effect "
                 "where the paper gives one in the same units."), ""]
    for exp, study, d in current.values():
        out += _section(root, exp, study, d)
    withdrawn = _withdrawn_page(root)
    out += ["## Withdrawn designs", "",
            (f"The first designs' verdicts are withdrawn; each reason and the old tables are on "
             f"[{withdrawn.name}]({withdrawn.name})."), ""]
    path = root / "REDISCOVERY.md"
    path.write_text("\n".join(out).rstrip("\n") + "\n", encoding="utf-8")
    return path
