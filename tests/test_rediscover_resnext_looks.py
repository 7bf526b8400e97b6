"""The redesigned ResNeXt analysis (issue 21): a positive control (each 2x arm beats the 1x control) that gates the
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
MACS = {"none": 8_178_944, "cardinality": 16_000_000, "width": 16_100_000}
CD = {"none": (1, 16), "cardinality": (2, 16), "width": (1, 24)}
EPOCHS = 8


def write_look(url: str, name: str, look: int, acc: dict[str, list[float]]) -> None:
    text = SPEC.replace("study: resnext_look1", f"study: {name}")
    with Store(url) as store:
        store.create_study(name=name, spec_text=text, spec_canonical=format_spec(parse_spec(text)), spec_hash=name,
                           seed=look, sampler="grid", objectives=[["val_acc", "max"]], repeats=4, planned=12)
        for grow, finals in acc.items():
            c, d = CD[grow]
            for r, final in enumerate(finals):
                key = f"{grow}-r{r}"
                store.queue_trial(name, {
                    "key": key, "config_key": grow, "parameters": {"grow": grow},
                    "values": {"grow": grow, "C": c, "d": d, "n": 3}, "macs": MACS[grow], "params": 1000,
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
    primary, *controls = o.findings
    expected = sequential_test([a - b for a, b in zip(card, width, strict=True)], 1, [0.5, 1.0])
    assert primary.claim.startswith("PRIMARY: at 2x complexity, cardinality beats width")
    assert (primary.diff, primary.lo, primary.hi) == pytest.approx((expected.diff, expected.lo, expected.hi))
    assert primary.verdict == ("reproduced (decided at look 1)" if expected.crossed else "continue to look 2")
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
    primary, card, width = o.findings
    assert card.verdict == "passed" and width.verdict == "failed" and width.lo <= 0 < card.lo
    assert primary.verdict == "not decidable in this regime (the positive control failed)"
    assert primary.n_seeds == 8
