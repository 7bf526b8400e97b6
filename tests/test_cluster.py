"""`scalesearch run --address` on a two-node Ray cluster (tests/support/raycluster.py, both nodes on 127.0.0.1, one CPU
each): trials run on both nodes and each stores its node; the second node is killed mid-search (its raylet and
workers, by PID) and its running trial is rerun on the head, the search completes, nothing finished is lost or
trained twice, and the study's record says what happened. An address that does not answer is one line within
seconds.

The kill happens while the driver is stopped (`_procs.step_until`), at a state read from the database: the trial
on the second node has epochs left, so it cannot have ended, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support import raycluster
from support.procs import alive, descendants, resume, step_until, wait_gone
from support.search import cli, cli_popen, optuna_trials, spec_text, study_running

from scalesearch.spec import parse_spec, resolve_candidate
from scalesearch.store import Reader
from scalesearch.trial.job import job_for_candidate

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# 6 configurations of 10 epochs on 500 8x8 images: about 2 s each on a warm worker, one CPU per trial (many short
# epochs: each is a result the driver must take before the trial goes on, see `_on_each_node`)
EPOCHS = 10
SPEC = spec_text("two-nodes", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  lr: {grid: [0.1, 0.05]}
  w: {grid: [4, 6, 8]}
search: {sampler: grid, max_concurrency: 2, resources: {cpus: 1}}
""", train=f"epochs: {EPOCHS}, batch_size: 50, warmup_epochs: 0, lr: lr",
    dataset="{name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 700, num_test: 50, "
            "val_size: 200}")


def _keys() -> set[str]:
    spec = parse_spec(SPEC, "t.yaml")
    return {job_for_candidate(resolve_candidate(spec, {"lr": lr, "w": w}), spec.dataset, study_seed=spec.seed,
                              device="cpu").key for lr in (0.1, 0.05) for w in (4, 6, 8)}


def _trials(db: str) -> list:
    try:
        return Reader(db).trials("two-nodes")
    except (LookupError, FileNotFoundError, ValueError):
        return []


def _on_each_node(ts: list, head: str, second: str) -> dict | None:
    """With the driver stopped: {node id: its running trial} when a trial has finished on each node and each runs
    another with an epoch stored; None when that is not so, or cannot be told from the database.

    The database stores a trial's node when it ends, so a running trial's node is inferred: each node has one CPU
    and runs its trials one after another, so the trial running on a node started after that node's last trial
    ended. When exactly one of the two running trials started before the later of the two nodes' last ends, it is
    on the node whose last trial ended first (the other one started after that later end); otherwise it cannot be
    told and the driver runs on a step.
    """
    done = [t for t in ts if t.state == "completed"]
    running = [t for t in ts if t.state == "running"]
    last = {n: max((t.finished for t in done if (t.node or "").rsplit("/", 1)[-1] == n), default=None)
            for n in (head, second)}
    if None in last.values() or len(running) != 2 or not all(t.epochs_done >= 1 and t.started for t in running):
        return None
    early, late = sorted(last, key=lambda n: last[n])
    before = [t for t in running if t.started < last[late]]
    if len(before) != 1:
        return None
    return {early: before[0], late: next(t for t in running if t is not before[0])}


def test_a_search_runs_on_two_nodes_and_survives_losing_one(tmp_path):
    cluster = raycluster.start()
    try:
        head, second = cluster.head_id[:12], cluster.node_id[:12]
        db = f"sqlite:///{tmp_path}/r.db"
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC)
        with open(tmp_path / "run.log", "w") as log:  # the child writes through its own copy of the descriptor
            proc = cli_popen("run", str(spec), "--db", db, "--address", cluster.address, stdout=log,
                             stderr=subprocess.STDOUT)
        try:
            # a trial finished on each node, and one running on each (each node has one CPU), the second node's
            # with results left to hand over (an epoch or more to go, then its end): read with the driver stopped,
            # which those results wait for, so that trial is still running when its node is killed
            def can_kill() -> bool:
                on = _on_each_node(_trials(db), head, second)
                return on is not None and 1 <= on[second].epochs_done <= EPOCHS - 3

            step_until(proc.pid, can_kill, "a trial finished on each node and one running on each",
                       ready=lambda: study_running(db, "two-nodes"))
            ts = _trials(db)
            before = {t.key: t for t in ts if t.state == "completed"}
            lost = _on_each_node(ts, head, second)[second]
            # kill the second node: its raylet and every process under it (its workers, its agents), by PID
            victims = {cluster.raylet_pid} | descendants(cluster.raylet_pid)
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            assert not wait_gone(victims, 30)
            resume(proc.pid)
            assert proc.wait(timeout=240) == 0, (tmp_path / "run.log").read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        trials = Reader(db).trials("two-nodes")
        assert {t.key for t in trials} == _keys() and len(trials) == 6  # every configuration, each once
        assert all(t.state == "completed" for t in trials)
        after = {t.key: t for t in trials}
        for k, t in before.items():  # what finished before the loss is kept as it was, never trained again
            a = after[k]
            assert (a.attempts, a.finished, a.val_acc, a.node) == (1, t.finished, t.val_acc, t.node)
        rerun = [t for t in trials if t.attempts > 1]
        assert len(rerun) == 1 and rerun[0].attempts == 2  # the trial that ran on the lost node, run once more
        assert rerun[0].key == lost.key
        assert rerun[0].node.endswith(head)  # ... on the surviving node
        assert all(t.node.endswith(head) for t in trials if t.key not in before)
        assert all(t.node.startswith(socket.gethostname() + "/") for t in trials)
        per_node = {n: sum(t.node.endswith(n) for t in trials) for n in (head, second)}
        assert per_node[second] >= 1 and per_node[head] + per_node[second] == 6
        study = Reader(db).study("two-nodes")
        assert study.state == "finished"
        # the record names the lost start by the trial's number, its attempt and the id of the node it was on (our
        # own words and Ray's node id: the error text after them is Ray's, whichever of its errors came first)
        lost = f"1 job start lost with its Ray worker and run again: #{rerun[0].number} attempt 1 on " \
               f"{socket.gethostname()}/{second}"
        assert lost in study.message, study.message
        ot = optuna_trials(db, "two-nodes")
        assert len(ot) == 6 and all(o.state.name == "COMPLETE" for o in ot)  # told once each, nothing left RUNNING
        out = (tmp_path / "run.log").read_text()
        assert f"#{rerun[0].number} lost its Ray worker on " in out and "Traceback" not in out
        print(f"trials per node: head {per_node[head]}, second {per_node[second]} (killed); rerun "
              f"#{rerun[0].number}; study message: {study.message}")
    finally:
        cluster.stop()
    assert not alive(cluster.raylet_pid)


def test_an_address_that_does_not_answer_is_one_line_within_seconds(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    db = tmp_path / "r.db"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{closed.getsockname()[1]}"  # bound, not listening: the connection is refused
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says anything
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        # our words; a refused connection adds the system's reason in brackets, not checked here (its wording is the
        # C library's), and the silent port gets its own words below
        cases = {refused: "cannot reach a Ray cluster there (",
                 f"127.0.0.1:{silent.getsockname()[1]}": "no Ray cluster answered there within 3 s",
                 "nowhere": "expected HOST:PORT",
                 "ray://127.0.0.1:10001": "Ray Client addresses (ray://) are not supported"}
        for address, message in cases.items():
            t0 = time.monotonic()
            r = cli("run", str(spec), "--db", str(db), "--address", address, timeout=120)
            took = time.monotonic() - t0
            assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, (address, r.stderr)
            assert took < 20, (address, took)  # Python's start-up and imports included
    assert not db.exists()  # checked before the database is touched


def test_the_driver_stays_on_loopback_only_for_a_cluster_on_loopback():
    from scalesearch.search.cluster import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.1.1"))
    assert not any(is_loopback(h) for h in ("10.0.0.5", "192.168.1.20", "8.8.8.8", "no-such-host.invalid"))
