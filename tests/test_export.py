"""Kept weights and `scalesearch export`: a real search keeps the trials its policy
names (files 0600, written by the driver), the others' files are removed; an exported trial's model.ts, loaded in
a fresh Python that never imports scalesearch, gives the logits of the rebuilt network, and its test accuracy is
the stored one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.search import cli, run_study_inprocess

from scalesearch.search.weights import kept_numbers

SPEC = """study: {study}
seed: 5
dataset: {{name: synthetic, num_classes: 3, in_channels: 1, image_size: 8, num_train: 128, num_test: 48,
           val_size: 32}}
train: {{epochs: 2, batch_size: 32, warmup_epochs: 0, eval_test: true}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w}}}}
parameters: {{w: {{grid: [4, 8, 12]}}}}
search: {{sampler: grid, resources: {{cpus: 1, gpus: 0}}, keep: {keep}{extra}}}
"""


# What the driver was handed as each ended trial's result: Tune's kept last result (recorded by the fixture)
ENDED: list[tuple[str, dict]] = []


@pytest.fixture(scope="module")
def studies(tmp_path_factory, ray_session):
    from scalesearch.search.driver import Driver

    folder = tmp_path_factory.mktemp("export")
    db = f"sqlite:///{folder / 'r.db'}"
    job_done = Driver.job_done

    def recorded(self, key, result, error, error_text=None):
        ENDED.append((self.run.name, dict(result or {})))
        return job_done(self, key, result, error, error_text)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Driver, "job_done", recorded)
        for keep in ("all", "best", "none"):
            run_study_inprocess(SPEC.format(study=f"keep_{keep}", keep=keep, extra=""), db, ray_session)
    return db, folder


def test_tune_keeps_no_trained_weights_the_driver_stores_them(studies):
    """A final report's weights reach the driver and are taken out of the result Tune keeps for the whole run
    (and writes into its experiment state): the results Tune hands back at each trial's end hold none."""
    kept = [result for study, result in ENDED if study == "keep_all"]
    assert len(kept) == 3 and all(r.get("final") for r in kept)
    assert not any("weights" in r for study, r in ENDED)
    assert files(studies[1], "keep_all") == {f"trial_{n}.pt": 0o600 for n in range(3)}


def files(folder: Path, study: str) -> dict[str, int]:
    d = folder / study / "checkpoints"
    return {p.name: p.stat().st_mode & 0o777 for p in d.iterdir()} if d.exists() else {}


def test_the_policy_decides_whose_weights_stay(studies):
    from scalesearch.store import Reader

    db, folder = studies
    with Reader(db) as r:
        best = max(r.trials("keep_best"), key=lambda t: (t.val_acc, -t.number))
        recorded = {t.number: (t.metrics or {}).get("checkpoint") for t in r.trials("keep_all")}
    assert files(folder, "keep_all") == {f"trial_{n}.pt": 0o600 for n in range(3)}
    assert recorded == {n: f"trial_{n}.pt" for n in range(3)}
    assert files(folder, "keep_best") == {f"trial_{best.number}.pt": 0o600}
    assert files(folder, "keep_none") == {}


def test_pareto_keeps_the_front_of_the_objectives():
    class T:
        def __init__(self, number, acc, macs):
            self.number, self.val_acc, self.macs, self.state, self.metrics = number, acc, macs, "completed", {}
            self.test_acc = self.params = None

    trials = [T(0, 0.80, 100), T(1, 0.85, 200), T(2, 0.84, 300), T(3, 0.90, 400), T(4, 0.90, 500)]
    assert kept_numbers(trials, "pareto", [("val_acc", "max")]) == {0, 1, 3}  # plus macs: min
    assert kept_numbers(trials, "best", [("val_acc", "max")]) == {3}
    assert kept_numbers(trials, "pareto", [("val_acc", "max"), ("macs", "min")]) == {0, 1, 3}


def test_an_exported_model_runs_without_scalesearch_and_matches(studies, tmp_path):
    import scalesearch
    from scalesearch.data.loader import load_dataset
    from scalesearch.store import Reader

    db, _ = studies
    r = cli("export", "keep_all", "--best", "--out", str(tmp_path / "out"), "--db", db)
    assert r.returncode == 0, r.stderr
    with Reader(db) as reader:
        trials = reader.trials("keep_all")
    best = max(trials, key=lambda t: (t.val_acc, -t.number))
    out = tmp_path / "out" / f"trial_{best.number}"
    assert sorted(p.name for p in out.iterdir()) == ["card.md", "model.ts", "netspec.json", "weights.pt"]
    # rebuilt from netspec.json + weights.pt with the public API
    model = scalesearch.create_model(json.loads((out / "netspec.json").read_text()))
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    model.eval()
    data = load_dataset(**best.data)
    x = data.test.x.float().div(255)
    mean, std = torch.tensor(data.mean).view(1, -1, 1, 1), torch.tensor(data.std).view(1, -1, 1, 1)
    x = (x - mean) / std
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        logits = model(x)
    # model.ts in a fresh Python that does not import scalesearch (and would fail if it tried)
    code = ("import sys, torch; sys.modules['scalesearch'] = None; "
            "m = torch.jit.load(sys.argv[1]); x = torch.load(sys.argv[2]); "
            "torch.save(m(x).detach(), sys.argv[3]); print('scalesearch' in sys.modules and sys.modules['scalesearch'])")
    res = subprocess.run([sys.executable, "-c", code, str(out / "model.ts"), str(tmp_path / "x.pt"),
                          str(tmp_path / "y.pt")], capture_output=True, text=True, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "None"
    assert torch.allclose(torch.load(tmp_path / "y.pt"), logits, atol=1e-5)
    # the exported network's test accuracy is the one the search stored
    acc = (logits.argmax(1) == data.test.y).float().mean().item()
    assert acc == pytest.approx(best.test_acc, abs=1e-9)
    card = (out / "card.md").read_text()
    assert f"| val_acc | {best.val_acc} |" in card and f"mean: {list(data.mean)}" in card
    assert "Classes (label order): 0: 0, 1: 1, 2: 2" in card


def test_export_errors_are_one_line(studies, tmp_path):
    db, _ = studies
    r = cli("export", "keep_none", "--best", "--out", str(tmp_path / "o"), "--db", db)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "has no kept weights" in r.stderr
    r = cli("export", "keep_all", "--trial", "99", "--out", str(tmp_path / "o"), "--db", db)
    assert r.returncode == 2 and "has no trial 99" in r.stderr
    r = cli("export", "keep_all", "--out", str(tmp_path / "o"), "--db", db)
    assert r.returncode == 2 and "one of the arguments --trial --best --front is required" in r.stderr
