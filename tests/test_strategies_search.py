"""REA and MO-ASHA in real searches (tiny nets, synthetic data, the session's Ray): stored, resumable after
SIGKILL, and MO-ASHA's stops equal to its rule replayed from the stored epochs."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.procs import step_until
from support.search import cli_popen, optuna_trials, run_study_inprocess, spec_text, study_running

import scalesearch
from scalesearch.store import Reader
from scalesearch.strategies.rungs import Rungs

MOASHA = spec_text("moasha", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  lr: {grid: [0.1, 0.0001, 0.05, 0.00005]}
  w: {grid: [4, 8]}
search:
  sampler: grid
  max_concurrency: 1
  objectives: {val_acc: max, macs: min}
  early_stopping: {type: moasha, grace_epochs: 1, reduction_factor: 2}
""", train="epochs: 4, batch_size: 50, warmup_epochs: 0, lr: lr")


def test_moasha_stops_what_its_rule_replayed_from_the_stored_epochs_stops(tmp_path, ray_session):
    """One trial at a time, so the trials reach each rung in trial order; replaying the stored per-epoch val_acc
    and counted MACs through the same rule gives exactly the stored states and stopping epochs."""
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(MOASHA, db, ray_session).state == "finished"
    reader = Reader(db)
    trials = reader.trials("moasha")
    assert len(trials) == 8
    rungs = Rungs(1, 2, 4)
    expected = {}
    for t in sorted(trials, key=lambda t: t.number):
        stop = None
        for e in reader.epochs("moasha", t.number):
            d = rungs.on_result(t.number, e.epoch, (-e.val_acc, float(t.macs)))
            if d is not None and not d.go_on:
                stop = e.epoch
                break
        expected[t.number] = ("stopped", stop) if stop else ("completed", 4)
    assert {t.number: (t.state, t.epochs_done) for t in trials} == expected
    stopped = [t for t in trials if t.state == "stopped"]
    assert stopped  # lr 1e-4 and 5e-5 stay near chance: dominated by the cheaper lr 0.1 width-4 net
    ot = {o.number: o for o in optuna_trials(db, "moasha")}
    for t in stopped:
        assert reader.epochs("moasha", t.number)[-1].val_acc == t.val_acc  # its last metrics
        assert ot[t.optuna_trial].state.name == "PRUNED"
        assert ot[t.optuna_trial].user_attrs["scalesearch_note"] == "stopped early by MO-ASHA"


REA = spec_text("rea", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  lr: {choice: [0.1, 0.05, 0.02]}
  w: {int: [4, 12], step: 2}
search: {sampler: rea, trials: 6, population: 3, tournament: 2, objectives: {val_acc: max, macs: min}}
""", train="epochs: 3, batch_size: 50, warmup_epochs: 0, lr: lr",
    dataset="{name: synthetic, num_classes: 4, in_channels: 1, image_size: 12, num_train: 1200, num_test: 50, "
            "val_size: 200}")


def test_rea_search_is_stored_and_resumes_after_sigkill(tmp_path, ray_session):
    spec = tmp_path / "rea.yaml"
    spec.write_text(REA)
    db = f"sqlite:///{tmp_path}/r.db"

    def counts() -> dict[str, int]:
        try:
            return Reader(db).counts("rea")
        except (LookupError, FileNotFoundError, ValueError):
            return {}

    with open(tmp_path / "run.log", "w") as log:
        proc = cli_popen("run", str(spec), "--db", db, "--address", ray_session.address, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        step_until(proc.pid, lambda: counts().get("completed", 0) >= 3 and counts().get("running", 0) >= 1,
                   "three finished trials and one running", ready=lambda: study_running(db, "rea"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {t.key: t for t in Reader(db).trials("rea") if t.state == "completed"}
    # resumed in this process (scalesearch.resume, what the command runs; test_search_cli resumes with the command)
    assert scalesearch.resume("rea", db=db, address=ray_session.address, progress=False).state == "finished"
    trials = Reader(db).trials("rea")
    assert all(t.state == "completed" for t in trials)
    assert len({t.config_key for t in trials}) == 6  # the spec's 6 trials, each trained once
    for k, t in before.items():  # finished before the kill: kept, not trained again
        after = next(x for x in trials if x.key == k)
        assert (after.attempts, after.val_acc) == (1, t.val_acc)
    ot = optuna_trials(db, "rea")
    assert not [o for o in ot if o.state.name in ("RUNNING", "WAITING")]
    assert Reader(db).study("rea").state == "finished"


HYPERBAND = MOASHA.replace("study: moasha", "study: hyperband").replace(
    "objectives: {val_acc: max, macs: min}\n  early_stopping: {type: moasha, grace_epochs: 1, reduction_factor: 2}",
    "early_stopping: {type: hyperband, grace_epochs: 1, reduction_factor: 2, brackets: 2}")


def test_hyperband_deals_trials_to_its_brackets_in_turn_and_stops_by_their_rungs(tmp_path, ray_session):
    """Two brackets (rungs at epochs 1, 2 and at 2), trials dealt in turn in the order they start (one at a time):
    replaying the stored epochs through the same brackets gives the stored states."""
    from scalesearch.strategies.rungs import hyperband_brackets, hyperband_order, hyperband_shares

    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(HYPERBAND, db, ray_session).state == "finished"
    reader = Reader(db)
    trials = sorted(reader.trials("hyperband"), key=lambda t: t.number)
    brackets = hyperband_brackets(1, 2, 4, 2)
    deal = hyperband_order(hyperband_shares(brackets, 2))
    assert deal == [0, 1, 0, 1, 0]  # shares: ceil(2 / 3 * 2**2) = 3 for rungs 1, 2; ceil(2 / 2 * 2) = 2 for rung 2
    expected = {}
    for i, t in enumerate(trials):
        stop = None
        for e in reader.epochs("hyperband", t.number):
            d = brackets[deal[i % 5]].on_result(t.number, e.epoch, (-e.val_acc,))
            if d is not None and not d.go_on:
                stop = e.epoch
                break
        expected[t.number] = ("stopped", stop) if stop else ("completed", 4)
    assert {t.number: (t.state, t.epochs_done) for t in trials} == expected
    assert any(s == "stopped" for s, _ in expected.values())
    # bracket 1's first rung is at epoch 2: its trials are never stopped after one epoch
    assert not any(t.state == "stopped" and t.epochs_done < 2 for i, t in enumerate(trials) if deal[i % 5] == 1)
