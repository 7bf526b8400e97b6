"""The rediscovery experiments at toy size, shared by the two files that run them (each trains the studies of its
own experiments, so that the two halves run on two pytest workers): each experiment's own spec file with synthetic
data, one or two epochs and two seeds, through the real search engine (Optuna, Ray, SQLite)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from scalesearch import rediscover as rd
from support.search import run_study_inprocess

ROOT = Path(__file__).resolve().parent.parent.parent
# The two halves, one file each: every experiment in exactly one (test_rediscover.py checks it), balanced by the CPU
# time of their toy studies (about 150 and 170 s on one idle core).
LOOKS_HALF = ("degradation-looks", "resnext-looks", "efficientnet-looks", "degradation", "degradation-residual")
STEPS_HALF = ("efficientnet-step1", "efficientnet-step2", "resnext", "resnext-seeds")
LABELS = {"reproduced", "not reproduced", "inconclusive", "measured", "within interval", "outside interval",
          "not testable", "continue to look 2", "not tested before look 2", "passed",
          "failed", "not decidable", "crossed", "not crossed"}


def toy_spec(text: str, study: str) -> str:
    """The experiment's spec at toy size: synthetic 1-channel data, 1-2 epochs, 2 seeds, a smaller grid."""
    d = yaml.safe_load(text)
    res = int(d["dataset"].get("resolution", 16))
    d["study"] = study
    d["dataset"] = {"name": "synthetic", "num_classes": 4, "in_channels": 1, "image_size": res, "num_train": 96,
                    "num_test": 16, "val_size": 32}
    params = d.get("parameters", {})
    train = {**d.get("train", {}), "batch_size": 32, "warmup_epochs": 0}
    if "epochs" in params:
        params["epochs"] = {"grid": [2, 1]}
        if "epochs" in d.get("baseline", {}):
            d["baseline"]["epochs"] = 2
    else:
        train["epochs"] = 1
    d["train"] = train
    grid_c = params.get("C", {}).get("grid") if isinstance(params.get("C"), dict) else None
    if grid_c and len(grid_c) > 3:  # the cardinality sweep: its ends and middle (C = 1, 4, 16 of 1..16)
        params["C"] = {"grid": [grid_c[0], grid_c[len(grid_c) // 2], grid_c[-1]]}
    for name, small in (("alpha", [1.0, 1.2]), ("beta", [1.0, 1.1])):
        if name in params and "grid" in params[name]:
            params[name] = {"grid": small}
    d["search"].update({"repeats": 2, "max_concurrency": 1})  # one trial worker: its start costs more CPU than its trainings
    # no trained weights sent, decoded, written and deleted: nothing here reads them (kept weights: test_export.py)
    d["search"]["keep"] = "none"
    d["search"].pop("time_budget_s", None)
    return yaml.safe_dump(d, sort_keys=False)


# Looks run at toy size: the first two of EfficientNet's four (the analysis of the other two is then "interim",
# an end-to-end path of its own; the complete four-look analysis is tested on studies written through the store in
# test_rediscover_efficientnet_looks.py and on the committed CSVs in test_rediscover_committed.py).
TOY_LOOKS = {"efficientnet-looks": 2, "resnext-looks": 2}  # ResNeXt's depth-arm studies: tested through the store


def train_toy(experiments: tuple[str, ...], folder: Path, session: Any) -> tuple[str, dict[str, list[str]], Path]:
    """Train the toy studies of `experiments` into one SQLite file in `folder`: (db URL, study names per experiment,
    folder); every experiment's study names are listed, the looks not run (TOY_LOOKS) included."""
    db = f"sqlite:///{folder / 'r.db'}"
    studies: dict[str, list[str]] = {}
    for name in experiments:
        exp = rd.EXPERIMENTS[name]
        studies[name] = []
        for i, spec in enumerate(exp.specs):
            study = "toy_" + Path(spec).stem
            studies[name].append(study)
            if i >= TOY_LOOKS.get(name, len(exp.specs)):
                continue  # a look not run yet
            if name == "efficientnet-step2":
                text = rd.step2_spec_text(phis=(1, 2))  # same generator as the committed spec, two phis
            else:
                text = (ROOT / spec).read_text(encoding="utf-8")
            run_study_inprocess(toy_spec(text, study), db, session, filename=spec)
    return db, studies, folder


def check_end_to_end(toy: tuple[str, dict[str, list[str]], Path], experiment: str) -> None:
    """Analyse one experiment's toy studies, write its outputs and reports, and check what they hold."""
    db, studies, folder = toy
    out = folder / "results"
    o = rd.analyse(experiment, db, studies=studies[experiment], out_root=out)
    run = studies[experiment][:TOY_LOOKS.get(experiment, len(studies[experiment]))]
    if experiment in TOY_LOOKS:  # studies left to run: an analysis naming them (interim while a planned look is)
        looks = rd.EXPERIMENTS[experiment].looks
        assert o.status == ("full" if len(run) >= looks else "interim")
        assert o.missing == tuple(studies[experiment][len(run):])
    else:
        assert o.status in ("full", "partial")
    assert o.findings and all(f.verdict in LABELS for f in o.findings)
    for f in o.findings:  # what the JSON stores is what the Markdown shows
        if not math.isnan(f.lo) and " pp [" in f.ours:
            assert f"[{f.lo * 100:+.2f}, {f.hi * 100:+.2f}]" in f.ours, (f.claim, f.ours)
    paths = rd.write(o, out, db=db, report=True)
    md = (out / studies[experiment][0] / "rediscovery.md").read_text()
    for s in run:
        assert (out / s / "report.md").exists() and (out / s / "report.html").exists()
    assert "## Verdicts" in md and "## Power" in md and "## Budget, hardware, wall time" in md
    assert rd.EXPERIMENTS[experiment].paper.split(":")[0] in md   # the paper's numbers beside ours
    assert any(p.name == "REDISCOVERY.md" for p in paths)
    for f in o.figures:
        assert Path(f).exists()
    # the reports load plotly from one shared file instead of inlining 4.6 MB each
    from scalesearch.plot import plotly_asset

    page = (out / studies[experiment][0] / "report.html").read_text()
    assert (out / "_assets" / plotly_asset()).is_file() and f'src="../_assets/{plotly_asset()}"' in page
    assert len(page) < 1_000_000
    if experiment == "resnext-seeds":  # only the cardinality and width arms: no claim about depth or 1x
        assert o.findings and all("cardinality > width" in f.claim or "cardinality - width" in f.claim
                                  for f in o.findings)
    if experiment == "degradation-residual":  # only the residual pair: no plain-net claim, no interaction
        assert len(o.findings) == 2 and all(f.claim.startswith("residual-56") for f in o.findings)


