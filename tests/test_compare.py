"""`compare_arms` and its regime guards, on small studies written through the store, each built to trip one guard
alone (and one that trips none); the difference and test checked against scipy computed here."""

from __future__ import annotations

import math
import subprocess

import pytest
from scipy import stats
from support.cli import main_in_process

from scalesearch.analysis.guards import chance_band, failed_start, not_converged, unequal_cost
from scalesearch.errors import InputError
from scalesearch.results.compare import compare_arms, difference
from scalesearch.spec import format_spec, parse_spec
from scalesearch.store import Store

SPEC = """study: {name}
seed: 0
dataset: {{name: synthetic, num_classes: 10, val_size: 1000, num_train: 2000}}
train: {{epochs: 8, batch_size: 32}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: width}}}}
parameters: {{width: {{grid: [8, 16, 24]}}}}
{baseline}search: {{sampler: grid, repeats: 4}}
"""
NOISE = (0.0, 0.004, -0.003, 0.002)  # per repeat: the pairs share it, so paired intervals are tight
EPOCHS = 8


def curve(final: float, *, rise_at_end: float = 0.0, stuck_until: int = 0) -> list[float]:
    """val_acc by epoch: saturating towards `final` (flat over the last quarter), optionally still rising by
    `rise_at_end` between epoch 6 and 8, or at chance (0.1) through epoch `stuck_until`."""
    out = []
    for e in range(1, EPOCHS + 1):
        v = final - (final - 0.3) * math.exp(-e)
        if rise_at_end:
            v = final - rise_at_end * max(0.0, (EPOCHS - e) / (EPOCHS - 6))
        if e <= stuck_until:
            v = 0.1
        out.append(round(v, 5))
    return out


def write(url: str, name: str, arms: dict[int, dict], *, baseline: dict | None = None) -> dict[int, list[int]]:
    """A study whose trials are width -> {"final", "macs", and curve options}; returns width -> trial numbers."""
    text = SPEC.format(name=name, baseline="baseline: {width: 8}\n" if baseline is not None else "")
    spec = parse_spec(text)
    numbers: dict[int, list[int]] = {}
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(spec), spec_hash=name, seed=0,
                           sampler="grid", objectives=[["val_acc", "max"]], repeats=4)
        for width, arm in ({8: baseline, **arms} if baseline is not None else arms).items():
            for r in range(4):
                key = f"w{width}-r{r}"
                if r == arm.get("stuck_repeat"):  # this repeat alone starts at chance
                    accs = [v if e < arm["stuck_until"] else v + NOISE[r]
                            for e, v in enumerate(curve(arm["final"], stuck_until=arm["stuck_until"]))]
                else:
                    noise = arm.get("noise", NOISE)[r]
                    accs = [v + noise for v in curve(arm["final"], rise_at_end=arm.get("rise_at_end", 0.0))]
                rec = store.queue_trial(name, {"key": key, "config_key": f"w{width}", "parameters": {"width": width},
                                               "values": {"width": width}, "macs": arm["macs"], "params": 1000,
                                               "acts": 10, "seed": 100 + r, "repeat": r,
                                               "point": "baseline" if width == 8 and baseline is not None else None})
                store.start_trial(name, key)
                epochs = [{"epoch": e + 1, "steps": 10 * (e + 1), "lr": 0.1, "train_loss": 1.0, "train_acc": v,
                           "val_loss": 1.0, "val_acc": v, "seconds": 0.1} for e, v in enumerate(accs)]
                store.finish_trial(name, key, "completed", epochs=epochs, val_acc=accs[-1], best_val_acc=max(accs))
                numbers.setdefault(width, []).append(rec.number)
    return numbers


BASE = {"final": 0.80, "macs": 1_000_000}
GOOD_A = {"final": 0.85, "macs": 2_000_000}
GOOD_B = {"final": 0.83, "macs": 2_020_000}
CASES = {
    "none": ({16: GOOD_A, 24: GOOD_B}, set()),
    "positive control": ({16: GOOD_A, 24: {**GOOD_B, "final": 0.79}}, {"positive control"}),
    "not converged": ({16: {**GOOD_A, "rise_at_end": 0.02}, 24: GOOD_B}, {"not converged"}),
    "failed start": ({16: GOOD_A, 24: {**GOOD_B, "stuck_until": 2, "stuck_repeat": 1}}, {"failed start"}),
    "unequal cost": ({16: GOOD_A, 24: {**GOOD_B, "macs": 2_200_000}}, {"unequal cost"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_guard_fires_alone_on_the_study_built_to_trip_it(tmp_path, case):
    arms, expected = CASES[case]
    url = f"sqlite:///{tmp_path}/r.db"
    numbers = write(url, "s", arms, baseline=BASE)
    c = compare_arms(url, "s", "width == 16", "width == 24", pair_by="repeat")
    assert {g.name for g in c.fired} == expected, c.text()
    assert [g.name for g in c.guards] == ["positive control", "not converged", "failed start", "unequal cost", "memorising"]
    assert all(g.applicable for g in c.guards)
    assert c.a_trials == tuple(numbers[16]) and c.b_trials == tuple(numbers[24])
    if case == "not converged":
        assert c.fired[0].trials == tuple(numbers[16])  # the guard names the trials, not the arm
    if case == "failed start":
        assert c.fired[0].trials == (numbers[24][1],)
    text = c.text()
    assert text.count("FIRED") == len(expected) and all(f"{name}: FIRED" in text for name in expected)


@pytest.mark.parametrize("case", ["none", "failed start"])
def test_the_raw_files_give_the_same_comparison_as_the_database(tmp_path, case):
    """compare_frames on a study's trials.csv/epochs.csv/study.json (read_raw) = compare_arms on its database."""
    from scalesearch.results.compare import compare_frames
    from scalesearch.results.raw import read_raw, write_raw

    url = f"sqlite:///{tmp_path}/r.db"
    write(url, "s", CASES[case][0], baseline=BASE)
    ref = compare_arms(url, "s", "width == 16", "width == 24", pair_by="repeat")
    write_raw(url, "s", tmp_path / "raw")
    record, trials, epochs = read_raw(tmp_path / "raw")
    again = compare_frames(trials, epochs, parse_spec(record.spec_text), "width == 16", "width == 24", study="s",
                           pair_by="repeat")
    assert again == ref and again.text() == ref.text()


def test_the_difference_interval_and_test_are_scipys_paired_t(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    other = (0.003, -0.002, 0.001, 0.0)
    write(url, "s", {16: GOOD_A, 24: {**GOOD_B, "final": 0.84, "noise": other}}, baseline=BASE)
    c = compare_arms(url, "s", "width == 16", "width == 24", pair_by="repeat")
    a = [curve(0.85)[-1] + n for n in NOISE]
    b = [curve(0.84)[-1] + n for n in other]
    d = [x - y for x, y in zip(a, b, strict=True)]
    ref = stats.ttest_rel(a, b)
    assert c.result.diff == pytest.approx(sum(d) / 4) and c.result.test == "paired t" and c.result.n_pairs == 4
    assert c.result.p == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (c.result.lo, c.result.hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    unpaired = compare_arms(url, "s", "width == 16", "width == 24")
    w = stats.ttest_ind(a, b, equal_var=False)
    assert unpaired.result.test == "Welch t" and unpaired.result.p == pytest.approx(w.pvalue)
    ci = w.confidence_interval(0.95)
    assert (unpaired.result.lo, unpaired.result.hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert unpaired.reading.startswith("A's val_acc is higher")


def test_without_a_baseline_the_positive_control_says_it_cannot_tell(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    write(url, "s", {16: GOOD_A, 24: GOOD_B})
    c = compare_arms(url, "s", "width == 16", "width == 24")
    pc = c.guards[0]
    assert (pc.name, pc.fired, pc.applicable) == ("positive control", False, False)
    assert "n/a" in pc.line()


def test_bad_arms_are_one_line_errors(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    write(url, "s", {16: GOOD_A, 24: GOOD_B}, baseline=BASE)
    for kw, msg in [({"a": "width == 99", "b": "width == 24"}, "--a 'width == 99': no completed trial"),
                    ({"a": "width >= 16", "b": "width == 24"}, "both match trials"),
                    ({"a": "wdth == 16", "b": "width == 24"}, "--a: "),
                    ({"a": "width == 16", "b": "width == 24", "pair_by": "nope"}, "--pair-by 'nope'"),
                    ({"a": "width == 16", "b": "width == 24", "metric": "acc"}, "--metric 'acc'"),
                    ({"a": "width == 16", "b": "width == 24", "margin": -1}, "--margin")]:
        with pytest.raises(InputError, match=msg) as e:
            compare_arms(url, "s", **kw)
        assert "\n" not in str(e.value)


def test_guard_rules_on_hand_made_curves():
    import pandas as pd

    lo, hi = chance_band(10, 1000)
    assert (round(lo, 4), round(hi, 4)) == (0.081, 0.119)
    e = pd.DataFrame({"number": [0] * 8, "epoch": range(1, 9), "val_acc": [0.1, 0.12, 0.5, 0.6, 0.7, 0.7, 0.7, 0.7]})
    assert failed_start(e, num_classes=10, val_size=1000).fired is False  # epoch 2 at 0.12 is above the band
    e.loc[1, "val_acc"] = 0.118
    assert failed_start(e, num_classes=10, val_size=1000).trials == (0,)
    # floor(3 * 8 / 4) = 6: epoch 6 -> 8; a rise of exactly the margin does not fire
    e = pd.DataFrame({"number": [0] * 8, "epoch": range(1, 9), "val_acc": [.1, .2, .3, .4, .5, .6, .61, .605]})
    assert not_converged(e, margin=0.005).fired is False
    e.loc[7, "val_acc"] = 0.6051
    assert not_converged(e, margin=0.005).fired is True
    two = pd.DataFrame({"number": [0, 0], "epoch": [1, 2], "val_acc": [0.5, 0.6]})  # E=2: epoch 1 -> 2
    assert not_converged(two, margin=0.05).trials == (0,)
    one = pd.DataFrame({"number": [0], "epoch": [1], "val_acc": [0.5]})
    assert not_converged(one).applicable is False
    assert unequal_cost({"A": [100.0], "B": [105.0]}).fired is False  # exactly 5% is equal enough
    assert unequal_cost({"A": [100.0], "B": [105.1]}).fired is True


def test_difference_needs_two_values_per_side():
    import pandas as pd

    d = difference(pd.Series([0.5]), pd.Series([0.4, 0.41]), paired=False)
    assert math.isnan(d.lo) and d.diff == pytest.approx(0.095)


def _cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return main_in_process(*args, cwd=cwd)  # compare starts no Ray: the console script's main, in process


def test_the_compare_command_prints_the_difference_and_every_guard_and_exits_0_when_one_fires(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    write(url, "s", {16: GOOD_A, 24: {**GOOD_B, "final": 0.79}}, baseline=BASE)  # B does not beat the baseline
    before = (tmp_path / "r.db").read_bytes()
    out = _cli("compare", "s", "--a", "width == 16", "--b", "width == 24", "--pair-by", "repeat", "--db", url,
               cwd=tmp_path)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "compare s: val_acc, A - B, paired by repeat (4 pairs)"
    assert any(line.startswith("difference +0.06") for line in lines)
    assert "  positive control: FIRED: B not shown to beat the baseline" in out.stdout
    assert sum(line.startswith("  ") and ": ok: " in line for line in lines) == 4
    assert (tmp_path / "r.db").read_bytes() == before  # read-only
    bad = _cli("compare", "s", "--a", "width == 16", "--b", "width = 24", "--db", url, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith("scalesearch: error: --b: ")
    missing = _cli("compare", "nope", "--a", "width == 16", "--b", "width == 24", "--db", url, cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1 and "nope" in missing.stderr
