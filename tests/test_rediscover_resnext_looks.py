"""The redesigned ResNeXt analysis: a positive control (each 2x arm beats the 1x control) that gates the
primary claim (cardinality beats width at 2x, O'Brien-Fleming looks), on studies written through the store from
numbers chosen so that each verdict is known by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from scalesearch.analysis.sequential import sequential_test
from scalesearch.rediscover import analyse
from scalesearch.spec import format_spec, parse_spec
from scalesearch.store import Store

SPEC = (Path(__file__).resolve().parents[1] / "spaces" / "resnext_look1.yaml").read_text()
MACS = {"none": 8_178_944, "cardinality": 16_000_000, "width": 16_100_000, "depth": 15_850_000}
CD = {"none": (1, 16), "cardinality": (2, 16), "width": (1, 24), "depth": (1, 16)}
EPOCHS = 8


def write_look(url: str, name: str, look: int, acc: dict[str, list[float]]) -> None:
    text = SPEC.replace("study: resnext_look1", f"study: {name}")
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(parse_spec(text)), spec_hash=name,
                           seed=look, sampler="grid", objectives=[["val_acc", "max"]], repeats=4,
                           planned=sum(len(v) for v in acc.values()))
        for grow, finals in acc.items():
            c, d = CD[grow]
            for r, final in enumerate(finals):
                key = f"{grow}-r{r}"
                store.queue_trial(name, {
                    "key": key, "config_key": grow, "parameters": {"grow": grow},
                    "values": {"grow": grow, "C": c, "d": d, "n": 6 if grow == "depth" else 3}, "macs": MACS[grow],
                    "params": 1000,
                    "acts": 10, "seed": 1000 * look + r, "repeat": r, "point": "baseline" if grow == "none" else None})
                store.start_trial(name, key)
                curve = [final - 0.2 * np.exp(-e) for e in range(1, EPOCHS + 1)]
                epochs = [{"epoch": e + 1, "steps": 62 * (e + 1), "lr": 0.1, "train_loss": 1.0, "train_acc": a,
                           "val_loss": 1.0, "val_acc": a, "seconds": 0.1} for e, a in enumerate(curve)]
                store.finish_trial(name, key, "completed", epochs=epochs, val_acc=curve[-1], best_val_acc=curve[-1])
        store.update_study(name, state="finished", finished=dt.datetime(2026, 12, 3, 12, 0, 0), wall_seconds=60.0)


BASE = [0.860, 0.866, 0.858, 0.863]


def test_the_primary_claim_is_decided_only_after_the_positive_control_passes(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    card = [0.880, 0.884, 0.879, 0.883]
    width = [0.870, 0.875, 0.867, 0.872]
    write_look(url, "rx1", 1, {"cardinality": card, "width": width, "none": BASE})
    o = analyse("resnext-looks", url, studies=("rx1", "rx2"), out_root=tmp_path / "out")
    assert o.status == "interim" and o.missing == ("rx2",)
    primary, *rest = o.findings
    controls = [f for f in rest if f.claim.startswith("positive control")]
    assert [f.verdict for f in rest if f.claim.startswith("secondary")] == ["not tested before look 2"] * 2
    expected = sequential_test([a - b for a, b in zip(card, width, strict=True)], 1, [0.5, 1.0])
    assert primary.claim.startswith("PRIMARY: at 2x complexity, cardinality beats width")
    assert (primary.diff, primary.lo, primary.hi) == pytest.approx((expected.diff, expected.lo, expected.hi))
    assert primary.verdict == ("reproduced" if expected.crossed else "continue to look 2")
    assert ("decided at look 1" in primary.note) == expected.crossed
    assert [f.verdict for f in controls] == ["passed", "passed"]
    assert controls[0].diff == pytest.approx(np.mean(card) - np.mean(BASE), abs=1e-12)
    guards = [n for n in o.notes if n.startswith("rx1 (look 1), cardinality vs width")]
    assert len(guards) == 5 and any("unequal cost: ok" in g for g in guards)


def test_a_failed_positive_control_makes_the_primary_claim_not_decidable(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    # cardinality far above width, but width no better than 1x: the control fails, the ranking is moot
    write_look(url, "rx1", 1, {"cardinality": [0.900, 0.905, 0.899, 0.903],
                               "width": [0.861, 0.864, 0.859, 0.862], "none": BASE})
    write_look(url, "rx2", 2, {"cardinality": [0.901, 0.904, 0.898, 0.906],
                               "width": [0.860, 0.867, 0.857, 0.864], "none": BASE})
    o = analyse("resnext-looks", url, studies=("rx1", "rx2"), out_root=tmp_path / "out")
    assert o.status == "full"
    primary, card, width, *waiting = o.findings
    assert [f.verdict for f in waiting] == ["not tested before look 2"] * 2  # the depth arm has not run
    assert card.verdict == "passed" and width.verdict == "failed" and width.lo <= 0 < card.lo
    assert primary.verdict == "not decidable" and "the positive control failed" in primary.note
    assert primary.words().startswith("not decidable") and primary.n_seeds == 8


def test_the_depth_arm_trains_with_the_committed_looks_seeds_and_recipe():
    """The depth arm's studies pair by seed with the committed looks: the same study seed, repeats, data, recipe and
    trial seeds (trial_seed(seed, repeat)), at 2x the 1x control's counted MACs within 5%."""
    from scalesearch.spec import default_candidate, load_spec
    from scalesearch.trial.job import job_for_candidate, trial_seed

    spaces = Path(__file__).resolve().parents[1] / "spaces"
    for k in (1, 2):
        look, depth = load_spec(spaces / f"resnext_look{k}.yaml"), load_spec(spaces / f"resnext_depth_look{k}.yaml")
        assert depth.seed == look.seed and depth.search.repeats == look.search.repeats == 4
        base, arm = default_candidate(look), default_candidate(depth)
        assert arm.values["grow"] == "depth" and arm.values["n"] == 6 and (arm.values["C"], arm.values["d"]) == (1, 16)
        assert abs(arm.macs / (2 * base.macs) - 1) <= 0.05
        for r in range(4):
            a = job_for_candidate(base, look.dataset, study_seed=look.seed, repeat=r)
            b = job_for_candidate(arm, depth.dataset, study_seed=depth.seed, repeat=r)
            assert a.seed == b.seed == trial_seed(look.seed, r)
            assert a.data == b.data and a.train == b.train and a.netspec != b.netspec


def test_the_depth_arm_joins_its_looks_and_decides_the_whole_order(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    card = [0.880, 0.884, 0.879, 0.883]
    width = [0.872, 0.876, 0.870, 0.874]
    depth = [0.860, 0.873, 0.866, 0.871]
    for look in (1, 2):
        write_look(url, f"rx{look}", look, {"cardinality": card, "width": width, "none": BASE})
        write_look(url, f"rxd{look}", look, {"depth": depth})
    o = analyse("resnext-looks", url, studies=("rx1", "rx2", "rxd1", "rxd2"), out_root=tmp_path / "out")
    assert o.status == "full"
    by = {f.claim: f for f in o.findings}
    control = by["positive control: 2x by depth beats the 1x control (val acc)"]
    assert control.verdict == "passed" and control.n_seeds == 8
    s1 = by["secondary: at 2x complexity, width beats depth (val acc)"]
    s2 = by["secondary: at 2x complexity, cardinality beats depth (val acc)"]
    assert s1.diff == pytest.approx(np.mean(width) - np.mean(depth), abs=1e-12) and s1.n_seeds == 8
    assert s1.verdict == s2.verdict == "reproduced" and "Holm-adjusted" in s1.ours
    assert s1.size == "uncertain" and s2.size == "at least"  # +0.55 pp [+0.18, +0.92]; +1.40 [+1.06, +1.74]
    order = next(n for n in o.notes if n.startswith("Order of the 2x arms"))
    assert "Friedman" in order and "Ranking supported" in order and "cardinality > width > depth" in order
    assert any(n.startswith("rx1 (look 1), width vs depth") for n in o.notes)


def test_without_the_depth_arm_of_every_look_the_secondary_claims_wait(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    for look in (1, 2):
        write_look(url, f"rx{look}", look, {"cardinality": [0.880, 0.884, 0.879, 0.883],
                                            "width": [0.872, 0.876, 0.870, 0.874], "none": BASE})
    write_look(url, "rxd1", 1, {"depth": [0.880, 0.884, 0.879, 0.883]})  # depth look 2 not run yet
    o = analyse("resnext-looks", url, studies=("rx1", "rx2", "rxd1", "rxd2"), out_root=tmp_path / "out")
    secondary = [f for f in o.findings if f.claim.startswith("secondary")]
    assert [f.verdict for f in secondary] == ["not tested before look 2"] * 2
    assert all(f.n_seeds == 4 for f in secondary)  # look 1's seeds only


def test_a_ranking_is_printed_only_where_the_omnibus_test_and_every_link_support_it():
    import pandas as pd

    from scalesearch.rediscover.claims import ranking_line

    def table(gaps):
        rows = []
        for r in range(8):
            noise = 0.004 * ((r * 37) % 5 - 2)
            for arm, mean in gaps.items():
                rows.append({"look": 1 + r // 4, "repeat": r % 4, "arm": arm,
                             "val_acc": mean + noise + 0.003 * ((r * 11 + 5 * ord(arm)) % 3 - 1)})
        return pd.DataFrame(rows)

    clear = ranking_line(table({"a": 0.90, "b": 0.88, "c": 0.86}), "arm", ["a", "b", "c"])
    assert clear.startswith("Friedman's test (paired by seed, 8 seeds)") and "Ranking supported: a > b > c." in clear
    close = ranking_line(table({"a": 0.90, "b": 0.8801, "c": 0.88}), "arm", ["a", "b", "c"])
    assert "No ranking claimed: the interval of " in close and "reaches 0." in close and "Ranking supported" not in close
    assert "; c - b " in close or "; b - c " in close  # the two close arms, adjacent by mean
    same = ranking_line(table({"a": 0.88, "b": 0.88, "c": 0.88}), "arm", ["a", "b", "c"])
    assert "No ranking claimed" in same
