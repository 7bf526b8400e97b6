"""The redesigned EfficientNet analysis: four positive controls (every phi = 1 arm beats the base) gate
the primary claim, compound beats the best single dimension, tested as an intersection-union test (compound beats
depth, width and resolution, each at the look's O'Brien-Fleming level), on studies written through the store from
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

SPEC = (Path(__file__).resolve().parents[1] / "spaces" / "efficientnet_look1.yaml").read_text()
MACS = {"base": 5_430_368, "compound": 10_396_864, "depth": 10_400_576, "width": 10_227_568,
        "resolution": 10_391_904}
EPOCHS = 8
LOOKS = ("ef1", "ef2", "ef3", "ef4")
FRACTIONS = [0.25, 0.5, 0.75, 1.0]
BASE = [0.850, 0.856, 0.848, 0.853]


def write_look(url: str, name: str, look: int, acc: dict[str, list[float]], *, macs: dict[str, int] = MACS) -> None:
    text = SPEC.replace("study: efficientnet_look1", f"study: {name}")
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(parse_spec(text)), spec_hash=name,
                           seed=look, sampler="grid", objectives=[["val_acc", "max"]], repeats=4, planned=20)
        for arm, finals in acc.items():
            for r, final in enumerate(finals):
                key = f"{arm}-r{r}"
                store.queue_trial(name, {
                    "key": key, "config_key": arm, "parameters": {"arm": arm}, "values": {"arm": arm},
                    "macs": macs[arm], "params": 1000, "acts": 10, "seed": 1000 * look + r, "repeat": r,
                    "point": "baseline" if arm == "base" else arm})
                store.start_trial(name, key)
                curve = [final - 0.2 * np.exp(-e) for e in range(1, EPOCHS + 1)]
                epochs = [{"epoch": e + 1, "steps": 24 * (e + 1), "lr": 0.1, "train_loss": 1.0, "train_acc": a,
                           "val_loss": 1.0, "val_acc": a, "seconds": 0.1} for e, a in enumerate(curve)]
                store.finish_trial(name, key, "completed", epochs=epochs, val_acc=curve[-1], best_val_acc=curve[-1])
        store.update_study(name, state="finished", finished=dt.datetime(2026, 12, 3, 12, 0, 0), wall_seconds=60.0)


def shifted(xs: list[float], by: float, jitter: tuple[float, ...] = (0.0, 0.002, -0.001, 0.001)) -> list[float]:
    return [x + by + j for x, j in zip(xs, jitter, strict=True)]


def test_the_primary_claim_needs_compound_to_beat_every_single_dimension(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    arms = {"compound": shifted(BASE, 0.040), "depth": shifted(BASE, 0.012, (0.001, -0.002, 0.0, 0.002)),
            "width": shifted(BASE, 0.015), "resolution": shifted(BASE, 0.020, (0.0, 0.001, 0.0, -0.001)),
            "base": BASE}
    write_look(url, "ef1", 1, arms)
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    assert o.status == "interim" and o.missing == ("ef2", "ef3", "ef4")
    primary, *rest = o.findings
    controls, parts = rest[:4], rest[4:]
    assert primary.claim.startswith("PRIMARY: at phi = 1, compound scaling beats the best single dimension")
    assert [f.verdict for f in controls] == ["passed"] * 4
    tests = {a: sequential_test([c - x for c, x in zip(arms["compound"], arms[a], strict=True)], 1,
                                FRACTIONS)
             for a in ("depth", "width", "resolution")}
    # the intersection-union test's decider (the arm with the largest one-sided p) carries the primary's interval
    closest = max(tests.values(), key=lambda t: t.p)
    assert (primary.diff, primary.lo, primary.hi) == pytest.approx((closest.diff, closest.lo, closest.hi))
    crossed = all(t.crossed for t in tests.values())
    assert not crossed and primary.verdict == "continue to look 2"  # look 1's boundary is far: z 4.33
    assert [p.verdict for p in parts] == ["crossed" if tests[a].crossed else "not crossed"
                                          for a in ("depth", "width", "resolution")]
    guards = [n for n in o.notes if n.startswith("ef1 (look 1), compound vs ")]
    assert len(guards) == 3 * 5 and all("unequal cost: ok" in g for g in guards if "unequal cost" in g)
    assert any(n.startswith("The single dimensions (secondary, descriptive): Friedman's test (paired by seed")
               for n in o.notes)


def test_one_single_dimension_as_good_as_compound_means_not_reproduced(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    compound = shifted(BASE, 0.030)
    look = {"compound": compound, "depth": shifted(BASE, 0.010), "width": shifted(BASE, 0.012),
            "resolution": shifted(BASE, 0.031, (0.001, 0.0, 0.002, 0.0)), "base": BASE}
    for k, name in enumerate(LOOKS, 1):
        write_look(url, name, k, look)
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    assert o.status == "full"
    primary = o.findings[0]
    assert primary.n_seeds == 16 and primary.hi < 0.005
    assert primary.verdict == "not reproduced"


def test_a_scaled_arm_below_the_base_makes_the_primary_claim_not_decidable(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    # compound far above every single dimension, but depth-only trains below the base: the regime cannot decide
    write_look(url, "ef1", 1, {"compound": shifted(BASE, 0.05), "depth": shifted(BASE, -0.02),
                               "width": shifted(BASE, 0.01), "resolution": shifted(BASE, 0.012), "base": BASE})
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    primary, compound, depth, *_ = o.findings
    assert compound.verdict == "passed" and depth.verdict == "failed" and depth.hi < 0
    assert primary.verdict == "not decidable" and "the positive control failed" in primary.note
    reading = [n for n in o.notes if n.startswith("How to read it")]
    assert len(reading) == 1 and "with this recipe depth scaling does not show a gain over the base, while " \
        "compound (" in reading[0] and "not decidable in this regime" in reading[0]
    assert "Descriptively" not in reading[0]  # no single dimension beats compound here


def test_a_single_dimension_clearly_above_compound_is_read_out_where_the_control_fails(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    # the shape of the committed run: only resolution pays for its MACs, and it beats compound outright
    look = {"compound": shifted(BASE, 0.001, (0.004, -0.004, 0.003, -0.003)),
            "depth": shifted(BASE, -0.001, (0.003, -0.003, 0.002, -0.004)),
            "width": shifted(BASE, 0.0005, (-0.004, 0.004, -0.003, 0.003)), "resolution": shifted(BASE, 0.03),
            "base": BASE}
    for k, name in enumerate(LOOKS, 1):
        write_look(url, name, k, look)
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    assert o.findings[0].verdict == "not decidable" and o.findings[0].reversed  # resolution beats compound
    assert "significant effect against the claim" in o.findings[0].words()
    (reading,) = [n for n in o.notes if n.startswith("How to read it")]
    assert "compound, depth, width scaling do not show a gain" in reading and "while resolution (+" in reading
    assert "Descriptively, resolution-only beats compound: compound - resolution -2.9" in reading


def test_unequal_cost_fires_on_an_arm_off_the_compound_models_macs(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    write_look(url, "ef1", 1, {"compound": shifted(BASE, 0.04), "depth": shifted(BASE, 0.01),
                               "width": shifted(BASE, 0.01), "resolution": shifted(BASE, 0.01), "base": BASE},
               macs={**MACS, "width": 12_000_000})
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    fired = [n for n in o.notes if "compound vs width" in n and "unequal cost" in n]
    assert fired and "unequal cost: ok" not in fired[0]
    assert all("unequal cost: ok" in n for n in o.notes if "compound vs depth" in n and "unequal cost" in n)


def test_compound_clearly_ahead_of_every_single_dimension_over_all_looks_is_reproduced(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    look = {"compound": shifted(BASE, 0.030, (0.001, 0.0, 0.002, 0.0)), "depth": shifted(BASE, 0.010),
            "width": shifted(BASE, 0.012), "resolution": shifted(BASE, 0.015), "base": BASE}
    for k, name in enumerate(LOOKS, 1):
        write_look(url, name, k, look)
    o = analyse("efficientnet-looks", url, studies=LOOKS, out_root=tmp_path / "out")
    primary = o.findings[0]
    assert o.status == "full" and primary.verdict == "reproduced"
    assert primary.diff == pytest.approx((0.030 + 0.00075) - (0.015 + 0.0005), abs=1e-12)  # the closest: resolution
    assert [f.verdict for f in o.findings[5:]] == ["crossed"] * 3
