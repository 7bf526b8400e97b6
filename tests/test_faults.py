"""A search through hostile conditions, as a user runs it (CLI subprocesses): the disk fills up, the database is
made read-only or deleted, the driver gets SIGTERM or Ctrl-C, a trial exhausts memory. Each ends with one clear
line, leaves no partial or duplicated rows, and resume completes the study once the cause is gone (called in the
test process, on its Ray: `scalesearch.resume`, what the `resume` command runs, which test_search_cli runs as a
command after a SIGKILL and a Ctrl-C).

The database faults use the session's Ray (`--address`); SIGTERM and Ctrl-C hit a driver that started its own Ray,
so that the test can check that no process it started is left. The full disk is a small tmpfs, which
needs root to mount (skipped otherwise); root writes through any file mode, so "read-only" is `chmod a-w`, which
the writer checks for.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.procs import descendants, resume, step_until, wait_gone
from support.search import (
    cli,
    cli_popen,
    optuna_trials,
    run_study_inprocess,
    spec_text,
    study_running,
)

import scalesearch
from scalesearch.store import Reader

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# 4 configurations of 4 epochs on 600 8x8 images, about 0.5 s each on a warm worker, one at a time
SPEC = spec_text("faults", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  lr: {grid: [0.1, 0.05]}
  w: {grid: [4, 6]}
search: {sampler: grid}
""", train="epochs: 4, batch_size: 50, warmup_epochs: 0, lr: lr",
    dataset="{name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 600, num_test: 50, "
            "val_size: 100}")


def _counts(db: str) -> dict[str, int]:
    try:
        return Reader(db).counts("faults")
    except (LookupError, FileNotFoundError, ValueError, OSError):
        return {}


def _start(tmp_path: Path, db: str, *extra: str, **kw) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run.out"
    with open(out, "w") as stdout:  # the child has its own copy of the descriptor; ours closes here
        proc = cli_popen("run", str(spec), "--db", db, *extra, stdout=stdout, stderr=subprocess.PIPE, text=True,
                         **kw)
    return proc, out


def _wait_midway(proc: subprocess.Popen, db: str, timeout: float = 240) -> None:
    """Until one trial finished and another is running (with an epoch stored), seen with the driver stopped; it
    returns with the driver still stopped (`_procs.step_until`): the caller applies its fault, then resumes it. The
    running trial has results the driver has not taken yet (its last epochs, its end), so the driver writes again
    after the fault, whatever the machine's speed: the fault lands mid-search by construction."""

    def midway() -> bool:
        c = _counts(db)
        if c.get("completed", 0) >= 1 and c.get("running", 0) >= 1:
            return any(t.epochs_done >= 1 for t in Reader(db).trials("faults", states=("running",)))
        return False

    try:
        step_until(proc.pid, midway, "one trial finished and another running", timeout=timeout,
                   ready=lambda: study_running(db, "faults"))
    except AssertionError as e:  # say why the driver ended (e.g. its own Ray failed to start on a loaded machine)
        err = proc.stderr.read() if proc.poll() is not None and proc.stderr is not None else ""
        raise AssertionError(f"{e}; exit {proc.poll()}; its stderr: {err[-3000:]}") from None


def _rows(db: str) -> list:
    return Reader(db).trials("faults")


def _check_no_partial_rows(db: str) -> None:
    """Every stored trial once, finished ones whole: their epochs 1..n stored once each."""
    reader = Reader(db)
    trials = reader.trials("faults")
    assert len({t.key for t in trials}) == len(trials)
    epochs: dict[int, list[int]] = {}
    for e in reader.epochs("faults"):
        epochs.setdefault(e.number, []).append(e.epoch)
    for t in trials:
        if t.state == "completed":
            assert epochs.get(t.number) == [1, 2, 3, 4] and t.epochs_done == 4 and t.val_acc is not None


def _resume_completes(db: str, address: str) -> list:
    assert scalesearch.resume("faults", db=db, address=address, progress=False).state == "finished"
    trials = _rows(db)
    assert len(trials) == 4 and all(t.state == "completed" for t in trials)
    _check_no_partial_rows(db)
    ot = optuna_trials(db, "faults")
    assert sorted(o.state.name for o in ot if o.state.name != "FAIL") == ["COMPLETE"] * 4
    assert not [o for o in ot if o.state.name in ("RUNNING", "WAITING")]
    assert Reader(db).study("faults").state == "finished"
    return trials


def _left_behind(db: str) -> str:
    c = _counts(db)
    return ", ".join(f"{n} {s}" for s, n in sorted(c.items()))


def _one_line(proc: subprocess.Popen, timeout: float = 120) -> str:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("scalesearch: error: "), err
    return err


@pytest.fixture
def small_fs(tmp_path):
    """A 8 MiB tmpfs, mounted for the test and unmounted after it (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mnt)], capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode != 0:
        # best effort, as before: a lazy unmount that fails too is left to the tmpfs's owner, not a teardown error
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_disk_full_mid_search(tmp_path, small_fs, ray_session):
    db = f"sqlite:///{small_fs}/r.db"
    proc, _ = _start(tmp_path, db, "--address", ray_session.address)
    try:
        _wait_midway(proc, db)
        before = {t.key: t for t in _rows(db) if t.state == "completed"}
        # take every free byte; unbuffered, so that closing the file has nothing left to flush (a buffered file's
        # close retries the write that failed and raises ENOSPC again, outside the try: seen on a loaded run)
        with open(small_fs / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        resume(proc.pid)
        err = _one_line(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    # our words; what follows in the brackets is SQLite's own text for the failed write
    assert "cannot write to the database (" in err and "scalesearch resume faults" in err
    _check_no_partial_rows(db)
    left = _left_behind(db)
    after = {t.key: t for t in _rows(db)}
    assert all(after[k].finished == t.finished and after[k].attempts == 1 for k, t in before.items())
    (small_fs / "filler").unlink()
    trials = _resume_completes(db, ray_session.address)
    assert all(t.attempts == 1 for t in trials if t.key in before)  # finished before the fault: not trained again
    print(f"\ndisk full: {err.strip()}\n  left behind: {left}")


def test_a_result_optuna_lost_is_told_again_on_resume_not_retrained(tmp_path, ray_session):
    """What a full disk can leave (CI saw it): a configuration stored as completed whose Optuna tell failed, its
    Optuna trial left RUNNING. Resume tells Optuna the stored result again and trains nothing."""
    import sqlite3

    from scalesearch.store import Store

    path = tmp_path / "r.db"
    db = f"sqlite:///{path}"
    assert run_study_inprocess(SPEC, db, ray_session).state == "finished"
    before = {t.key: t for t in _rows(db)}
    lost = sorted(before.values(), key=lambda t: t.number)[1]
    con = sqlite3.connect(path)
    with con:  # the tell that never reached Optuna's tables
        tid = con.execute("SELECT trial_id FROM trials WHERE number = ?", (lost.optuna_trial,)).fetchone()[0]
        con.execute("UPDATE trials SET state = 'RUNNING', datetime_complete = NULL WHERE trial_id = ?", (tid,))
        con.execute("DELETE FROM trial_values WHERE trial_id = ?", (tid,))
    con.close()
    store = Store(db)
    store.update_study("faults", state="interrupted", message="the disk filled up")
    store.close()
    assert sorted(o.state.name for o in optuna_trials(db, "faults")) == ["COMPLETE"] * 3 + ["RUNNING"]

    r = cli("resume", "faults", "--db", db, "--address", ray_session.address)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "told Optuna again the stored result of" in r.stdout and r.stdout.count("started") == 0, r.stdout
    trials = _rows(db)
    assert {t.key: (t.finished, t.attempts, t.val_acc) for t in trials} == \
        {k: (t.finished, 1, t.val_acc) for k, t in before.items()}  # nothing trained again
    ot = {o.number: o for o in optuna_trials(db, "faults")}
    assert sorted(o.state.name for o in ot.values()) == ["COMPLETE"] * 4 + ["FAIL"]
    relinked = {t.key: t.optuna_trial for t in trials}
    assert all(ot[n].state.name == "COMPLETE" for n in relinked.values())  # a later resume finds each told
    assert relinked[lost.key] != lost.optuna_trial and ot[relinked[lost.key]].values == [lost.val_acc]
    assert Reader(db).study("faults").state == "finished"


def test_database_made_read_only_mid_search(tmp_path, ray_session):
    path = tmp_path / "db" / "r.db"
    db = f"sqlite:///{path}"
    proc, _ = _start(tmp_path, db, "--address", ray_session.address)
    try:
        _wait_midway(proc, db)
        path.chmod(0o400)  # chmod a-w r.db
        resume(proc.pid)
        err = _one_line(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "the database file was made read-only while the search ran" in err, err
    assert "scalesearch resume faults" in err
    _check_no_partial_rows(db)
    left = _left_behind(db)
    path.chmod(0o600)
    _resume_completes(db, ray_session.address)
    print(f"\nread-only: {err.strip()}\n  left behind: {left}")


def test_database_file_deleted_mid_search(tmp_path, ray_session):
    path = tmp_path / "db" / "r.db"
    db = f"sqlite:///{path}"
    proc, _ = _start(tmp_path, db, "--address", ray_session.address)
    try:
        _wait_midway(proc, db)
        before = {t.key: t for t in _rows(db) if t.state == "completed"}
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):  # rm r.db*
            p.unlink(missing_ok=True)
        resume(proc.pid)
        err = _one_line(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "the database file was deleted while the search ran" in err and f"back to {path};" in err, err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not Path(f"{path}-wal").exists()
    _check_no_partial_rows(db)
    study = Reader(db).study("faults")
    assert study.state == "interrupted" and "was deleted" in study.message
    left = _left_behind(db)
    after = {t.key: t for t in _rows(db)}
    assert set(before) <= set(after) and all(after[k].finished == t.finished for k, t in before.items())
    assert "running" not in left
    _resume_completes(db, ray_session.address)
    print(f"\ndeleted: {err.strip()}\n  left behind (in the file written back): {left}")


# Ctrl-C is `slow`: test_search_cli stops a search with it (and resumes), and the SIGTERM case here checks the same
# stop path (Tune's SIGINT handler) with a Ray of the driver's own, down to its last process.
@pytest.mark.parametrize("how", ["SIGTERM", pytest.param("Ctrl-C", marks=pytest.mark.slow)])
def test_sigterm_and_ctrl_c_stop_gracefully_and_leave_no_process(tmp_path, ray_session, how):
    db = f"sqlite:///{tmp_path}/r.db"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # its own Ray (no --address), in its own process group, as a shell would start it
    proc, out = _start(tmp_path, db, env=env, start_new_session=True)
    try:
        _wait_midway(proc, db)
        started = descendants(proc.pid)  # the Ray it started: GCS, raylet, workers...
        assert len(started) >= 3
        if how == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)  # delivered as the driver resumes, with results still to take
            resume(proc.pid)
        else:  # a terminal's Ctrl-C reaches the whole foreground group at once: the driver runs again first
            resume(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert proc.returncode == 130, text + err
    assert "Traceback" not in text + err
    why = "stopped by SIGTERM" if how == "SIGTERM" else "interrupted"
    assert "study faults interrupted" in text and f"{why}; `scalesearch resume faults` continues it" in text, text
    c = _counts(db)
    assert c.get("running", 0) == 0 and c.get("interrupted", 0) + c.get("queued", 0) >= 1, c  # none left running
    study = Reader(db).study("faults")
    assert study.state == "interrupted" and study.driver_pid is None
    assert not [o for o in optuna_trials(db, "faults") if o.state.name == "RUNNING"]
    assert not wait_gone(started, 60), "processes of the driver's Ray were left running"
    _check_no_partial_rows(db)
    left = _left_behind(db)
    _resume_completes(db, ray_session.address)
    print(f"\n{how}: exit 130, {study.message}\n  left behind: {left}; {len(started)} Ray processes, all gone")


def test_a_trial_over_its_memory_budget_is_failed_and_the_search_goes_on(tmp_path, ray_session):
    """A real limit in a real trial process: `resources: {memory_gb: 0.5}` caps what a trial may add to its Ray
    worker's address space; the big candidate (a batch of 2000 64x64 images at width 64: gigabytes of activations,
    which this machine could give it) hits it at its first allocations, and the small one trains in the same,
    reused, worker with the limit lifted."""
    text = spec_text("oom", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  big: {grid: [1, 0]}
  w: {derived: "4 + 60 * big"}
  bs: {derived: "50 + 1950 * big"}
search: {sampler: grid, max_concurrency: 1, resources: {cpus: 1, memory_gb: 0.5}}
""", train="epochs: 1, max_steps: 2, batch_size: bs, warmup_epochs: 0",
        dataset="{name: synthetic, num_classes: 4, in_channels: 1, image_size: 64, num_train: 2100, num_test: 10, "
                "val_size: 100}")
    db = f"sqlite:///{tmp_path}/r.db"
    t0 = time.monotonic()
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    by = {t.values["big"]: t for t in Reader(db).trials("oom")}
    huge, small = by[1], by[0]
    # "out of memory: " is ours (the failure recognised as one); the rest is PyTorch's text, not checked
    assert huge.state == "failed" and huge.error.startswith("out of memory: "), huge.error
    assert huge.number < small.number  # it failed first ...
    assert small.state == "completed"  # ... and the search went on
    assert sorted(o.state.name for o in optuna_trials(db, "oom")) == ["COMPLETE", "FAIL"]
    print(f"\nout of memory ({time.monotonic() - t0:.0f} s): #{huge.number} failed: {huge.error[:160]}")


def test_the_memory_budget_is_lifted_after_the_trial():
    """`trial.memory_limit` restores the process's own limit, so a reused worker is not left capped. In a fresh
    process: in the test process, threads of its own (the session's Ray driver) map and unmap memory of their own
    while the budget holds."""
    import subprocess
    import sys

    code = """
import resource
from scalesearch.trial.job import memory_limit
before = resource.getrlimit(resource.RLIMIT_AS)
with memory_limit(64 * 2 ** 20):
    inside = resource.getrlimit(resource.RLIMIT_AS)
    try:
        bytearray(256 * 2 ** 20)  # over the 64 MiB budget: refused, not swapped
        refused = False
    except MemoryError:
        refused = True
after = resource.getrlimit(resource.RLIMIT_AS)
bytearray(256 * 2 ** 20)  # the same allocation after the context
print(refused, inside[0] != before[0], after == before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr
