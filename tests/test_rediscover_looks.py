"""The redesigned degradation analysis (planned looks, a primary claim, Holm over the secondary claims, the guards)
on studies written through the store, and the raw files (trials.csv, epochs.csv, study.json) that let it be
recomputed without the database: the same verdicts from the database and from the files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from scalesearch.analysis.sequential import holm, sequential_test
from scalesearch.rediscover import analyse
from scalesearch.rediscover.outputs import render, write
from scalesearch.results.raw import read_raw, write_raw
from scalesearch.spec import format_spec, parse_spec
from scalesearch.store import Store

SPEC = (Path(__file__).resolve().parents[1] / "spaces" / "degradation_look1.yaml").read_text()
# final training error per (net, depth) and per repeat: plain-56 far worse than plain-20 (so the primary claim
# crosses look 1's boundary); residual-56 a little worse than residual-20
ERR = {("none", 56): [0.50, 0.46, 0.53, 0.49], ("none", 20): [0.20, 0.21, 0.19, 0.22],
       ("A", 56): [0.20, 0.193, 0.214, 0.188], ("A", 20): [0.185, 0.18, 0.20, 0.175]}
EPOCHS = 12


def write_look(url: str, name: str, look: int) -> None:
    text = SPEC.replace("study: degradation_look1", f"study: {name}")
    spec = parse_spec(text)
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(spec), spec_hash=name, seed=look,
                           sampler="grid", objectives=[["val_acc", "max"]], repeats=4, planned=16)
        for (shortcut, depth), errs in ERR.items():
            for r, err in enumerate(errs):
                err += 0.01 * (look - 1) * (r % 2)  # look 2 differs a little from look 1
                key = f"{shortcut}{depth}-r{r}"
                store.queue_trial(name, {
                    "key": key, "config_key": f"{shortcut}{depth}",
                    "parameters": {"depth": depth, "shortcut": shortcut},
                    "values": {"depth": depth, "shortcut": shortcut}, "macs": 2_525_504 if depth == 20 else 7_831_616,
                    "params": 1000, "acts": 10, "seed": 1000 * look + r, "repeat": r,
                    "point": "baseline" if (shortcut, depth) == ("A", 20) else None})
                store.start_trial(name, key)
                tr = [1 - err - 0.3 * np.exp(-e) for e in range(1, EPOCHS + 1)]
                epochs = [{"epoch": e + 1, "steps": 40 * (e + 1), "lr": 0.1, "train_loss": 1.0, "train_acc": a,
                           "val_loss": 1.0, "val_acc": a - 0.02, "seconds": 0.1} for e, a in enumerate(tr)]
                store.finish_trial(name, key, "completed", epochs=epochs, val_acc=tr[-1] - 0.02,
                                   best_val_acc=tr[-1] - 0.02)
        store.update_study(name, state="finished", finished=dt.datetime(2026, 12, 2, 12, 0, 0), wall_seconds=60.0)


def diffs(look_count: int, shortcut: str) -> list[float]:
    out = []
    for look in range(1, look_count + 1):
        for r in range(4):
            bump = 0.01 * (look - 1) * (r % 2)
            out.append((ERR[(shortcut, 56)][r] + bump) - (ERR[(shortcut, 20)][r] + bump))
    return out


@pytest.fixture
def two_looks(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    write_look(url, "deg_look1", 1)
    return url, tmp_path


def test_look_one_decides_the_primary_claim_and_holds_back_the_secondary_ones(two_looks):
    url, tmp = two_looks
    o = analyse("degradation-looks", url, studies=("deg_look1", "deg_look2"), out_root=tmp / "out")
    assert o.status == "interim" and o.missing == ("deg_look2",)
    primary = o.findings[0]
    expected = sequential_test(diffs(1, "none"), 1, [0.5, 1.0])
    assert primary.claim.startswith("PRIMARY: plain-56")
    assert primary.verdict == "reproduced" and "decided at look 1" in primary.note
    assert (primary.diff, primary.lo, primary.hi) == pytest.approx((expected.diff, expected.lo, expected.hi))
    assert [f.verdict for f in o.findings[1:]] == ["not tested before look 2"] * 3
    guards = [n for n in o.notes if n.startswith("deg_look1 (look 1), plain-56 vs plain-20")]
    assert len(guards) == 5 and any("unequal cost: FIRED" in g for g in guards)
    assert "INTERIM LOOK" in render(o)


def test_the_final_look_applies_holm_and_the_files_give_the_same_verdicts(two_looks):
    url, tmp = two_looks
    write_look(url, "deg_look2", 2)
    o = analyse("degradation-looks", url, studies=("deg_look1", "deg_look2"), out_root=tmp / "out")
    assert o.status == "full"
    res = np.array(diffs(2, "A"))
    inter = np.array(diffs(2, "none")) - res

    def p_greater(x):
        return stats.t.sf(x.mean() / (x.std(ddof=1) / np.sqrt(len(x))), len(x) - 1)

    oriented = [-res, 0.01 - res, inter]
    ps = [p_greater(x) for x in oriented]
    adjusted = holm(ps)

    def upper(x):  # the upper end of the 95% t interval of the oriented differences
        return x.mean() + stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))

    for f, q, x, threshold in zip(o.findings[1:], adjusted, oriented, (0.01, 0.0, 0.01), strict=True):
        assert f"Holm-adjusted {q:.2g}" in f.ours
        expected = "reproduced" if q < 0.025 else "not reproduced" if upper(x) < threshold else "inconclusive"
        assert f.verdict == expected
    assert [f.verdict for f in o.findings[1:]] == ["not reproduced", "not reproduced", "reproduced"]
    assert o.findings[0].verdict == "reproduced"
    # write: rediscovery.json, and each study's raw files, which recompute the same findings without the database
    write(o, tmp / "out", db=url, report=False)
    for s in ("deg_look1", "deg_look2"):
        assert {p.name for p in (tmp / "out" / s).iterdir()} >= {"trials.csv", "epochs.csv", "study.json"}
    stored = json.loads((tmp / "out" / "deg_look1" / "rediscovery.json").read_text())
    again = analyse("degradation-looks", None, studies=("deg_look1", "deg_look2"), out_root=tmp / "out", raw=True)
    assert again.status == "full"
    assert [(f.claim, f.verdict, f.ours) for f in again.findings] == \
        [(f["claim"], f["verdict"], f["ours"]) for f in stored["findings"]]
    assert [f.diff for f in again.findings] == pytest.approx([f["diff"] for f in stored["findings"]], abs=1e-12)


def test_raw_files_round_trip_a_study_exactly(two_looks):
    url, tmp = two_looks
    from scalesearch.results import load_epochs, load_trials

    write_raw(url, "deg_look1", tmp / "raw")
    record, trials, epochs = read_raw(tmp / "raw")
    assert record.name == "deg_look1" and record.repeats == 4 and record.finished.startswith("2026-12-02T12:00")
    assert parse_spec(record.spec_text) == parse_spec(SPEC.replace("degradation_look1", "deg_look1"))
    ref = load_trials(url, "deg_look1")
    assert list(trials.columns) == list(ref.columns)
    assert trials["shortcut"].tolist() == ref["shortcut"].tolist()  # "none" stays a string
    assert trials["train_s"].isna().all() == ref["train_s"].isna().all()
    ep_ref = load_epochs(url, "deg_look1")
    assert np.array_equal(epochs["train_acc"].to_numpy(), ep_ref["train_acc"].to_numpy())  # floats exact
    with pytest.raises(FileNotFoundError, match="epochs.csv: no such file"):
        (tmp / "raw" / "epochs.csv").unlink()
        read_raw(tmp / "raw")
