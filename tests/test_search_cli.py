"""The search commands as a user runs them: subprocesses joining the session's Ray with --address.

SIGKILL and Ctrl-C in the middle of a search then `resume`, a reader looping `scalesearch status` beside parallel
trials, bad input, the progress display in a pipe and on a real terminal (tmux), and a local Ray bound to
127.0.0.1 only.

Where a test acts on a search mid-way (kills it, interrupts it, reads it, looks at its processes), it does so with
the driver stopped at a state read from the database (`_procs.step_until`): the search cannot have moved past
that state, or ended, whatever the machine's speed.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.procs import descendants, resume, step_until
from support.search import (
    cli,
    cli_popen,
    dump,
    optuna_trials,
    spec_text,
    study_running,
)

from scalesearch.spec import parse_spec, resolve_candidate
from scalesearch.store import Reader
from scalesearch.trial.job import job_for_candidate


def _slow(concurrency: int) -> str:
    """6 configurations of ~1 s each (3 epochs on 1000 12x12 images), `concurrency` at a time."""
    return spec_text("slow", f"""\
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w}}}}
parameters:
  lr: {{grid: [0.1, 0.05]}}
  w: {{grid: [4, 6, 8]}}
search: {{sampler: grid, max_concurrency: {concurrency}}}
""", train="epochs: 3, batch_size: 50, warmup_epochs: 0, lr: lr",
        dataset="{name: synthetic, num_classes: 4, in_channels: 1, image_size: 12, num_train: 1200, num_test: 50, "
                "val_size: 200}")


# Two at a time where trials in flight together are the subject (the status reader beside parallel writers); one
# at a time for a stop and a resume, which need a finished trial and a running one, not two running (every worker
# started costs a few CPU-seconds of imports before its first epoch).
SLOW = _slow(2)
SLOW_ONE = _slow(1)


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _expected_keys(text: str) -> set[str]:
    spec = parse_spec(text, "t.yaml")
    keys = set()
    for lr, w in itertools.product([0.1, 0.05], [4, 6, 8]):
        c = resolve_candidate(spec, {"lr": lr, "w": w})
        keys.add(job_for_candidate(c, spec.dataset, study_seed=spec.seed, device="cpu").key)
    return keys


def _counts(db: str, study: str) -> dict[str, int]:
    try:
        return Reader(db).counts(study)
    except (LookupError, FileNotFoundError, ValueError):
        return {}


def _check_complete(db: str, study: str, text: str) -> list:
    trials = Reader(db).trials(study)
    assert {t.key for t in trials} == _expected_keys(text)  # the same configurations as an uninterrupted run
    assert len(trials) == 6 and all(t.state == "completed" for t in trials)  # each kept once, nothing running
    ot = optuna_trials(db, study)
    assert not [o for o in ot if o.state.name in ("RUNNING", "WAITING")]
    assert sorted(o.params["w"] for o in ot if o.state.name == "COMPLETE") == [4, 4, 6, 6, 8, 8]
    return trials


def test_sigkill_then_resume_keeps_finished_trials_and_trains_nothing_twice(tmp_path, ray_session):
    db = f"sqlite:///{tmp_path}/r.db"
    spec = _write(tmp_path, SLOW_ONE)
    with open(tmp_path / "run.log", "w") as log:  # the child writes through its own copy of the descriptor
        proc = cli_popen("run", spec, "--db", db, "--address", ray_session.address, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        step_until(proc.pid, lambda: _counts(db, "slow").get("completed", 0) >= 2
                   and _counts(db, "slow").get("running", 0) >= 1, "two finished trials and one running",
                   ready=lambda: study_running(db, "slow"))
        os.kill(proc.pid, signal.SIGKILL)  # stopped where it was seen: the running trial is still running
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {t.key: t for t in Reader(db).trials("slow")}
    finished = {k: t for k, t in before.items() if t.state == "completed"}
    assert len(finished) >= 2 and any(t.state == "running" for t in before.values())
    assert any(o.state.name == "RUNNING" for o in optuna_trials(db, "slow"))  # what a SIGKILL leaves behind
    status = cli("status", "slow", "--db", db)
    assert status.returncode == 0 and "driver is gone" in status.stdout
    r = cli("resume", "slow", "--db", db, "--address", ray_session.address)
    assert r.returncode == 0, r.stdout + r.stderr
    trials = _check_complete(db, "slow", SLOW_ONE)
    for t in trials:
        if t.key in finished:  # kept as they were: not trained again
            assert (t.attempts, t.finished, t.val_acc) == (1, finished[t.key].finished, finished[t.key].val_acc)
    reran = [t for t in trials if t.key in before and before[t.key].state == "running"]
    assert reran and all(t.attempts == 2 for t in reran)
    assert "study slow finished" in r.stdout


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path, ray_session):
    db = f"sqlite:///{tmp_path}/r.db"
    spec = _write(tmp_path, SLOW_ONE)
    proc = cli_popen("run", spec, "--db", db, "--address", ray_session.address, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
    try:
        # one to three of the six finished and one running: the rest cannot all end in the moment the interrupt
        # takes, and the running one is interrupted
        def midway() -> bool:
            c = _counts(db, "slow")
            return 1 <= c.get("completed", 0) <= 3 and c.get("running", 0) >= 1

        step_until(proc.pid, midway, "one finished trial and one running", ready=lambda: study_running(db, "slow"))
        os.kill(proc.pid, signal.SIGINT)  # delivered as it resumes
        resume(proc.pid)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "study slow interrupted" in out and "scalesearch resume slow" in out
    study = Reader(db).study("slow")
    assert study.state == "interrupted" and study.driver_pid is None
    c = _counts(db, "slow")
    assert c.get("running", 0) == 0 and c.get("interrupted", 0) + c.get("queued", 0) >= 1
    assert not [o for o in optuna_trials(db, "slow") if o.state.name == "RUNNING"]
    r = cli("resume", "slow", "--db", db, "--address", ray_session.address)
    assert r.returncode == 0, r.stdout + r.stderr
    _check_complete(db, "slow", SLOW_ONE)
    assert Reader(db).study("slow").runs == 2


def test_parallel_trials_with_a_status_reader_never_lock_the_database(tmp_path, ray_session):
    db = f"sqlite:///{tmp_path}/r.db"
    spec = _write(tmp_path, SLOW)
    proc = cli_popen("run", spec, "--db", db, "--address", ray_session.address, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
    outputs = []
    try:
        # three reads with the writer stopped wherever it was (mid-transaction or not) while trials are in flight,
        # then reads beside it running until it ends (as many as its pace allows)
        read_at: list[dict[str, int]] = []

        def new_state_in_flight() -> bool:  # trials running, and counts other than at the reads before
            c = _counts(db, "slow")
            return c.get("running", 0) >= 1 and c not in read_at

        for i in range(3):
            step_until(proc.pid, new_state_in_flight, f"trials in flight ({i + 1})",
                       ready=lambda: study_running(db, "slow"))
            read_at.append(_counts(db, "slow"))
            outputs.append(cli("status", "slow", "--db", db, timeout=60))
            assert "running  #" in outputs[-1].stdout, outputs[-1].stdout  # it saw trials in flight
            resume(proc.pid)
        while proc.poll() is None:
            outputs.append(cli("status", "slow", "--db", db, timeout=60))
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    for o in outputs:
        assert o.returncode == 0, o.stderr
        assert "locked" not in o.stdout + o.stderr
    assert "locked" not in out
    _check_complete(db, "slow", SLOW)


@pytest.fixture(scope="module")
def pipe_run(tmp_path_factory, ray_session):
    """One small search through the CLI with its output in a pipe (2 trained, 1 rejected): the progress test reads
    its output, the bad-input test uses its database and spec as the good run."""
    folder = tmp_path_factory.mktemp("pipe")
    text = spec_text("pipe", """\
architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: 4}}
parameters: {n: {grid: [1, 2, 3]}}
constraints: ["n < 3"]
search: {sampler: grid}
""")
    db_path = folder / "r.db"
    spec = _write(folder, text)
    r = cli("run", spec, "--db", f"sqlite:///{db_path}", "--address", ray_session.address)
    return {"text": text, "spec": spec, "db_path": db_path, "run": r}


def test_bad_input_exits_2_with_one_line_and_leaves_the_database_unchanged(tmp_path, pipe_run):
    db_path = pipe_run["db_path"]
    db = f"sqlite:///{db_path}"
    tiny, good = pipe_run["text"], pipe_run["spec"]
    assert pipe_run["run"].returncode == 0, pipe_run["run"].stdout + pipe_run["run"].stderr
    before = dump(db_path)
    other = _write(tmp_path, tiny.replace("width: 4", "width: 6"), "other.yaml")
    bad_spec = _write(tmp_path, tiny.replace("sampler: grid", "sampler: grit"), "bad.yaml")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database\n" * 50)
    cases = {
        "invalid spec": (["run", bad_spec, "--db", db], "did you mean 'grid'"),
        "unreachable address": (["run", good, "--db", db, "--address", "127.0.0.1:9"], "cannot reach a Ray cluster"),
        "not a database": (["run", good, "--db", str(junk)], "not a usable database"),
        "study exists with another spec": (["run", other, "--db", db], "already exists"),
        "no such study": (["resume", "nope", "--db", db], "no study 'nope'"),
    }
    for what, (args, message) in cases.items():
        r = cli(*args, timeout=60)  # a refusal that waited on anything would run past the timeout
        assert r.returncode == 2, (what, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and message in r.stderr, (what, r.stderr)
    assert dump(db_path) == before
    assert junk.read_bytes() == b"this is not a database\n" * 50


def test_progress_in_a_pipe_is_one_plain_line_per_event(pipe_run):
    r = pipe_run["run"]
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "\r" not in r.stdout and "\x1b" not in r.stdout
    events = [ln for ln in lines if re.match(r"^\[\s*\d+[smh0-9]*\] ", ln)]
    def count(what: str) -> int:
        return sum(bool(re.search(rf"\] #\d+ {what}", ln)) for ln in events)

    assert (count("started"), count("completed"), count("rejected")) == (2, 2, 1)
    assert all("| done " in ln and "failed" in ln and "pruned" in ln for ln in events[1:])
    assert any(ln.startswith("results: ") for ln in lines) and any("scalesearch query pipe" in ln for ln in lines)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_progress_on_a_terminal_redraws_one_status_line(tmp_path, ray_session):
    text = spec_text("tty", """\
architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: 4}}
parameters: {n: {grid: [1, 2]}}
search: {sampler: grid, max_concurrency: 1}
""")
    db = f"sqlite:///{tmp_path}/r.db"
    spec = _write(tmp_path, text)
    sock = str(tmp_path / "tmux.sock")
    cmd = (f"cd {Path(__file__).resolve().parent.parent} && {sys.executable} -m scalesearch run {spec} --db {db} "
           f"--address {ray_session.address}; echo EXIT=$?; sleep 60")
    tmux = ["tmux", "-S", sock]
    subprocess.run(tmux + ["new-session", "-d", "-x", "200", "-y", "50", "-s", "t", cmd], check=True)

    def pane() -> str:
        return subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True, text=True,
                              check=False).stdout

    try:
        shell = int(subprocess.run(tmux + ["display-message", "-p", "-t", "t", "#{pane_pid}"], capture_output=True,
                                   text=True, check=True).stdout)
        t0 = time.monotonic()
        driver = _driver_under(shell)
        while driver is None:  # the shell starts it; it lives through Python's start-up, Ray's and the search
            assert "EXIT=" not in pane() and time.monotonic() - t0 < 60, pane()
            time.sleep(0.01)
            driver = _driver_under(shell)
        # the live status line, while a trial runs: looked for with the driver stopped, so it is on the screen
        step_until(driver, lambda: bool(re.search(r"^done \d+/2, running 1, .*elapsed \d+s, ETA", pane(), re.MULTILINE)),
                   "the live status line", ready=lambda: study_running(db, "tty"))
        resume(driver)
        screen = ""
        while time.monotonic() - t0 < 180 and "EXIT=" not in screen:
            time.sleep(0.2)
            screen = pane()
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True, check=False)
    assert "EXIT=0" in screen, screen
    lines = [ln for ln in screen.splitlines() if ln.strip()]
    status = [ln for ln in lines if ln.startswith("done ")]
    assert len(status) == 1 and status[0].startswith("done 2/2, running 0, failed 0, pruned 0, rejected 0"), screen
    assert sum("completed val_acc" in ln for ln in lines) == 2 and "\x1b" not in screen
    assert any(ln.startswith("study tty finished") for ln in lines)


def _driver_under(root: int) -> int | None:
    """The PID of the `scalesearch run` process under process `root`, if one runs."""
    for p in descendants(root):
        try:
            if b"scalesearch run" in Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" "):
                return p
        except OSError:
            continue
    return None
