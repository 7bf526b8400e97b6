"""What `scalesearch rediscover` writes: rediscovery.md of one experiment (`render`), its JSON and CSV tables
(`write`), then results/REDISCOVERY.md over every experiment found (`page.write_summary`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from scalesearch.rediscover.claims import LEVEL, MIN_EFFECT, POWER
from scalesearch.rediscover.experiments import EXPERIMENTS, Outcome
from scalesearch.rediscover.page import write_summary
from scalesearch.rediscover.reading import OUT_REMEDY
from scalesearch.util.files import check_output_folder, output_folder
from scalesearch.util.text import fmt_duration, md_table


def _fmt_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return "-"
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    return md_table(list(map(str, df.columns)), [[cell(v) for v in r] for r in df.itertuples(index=False)])


def render(outcome: Outcome) -> str:
    """rediscovery.md of one experiment."""
    exp = EXPERIMENTS[outcome.experiment]
    label = {"pilot": "PILOT (measures seed noise; not the experiment's verdict)",
             "pilot-partial": "PARTIAL PILOT (part of the pilot has not run or not finished; measures seed noise only)",
             "partial": "PARTIAL RUN (not all planned trials finished; verdicts are provisional)",
             "interim": ("INTERIM LOOK (a planned look of the design; the primary claim is decided here only past its "
                         "O'Brien-Fleming boundary, the secondary claims only at the final look)"),
             "full": "full run"}[outcome.status]
    out = [f"# Rediscovery: {exp.title}", "", f"**Status: {label}.** Studies: " +
           ", ".join(f"`{s}` ([report](../{s}/report.md))" for s in outcome.studies), "",
           *([f"**Not run yet:** {', '.join(f'`{m}`' for m in outcome.missing)}.", ""] if outcome.missing else []),
           f"**The paper:** {exp.paper}", "",
           "## Verdicts", "",
           (f"Intervals are {LEVEL:.0%} Student t intervals over seeds, paired by seed (repeat r of every "
            "configuration trains with the same seed); a claim decided at planned looks uses the look's repeated "
            "interval. The verdicts follow one rule (`scalesearch.analysis.verdict`, docs/rediscovery.md#verdicts): "
            "'reproduced' when the interval lies on the paper's side of zero, with its size against the smallest "
            "effect that matters ('at least', 'size uncertain against' or 'smaller than' it); 'not reproduced' when "
            "the interval reaches zero and rules out that effect, a significant reversal said so; 'inconclusive' "
            "otherwise; 'not decidable' where a declared gate (a positive control) failed, any significant effect "
            "against the claim printed beside it. Smallest effect that matters (declared before the data): accuracy "
            f"{MIN_EFFECT['accuracy'] * 100:.1f} pp, training error {MIN_EFFECT['train_error'] * 100:.1f} pp. "
            f"'detectable' is the smallest true difference this run detects with {POWER:.0%} power."), "",
           md_table(["claim", "paper", "ours", "verdict", "detectable", "seeds"],
                    [[f.claim, f.paper, f.ours + (f" ({f.note})" if f.note else ""), f"**{f.words()}**",
                      "-" if math.isnan(f.detectable) else f"{f.detectable * 100:.2f} pp", str(f.n_seeds)]
                     for f in outcome.findings])]
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
                (f"- wall time {fmt_duration(p['wall_seconds'], 'hms')} (sum of trial times "
                 f"{fmt_duration(p['train_seconds'], 'hms')});"
                 f" started {p['started']}, finished {p['finished']}"),
                f"- hardware: {hw_txt}", ""]
    return "\n".join(out) + "\n"


def write(outcome: Outcome, out_root: str | Path = "results", *, db: str | None = None,
          report: bool = True) -> list[Path]:
    """Write results/<study>/rediscovery.md and .json (and each study's report with `report`), then rebuild
    results/REDISCOVERY.md. Returns the paths written. Each results/<study>/ and results/_assets/ is created and
    marked, or used when it is marked; one that exists unmarked is refused before anything is written
    (`util.files.output_folder`)."""
    root = Path(out_root)
    shared = root / "_assets"
    for f in [root / s for s in outcome.studies] + ([shared] if report and db is not None else []):
        check_output_folder(f, remedy=OUT_REMEDY)
    folder = output_folder(root / outcome.studies[0], remedy=OUT_REMEDY)
    paths = []
    if db is not None:  # the raw data beside the verdicts: anyone can recompute them without the database
        from scalesearch.results.raw import write_raw

        for s in outcome.studies:
            try:
                paths += write_raw(db, s, output_folder(root / s, remedy=OUT_REMEDY))
            except (LookupError, FileNotFoundError):
                pass  # read from its committed raw files already
    if report and db is not None:
        from scalesearch.plot import plotly_asset
        from scalesearch.results.report import write_report

        output_folder(shared, remedy=OUT_REMEDY)
        for s in outcome.studies:  # the reports share one copy of plotly's JavaScript, results/_assets/
            try:
                paths.append(write_report(db, s, output_folder(root / s, remedy=OUT_REMEDY),
                                          plotly_js=f"../{shared.name}/{plotly_asset()}").markdown)
            except (LookupError, FileNotFoundError):
                pass
    md = folder / "rediscovery.md"
    md.write_text(render(outcome), encoding="utf-8")
    js = folder / "rediscovery.json"
    js.write_text(json.dumps({"experiment": outcome.experiment, "status": outcome.status,
                              "studies": list(outcome.studies),
                              "findings": [f.__dict__ for f in outcome.findings],
                              "power": outcome.power, "notes": list(outcome.notes),
                              "wall_seconds": sum(p["wall_seconds"] for p in outcome.provenance.values()),
                              "seeds": {s: p["seeds"] for s, p in outcome.provenance.items()}},
                             indent=1, default=float), encoding="utf-8")
    for name, tab in outcome.tables.items():
        slug = "".join(c if c.isalnum() else "_" for c in name.split("(")[0].strip().lower()).strip("_")
        tab.to_csv(folder / f"rediscovery_{slug}.csv", index=False, float_format="%.6g")
    paths += [md, js, write_summary(root)]
    return paths
