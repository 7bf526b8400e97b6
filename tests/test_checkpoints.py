"""Training checkpoints (`train: {checkpoint_every: N}`): the whole training state after every N-th
epoch, kept by the driver; a trial killed mid-training resumes from its last checkpoint and ends with exactly the
metrics of an uninterrupted run (CPU, fixed seeds); the setting leaves the trial key alone, so a database made
before it existed resumes without retraining."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess

import pytest
import torch
from torch import nn

import scalesearch
from scalesearch.data.loader import load_dataset
from scalesearch.train.loop import TrainConfig, fit
from scalesearch.trial.job import Job

METRICS = ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(),
                         nn.Linear(8 * 64, 10))


def _rows(result) -> list[tuple]:
    return [tuple(getattr(m, k) for k in METRICS) for m in result.epochs]


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_fit_resumed_from_a_saved_state_equals_an_uninterrupted_fit(stop_after):
    data = load_dataset("synthetic", val_size=100, num_train=400, num_test=100, image_size=8)
    cfg = TrainConfig(epochs=4, batch_size=50, device="cpu", checkpoint_every=1)  # augmentation, dropout, cosine
    ref = fit(_model(), data, cfg)
    states = []
    fit(_model(), data, cfg, checkpoint=states.append, on_epoch=lambda m: m.epoch == stop_after)
    assert [s["epoch"] for s in states] == list(range(1, stop_after + 1))
    buf = io.BytesIO()
    torch.save(states[-1], buf)  # as it travels: bytes, read back with weights_only=True
    buf.seek(0)
    resumed = fit(_model(), data, cfg, resume=torch.load(buf, weights_only=True))
    assert _rows(resumed) == _rows(ref)  # every metric of every epoch, with ==
    assert resumed.steps == ref.steps
    # without the checkpoint's state, going on from the same weights differs: the test can fail
    state = dict(states[-1], optimizer={"state": {}, "param_groups": states[-1]["optimizer"]["param_groups"]})
    assert _rows(fit(_model(), data, cfg, resume=state)) != _rows(ref)


def test_checkpoints_come_every_n_epochs_but_never_after_the_last():
    data = load_dataset("synthetic", val_size=50, num_train=200, num_test=50, image_size=8)
    states = []
    fit(_model(), data, TrainConfig(epochs=6, batch_size=50, device="cpu", checkpoint_every=2),
        checkpoint=states.append)
    assert [s["epoch"] for s in states] == [2, 4]
    with pytest.raises(ValueError, match="checkpoint_every"):
        TrainConfig(checkpoint_every=-1)


def test_fields_added_after_the_first_release_leave_its_trial_keys_alone():
    train = dataclasses.asdict(TrainConfig())
    # a job of the release before the two fields existed
    old = {k: v for k, v in train.items() if k not in ("checkpoint_every", "zero_init_residual")}

    def job(t: dict) -> Job:
        return Job(netspec={"a": 1}, train=t, data={"name": "synthetic"}, seed=3)

    jobs = [job(t) for t in (old, train, {**train, "checkpoint_every": 5})]
    assert len({j.key for j in jobs}) == 1 and len({j.config_key for j in jobs}) == 1
    # checkpoint_every never changes the outcome; zero_init_residual does, so it is in the key once set
    assert job({**train, "zero_init_residual": True}).key != jobs[0].key
    assert job({**train, "epochs": 11}).key != jobs[0].key


# one trial of 6 epochs, a checkpoint after each
KILL = """\
study: {study}
seed: 0
dataset: {{name: synthetic, num_classes: 4, in_channels: 1, image_size: 12, num_train: 600, num_test: 50,
          val_size: 200}}
train: {{epochs: 6, batch_size: 50, warmup_epochs: 1, checkpoint_every: {every}}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4}}}}
search: {{sampler: grid, keep: none}}
"""


def _epochs(db: str, study: str) -> list[tuple]:
    from scalesearch.store import Reader

    with Reader(db) as r:
        return [tuple(getattr(e, k) for k in ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss",
                                               "val_acc", "seconds")) for e in r.epochs(study)]


def test_a_trial_killed_mid_training_resumes_from_its_checkpoint_with_the_same_metrics(tmp_path, ray_session):
    from support.procs import step_until
    from support.search import cli_popen, run_study_inprocess, study_running

    from scalesearch.store import Reader, checkpoint_dir

    ref_db = f"sqlite:///{tmp_path / 'ref.db'}"
    run_study_inprocess(KILL.format(study="ck", every=0), ref_db, ray_session)  # uninterrupted, no checkpoints
    db = f"sqlite:///{tmp_path / 'r.db'}"
    spec = tmp_path / "ck.yaml"
    spec.write_text(KILL.format(study="ck", every=1))
    folder = checkpoint_dir(db, "ck")

    def trial():
        with Reader(db) as r:
            ts = r.trials("ck")
        return ts[0] if ts else None

    with open(tmp_path / "run.log", "w") as log:
        proc = cli_popen("run", str(spec), "--db", db, "--address", ray_session.address, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        # stopped (SIGSTOP) where the trial is running with 2 or more epochs stored and epochs left: its
        # checkpoint (saved before each epoch is stored) is on disk
        step_until(proc.pid, lambda: (t := trial()) is not None and t.state == "running" and 2 <= t.epochs_done < 6,
                   "a running trial with two epochs stored", ready=lambda: study_running(db, "ck"))
        before = trial()
        stored = _epochs(db, "ck")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    files = list(folder.glob("resume_*.pt"))
    assert [f.name for f in files] == [f"resume_{before.key}.pt"]
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    saved = torch.load(files[0], weights_only=True)
    # the last stored epoch's state, or the next one's: the driver saves an epoch's checkpoint before it stores the
    # epoch, and the stop may fall between the two; never behind what is stored
    assert saved["epoch"] in (before.epochs_done, before.epochs_done + 1)
    # resumed in this process (scalesearch.resume, what the command runs; test_search_cli resumes with the command)
    assert scalesearch.resume("ck", db=db, address=ray_session.address, progress=False).state == "finished"
    after = trial()
    assert after.state == "completed" and after.attempts == 2 and after.epochs_done == 6
    assert after.metrics["resumed_from_epoch"] == saved["epoch"]
    ours, ref = _epochs(db, "ck"), _epochs(ref_db, "ck")
    assert [e[:7] for e in ours] == [e[:7] for e in ref]  # every metric of every epoch equals the uninterrupted run's
    # the epochs before the checkpoint were restored, not trained again: their wall times are the first run's
    assert ours[:before.epochs_done] == stored[:before.epochs_done]
    with Reader(ref_db) as rr:
        assert after.val_acc == rr.trials("ck")[0].val_acc and after.key == rr.trials("ck")[0].key
    assert not list(folder.glob("resume_*.pt"))  # a finished trial's checkpoint is removed
