"""The memorising guard (a scaled arm gains training accuracy over the baseline but not validation accuracy), on small
studies written through the store as tests/test_compare.py writes them, with a training curve apart from the
validation curve; the intervals checked against scipy computed here; and the committed EfficientNet phi = 1 looks,
pooled over their four looks, recomputed from the committed trials.csv and epochs.csv."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from test_compare import EPOCHS, NOISE, SPEC  # the same studies: one spec, its epochs and per-repeat noise

from scalesearch.analysis.guards import GUARD_NAMES, memorising
from scalesearch.results.compare import compare_arms, compare_frames
from scalesearch.results.raw import read_raw, write_raw
from scalesearch.spec import format_spec, parse_spec
from scalesearch.store import Store

OTHER = (0.003, -0.002, 0.001, -0.002)  # another arm's: paired differences that scatter around the arms' gap
PEAKED = (0.5, 0.7, 0.78, 0.81, 0.83, 0.82, 0.81, 0.80)  # val_acc that peaks at epoch 5 and falls back to 0.80


def saturating(final: float) -> list[float]:
    """An accuracy curve rising towards `final`, flat over the last quarter."""
    return [round(final - (final - 0.3) * math.exp(-e), 5) for e in range(1, EPOCHS + 1)]


def write(url: str, name: str, arms: dict[int, dict], *, baseline: bool = True) -> dict[int, list[int]]:
    """A study whose trials are width -> {"val": curve, "train": curve, "val_noise", "train_noise", "macs"}; the
    baseline point is width 8 (when `baseline`). Returns width -> trial numbers."""
    text = SPEC.format(name=name, baseline="baseline: {width: 8}\n" if baseline else "")
    spec = parse_spec(text)
    numbers: dict[int, list[int]] = {}
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(spec), spec_hash=name, seed=0,
                           sampler="grid", objectives=[["val_acc", "max"]], repeats=4)
        for width, arm in arms.items():
            for r in range(4):
                key = f"w{width}-r{r}"
                val = [v + arm.get("val_noise", NOISE)[r] for v in arm["val"]]
                train = [v + arm.get("train_noise", NOISE)[r] for v in arm["train"]]
                rec = store.queue_trial(name, {"key": key, "config_key": f"w{width}", "parameters": {"width": width},
                                               "values": {"width": width}, "macs": arm.get("macs", 2_000_000),
                                               "params": 1000, "acts": 10, "seed": 100 + r, "repeat": r,
                                               "point": "baseline" if width == 8 and baseline else None})
                store.start_trial(name, key)
                epochs = [{"epoch": e + 1, "steps": 10 * (e + 1), "lr": 0.1, "train_loss": 1.0, "train_acc": t,
                           "val_loss": 1.0, "val_acc": v, "seconds": 0.1}
                          for e, (t, v) in enumerate(zip(train, val, strict=True))]
                store.finish_trial(name, key, "completed", epochs=epochs, val_acc=val[-1], best_val_acc=max(val))
                numbers.setdefault(width, []).append(rec.number)
    return numbers


BASE = {"val": saturating(0.80), "train": saturating(0.85), "macs": 1_000_000}
HEALTHY = {"val": saturating(0.83), "train": saturating(0.88), "val_noise": OTHER, "macs": 2_040_000}
# training accuracy up 5 pp; the last epoch's validation accuracy back at the baseline's, after a peak 3 pp above it
MEMORISING = {"val": list(PEAKED), "train": saturating(0.90), "val_noise": OTHER, "train_noise": OTHER}
CASES = {  # width 16's arm (A); width 24 (B) is healthy in each
    "train up, val flat": MEMORISING,
    "train and val up": {"val": saturating(0.84), "train": saturating(0.90), "val_noise": OTHER, "train_noise": OTHER},
    "train flat, val up": {"val": saturating(0.84), "train": saturating(0.85), "val_noise": OTHER,
                           "train_noise": OTHER},
}


def study(tmp_path: Path, case: str) -> tuple[str, dict[int, list[int]]]:
    url = f"sqlite:///{tmp_path}/r.db"
    return url, write(url, "s", {8: BASE, 16: CASES[case], 24: HEALTHY})


def pp(a: list[float], b: list[float]) -> str:
    """A - B, paired, with scipy's 95% t interval, as the guard prints it."""
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    d = sum(x - y for x, y in zip(a, b, strict=True)) / len(a)
    return f"{d * 100:+.2f} pp [{ci.low * 100:+.2f}, {ci.high * 100:+.2f}]"


def test_a_study_built_to_memorise_trips_the_guard_alone_naming_the_trials_and_both_intervals(tmp_path):
    url, numbers = study(tmp_path, "train up, val flat")
    # compared on the best validation accuracy (A peaked above the baseline before it memorised): only this fires
    c = compare_arms(url, "s", "width == 16", "width == 24", metric="best_val_acc", pair_by="repeat")
    assert [g.name for g in c.guards] == list(GUARD_NAMES) and all(g.applicable for g in c.guards)
    assert {g.name for g in c.fired} == {"memorising"}, c.text()
    g = c.fired[0]
    assert g.trials == tuple(numbers[16])  # A's trials, not B's nor the baseline's
    train_a = [MEMORISING["train"][-1] + n for n in OTHER]
    train_b = [BASE["train"][-1] + n for n in NOISE]
    val_a = [PEAKED[-1] + n for n in OTHER]
    val_b = [BASE["val"][-1] + n for n in NOISE]
    trials = ", ".join(f"#{n}" for n in numbers[16])
    assert g.detail == (f"A (trials {trials}) vs baseline: train_acc {pp(train_a, train_b)} but val_acc "
                        f"{pp(val_a, val_b)}: added capacity is spent on memorising; a failed positive control may "
                        "mean this")
    assert f"  memorising: FIRED: {g.detail}" in c.text().splitlines()
    assert c.text().count("FIRED") == 1


def test_on_the_validation_accuracy_it_says_why_the_positive_control_failed(tmp_path):
    url, _ = study(tmp_path, "train up, val flat")
    c = compare_arms(url, "s", "width == 16", "width == 24", pair_by="repeat")
    assert {g.name for g in c.fired} == {"positive control", "memorising"}, c.text()


@pytest.mark.parametrize("case", ["train and val up", "train flat, val up"])
def test_it_stays_quiet_where_validation_rises_with_training_or_training_does_not_rise(tmp_path, case):
    url, _ = study(tmp_path, case)
    c = compare_arms(url, "s", "width == 16", "width == 24", pair_by="repeat")
    assert c.fired == (), c.text()
    g = c.guards[GUARD_NAMES.index("memorising")]
    assert g.applicable and g.line().startswith("memorising: ok: no arm gains train_acc over the baseline without "
                                                "val_acc (A - baseline train_acc ")
    assert " pp [" in g.detail and "B - baseline" in g.detail


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("pair_by", ["repeat", None])
def test_the_raw_files_give_the_same_guard_as_the_database(tmp_path, case, pair_by):
    url, _ = study(tmp_path, case)
    ref = compare_arms(url, "s", "width == 16", "width == 24", metric="best_val_acc", pair_by=pair_by)
    write_raw(url, "s", tmp_path / "raw")
    record, trials, epochs = read_raw(tmp_path / "raw")
    again = compare_frames(trials, epochs, parse_spec(record.spec_text), "width == 16", "width == 24", study="s",
                           metric="best_val_acc", pair_by=pair_by)
    assert again == ref and again.text() == ref.text()
    assert ref.guards[-1].fired is (case == "train up, val flat")


def test_unpaired_arms_get_welchs_intervals(tmp_path):
    url, _ = study(tmp_path, "train up, val flat")
    c = compare_arms(url, "s", "width == 16", "width == 24", metric="best_val_acc")
    train_a = [MEMORISING["train"][-1] + n for n in OTHER]
    train_b = [BASE["train"][-1] + n for n in NOISE]
    ci = stats.ttest_ind(train_a, train_b, equal_var=False).confidence_interval(0.95)
    d = (sum(train_a) - sum(train_b)) / 4
    assert f"train_acc {d * 100:+.2f} pp [{ci.low * 100:+.2f}, {ci.high * 100:+.2f}]" in c.guards[-1].detail


def test_without_a_baseline_or_a_second_value_it_cannot_tell():
    assert memorising({}, has_baseline=False).applicable is False
    nan = (0.01, math.nan, math.nan)
    g = memorising({"A": (nan, nan)})
    assert (g.fired, g.applicable) == (False, False) and "n/a" in g.line()
    # the rule's edges: the training interval must lie above 0; a validation interval that ends at 0 reaches 0
    assert memorising({"A": ((0.01, 0.0, 0.02), (0.0, -0.01, 0.01))}).fired is False
    assert memorising({"A": ((0.01, 1e-9, 0.02), (0.0, 0.0, 0.01))}).fired is True


ROOT = Path(__file__).resolve().parent.parent / "results"


def test_the_committed_efficientnet_looks_memorise_in_width_and_depth():
    """Pooled over the four phi = 1 looks (8 seeds, paired by look and repeat, as the looks' analysis pairs them),
    from the committed trials.csv and epochs.csv alone."""
    from scalesearch.rediscover.claims import look_memorising

    data = {}
    for i in range(1, 5):
        folder = ROOT / f"efficientnet_look{i}"
        data[folder.name] = (None, pd.read_csv(folder / "trials.csv"), pd.read_csv(folder / "epochs.csv"))
    g = look_memorising(data, [True] * 4, "arm", ["width", "depth"], "base")
    assert g.fired, g.line()
    # recomputed here: the last epoch's train_acc and the trial's val_acc, arm - base per (look, repeat)
    rows = []
    for i, (_, t, e) in enumerate(data.values()):
        last = e.sort_values("epoch").groupby("number")["train_acc"].last()
        rows.append(t.assign(look=i + 1, train_acc=t["number"].map(last)))
    done = pd.concat(rows)
    for arm in ("width", "depth"):
        wide = {m: done.pivot_table(index=["look", "repeat"], columns="arm", values=m) for m in ("train_acc",
                                                                                                   "val_acc")}
        train = pp(wide["train_acc"][arm].tolist(), wide["train_acc"]["base"].tolist())
        val = pp(wide["val_acc"][arm].tolist(), wide["val_acc"]["base"].tolist())
        assert len(wide["train_acc"]) == 8
        assert f"{arm} (trials look 1 #" in g.detail and f"train_acc {train} but val_acc {val}" in g.detail
        assert stats.ttest_rel(wide["train_acc"][arm], wide["train_acc"]["base"]).confidence_interval().low > 0
        assert stats.ttest_rel(wide["val_acc"][arm], wide["val_acc"]["base"]).confidence_interval().low <= 0
