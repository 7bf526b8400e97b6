"""The rediscovery experiments at toy size, first half: the current designs (the planned looks of degradation,
ResNeXt and EfficientNet) and the withdrawn degradation studies, end to end through the real engine, the report and
the verdicts (tests/support/toy_rediscover.py; the other half is test_rediscover_toy_steps.py)."""

from __future__ import annotations

import math

import pytest
from support.toy_rediscover import LOOKS_HALF, check_end_to_end

from scalesearch import rediscover as rd

EXPERIMENTS = LOOKS_HALF  # what the `toy_db` fixture (conftest.py) trains for this file


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_end_to_end_through_report_and_verdict(toy_db, experiment):
    check_end_to_end(toy_db, experiment)


def test_degradation_intervals_are_paired_t_over_seeds(toy_db):
    db, studies, folder = toy_db
    o = rd.analyse("degradation", db, studies=studies["degradation"], out_root=folder / "results")
    from scalesearch.analysis import t_quantile
    from scalesearch.results import load_epochs, load_trials

    t = load_trials(db, studies["degradation"][0])
    t = t[t.state == "COMPLETE"]
    e = load_epochs(db, studies["degradation"][0])
    last = e.sort_values("epoch").groupby("number").tail(1).set_index("number")["train_acc"]
    t = t.assign(err=1 - t["number"].map(last))
    plain = t[t.shortcut == "none"].pivot_table(index="seed", columns="depth", values="err")
    diff = (plain[56] - plain[20]).to_numpy()
    h = t_quantile(0.975, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
    f = o.findings[0]
    assert f.claim.startswith("plain-56")
    assert f.diff == pytest.approx(diff.mean()) and f.lo == pytest.approx(diff.mean() - h)
    assert f.hi == pytest.approx(diff.mean() + h)
    assert f.n_seeds == 2


def test_summary_gathers_all_experiments(toy_db, tmp_path):
    db, studies, _ = toy_db
    for name in EXPERIMENTS:  # this half's: the page lists every experiment whatever was written
        rd.write(rd.analyse(name, db, studies=studies[name], out_root=tmp_path), tmp_path, report=False)
    text = (tmp_path / "REDISCOVERY.md").read_text()
    # the page looks for the experiments' real study names: toy studies are listed as not run (current designs)
    # and as having no outputs kept (withdrawn ones, on their own page)
    current = [e for e in rd.EXPERIMENTS.values() if not e.withdrawn]
    assert "No experiment has a complete run yet." in text
    for exp in current:
        assert f"- {exp.title}: no complete run" in text
    withdrawn = (tmp_path / "REDISCOVERY_withdrawn.md").read_text()
    assert withdrawn.count("no outputs kept.") == len(rd.EXPERIMENTS) - len(current)
    reasons = {e.withdrawn for e in rd.EXPERIMENTS.values() if e.withdrawn}
    assert all(withdrawn.count(r) == 1 for r in reasons)  # each reason written once
    assert "[REDISCOVERY_withdrawn.md](REDISCOVERY_withdrawn.md)" in text


