"""The committed verdicts recomputed from the committed raw files alone (every verdict ships with its
raw per-trial data, and a test recomputes it): results/<experiment>_look*/ trials.csv, epochs.csv and study.json
give, without any database, exactly the findings stored in results/<experiment>_look1/rediscovery.json, for the
degradation and the ResNeXt experiments (as far as each has run: a look not run yet has no raw files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scalesearch.rediscover import EXPERIMENTS, analyse
from scalesearch.results.raw import RAW_FILES
from scalesearch.util.files import output_folder

ROOT = Path(__file__).resolve().parent.parent / "results"


@pytest.mark.parametrize("experiment", ["degradation-looks", "resnext-looks", "efficientnet-looks"])
def test_the_committed_verdicts_follow_from_the_committed_csvs(tmp_path, experiment):
    studies = EXPERIMENTS[experiment].studies()
    stored = json.loads((ROOT / studies[0] / "rediscovery.json").read_text(encoding="utf-8"))
    for s in stored["studies"]:  # only the raw files are copied: nothing else could feed the analysis
        if not (ROOT / s / RAW_FILES[0]).exists():
            continue
        output_folder(tmp_path / s)  # a folder as scalesearch makes it (marked): the analysis draws its figures there
        for name in RAW_FILES:
            shutil.copyfile(ROOT / s / name, tmp_path / s / name)
    again = analyse(experiment, None, out_root=tmp_path, raw=True)
    assert again.status == stored["status"]
    assert [(f.claim, f.verdict, f.ours) for f in again.findings] == \
        [(f["claim"], f["verdict"], f["ours"]) for f in stored["findings"]]
    for f, g in zip(again.findings, stored["findings"], strict=True):
        assert (f.diff, f.lo, f.hi) == pytest.approx((g["diff"], g["lo"], g["hi"]), abs=1e-12, nan_ok=True)
    assert again.findings[0].claim.startswith("PRIMARY: ")


def test_the_committed_page_is_what_the_committed_verdicts_give(tmp_path):
    """results/REDISCOVERY.md and REDISCOVERY_withdrawn.md regenerate, line for line, from the committed
    rediscovery.json files (which the test above recomputes from the committed CSVs)."""
    from scalesearch.rediscover import write_summary

    for js in ROOT.rglob("rediscovery.json"):
        dest = tmp_path / js.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(js, dest)
    page = write_summary(tmp_path)
    assert page.read_text(encoding="utf-8") == (ROOT / "REDISCOVERY.md").read_text(encoding="utf-8")
    assert (tmp_path / "REDISCOVERY_withdrawn.md").read_text(encoding="utf-8") == \
        (ROOT / "REDISCOVERY_withdrawn.md").read_text(encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160 and text.index("## At a glance") < text.index("## Not tested") < \
        text.index("![forest plot]") < text.index("## Degradation")
    assert "FIRED" not in text  # the raw guard lines stay one link away, in each experiment's rediscovery.md
