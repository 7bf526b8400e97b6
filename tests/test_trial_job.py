"""scalesearch.trial.job: a job as data, its key, and running it (tiny nets on synthetic data)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scalesearch.spec import parse_spec, resolve_candidate
from scalesearch.trial.job import Job, job_for_candidate, run, trial_seed

SPEC = """
study: trialtest
seed: 3
dataset: {name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 400, num_test: 50, val_size: 100}
train: {epochs: 2, batch_size: 50, lr: lr, warmup_epochs: 0}
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters: {w: {grid: [4, 8]}, lr: {grid: [0.05, 0.1]}, unused: {choice: [a, b]}}
search: {sampler: grid, repeats: 2}
"""


@pytest.fixture(scope="module")
def spec():
    return parse_spec(SPEC, "trialtest.yaml")


def _job(spec, repeat=0, **params):
    values = {"w": 4, "lr": 0.05, "unused": "a", **params}
    return job_for_candidate(resolve_candidate(spec, values), spec.dataset, study_seed=spec.seed, repeat=repeat,
                             device="cpu")


def test_key_covers_training_settings_not_just_the_network(spec):
    a, b = _job(spec, lr=0.05), _job(spec, lr=0.1)
    assert a.netspec == b.netspec  # the same network ...
    assert a.key != b.key and a.config_key != b.config_key  # ... but an lr sweep gives two trials


def test_key_identity_rules(spec):
    a = _job(spec)
    assert a.key == _job(spec).key  # deterministic
    assert a.key == _job(spec, unused="b").key  # a parameter that changes nothing: one trial
    assert a.key != _job(spec, w=8).key
    r1 = _job(spec, repeat=1)
    assert r1.config_key == a.config_key and r1.key != a.key  # repeats share the configuration
    assert r1.seed == trial_seed(spec.seed, 1) != a.seed
    assert a.train["seed"] == a.seed and a.data["seed"] == 0 and a.train["device"] == "cpu"
    assert len({trial_seed(0, r) for r in range(100)}) == 100


def test_job_round_trips_through_json(spec):
    a = _job(spec)
    b = Job.from_dict(json.loads(json.dumps(a.to_dict())))
    assert b == a and b.key == a.key
    with pytest.raises(ValueError, match="unknown key 'bogus'"):
        Job.from_dict({**a.to_dict(), "bogus": 1})


def test_run_trains_reproducibly_and_reports_each_epoch(spec):
    job = _job(spec)
    seen = []
    r1 = run(job, on_epoch=lambda rec, last: seen.append((rec["epoch"], last)))
    assert r1["state"] == "completed" and r1["key"] == job.key
    assert seen == [(1, False), (2, True)]
    assert [e["epoch"] for e in r1["epochs"]] == [1, 2] and 0.0 <= r1["val_acc"] <= 1.0
    r2 = run(job.to_dict())
    assert r2["val_acc"] == r1["val_acc"] and r2["epochs"][0]["train_loss"] == r1["epochs"][0]["train_loss"]
    json.dumps(r1)  # JSON-able


def test_failures_are_results(spec):
    bad = Job.from_dict({**_job(spec).to_dict(), "train": {**_job(spec).train, "lr": 1e9, "nan_check_every": 1}})
    r = run(bad)
    assert r["state"] == "failed" and r["error"].startswith("DivergenceError") and "Traceback" in r["traceback"]
    broken = Job.from_dict({**_job(spec).to_dict(), "netspec": {"stem": {}, "stages": []}})
    r = run(broken)
    assert r["state"] == "failed" and r["error"]
    with pytest.raises(KeyError, match="resolution"):  # the error r["error"] records, raised when not caught
        run(broken, catch=False)


def test_trial_imports_neither_ray_nor_optuna_nor_torch():
    code = ("import sys, scalesearch.trial.job; bad = [m for m in ('ray', 'optuna', 'torch') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


RES_SPEC = """
study: restest
seed: 0
dataset: {name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 200, num_test: 50, val_size: 50}
train: {epochs: 1, batch_size: 50, warmup_epochs: 0}
architecture: {family: cifar_resnet, args: {depth: 8, width: 4, resolution: "round(8 * g)"}}
parameters: {g: {grid: [1.0, 1.5]}}
search: {sampler: grid}
"""


def test_a_scaled_resolution_trains_on_images_of_that_size():
    """Resolution scaling (EfficientNet's gamma) must reach the data: a candidate whose network takes 12 px is
    trained and evaluated on 12 px images, not on the dataset's 8 px (the network, being fully convolutional with
    global pooling, would silently accept either); an unscaled candidate's job and key are unchanged."""
    from scalesearch.data.loader import load_dataset

    spec = parse_spec(RES_SPEC, "restest.yaml")
    base, big = (job_for_candidate(resolve_candidate(spec, {"g": g}), spec.dataset, study_seed=0, device="cpu")
                 for g in (1.0, 1.5))
    assert base.netspec["resolution"] == 8 and "resolution" not in {k for k, v in base.data.items() if v is not None}
    assert big.netspec["resolution"] == 12 and big.data["resolution"] == 12
    assert load_dataset(**big.data).train.x.shape[-2:] == (12, 12)
    a, b = run(base), run(big)
    assert a["state"] == b["state"] == "completed"
    assert a["epochs"][0]["val_loss"] != b["epochs"][0]["val_loss"]
    # the search passes every trial the spec's dataset (at 8 px); a 12 px job must not train on it
    shared = load_dataset(**base.data)
    assert shared.train.x.shape[-2:] == (8, 8)
    b_shared = run(big, shared)
    assert [e["val_loss"] for e in b_shared["epochs"]] == [e["val_loss"] for e in b["epochs"]]
    assert [e["val_loss"] for e in run(base, shared)["epochs"]] == [e["val_loss"] for e in a["epochs"]]


def test_train_command_gives_a_scaled_baseline_its_resolution(tmp_path):
    """`scalesearch train SPEC` trains the baseline at the baseline network's resolution too."""
    path = tmp_path / "res.yaml"
    path.write_text(RES_SPEC.replace("search: {sampler: grid}", "baseline: {g: 1.5}\nsearch: {sampler: grid}"))
    r = subprocess.run([sys.executable, "-m", "scalesearch", "train", str(path), "--json", "--no-test"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dataset"]["resolution"] == 12 and out["job"]["data"]["resolution"] == 12
    assert out["job"]["netspec"]["resolution"] == 12
