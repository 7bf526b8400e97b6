"""Claiming a study (`scalesearch.search.study`) and the database URL, as a new user met them, each as the real
command line in a subprocess: one line on stderr, exit status 2, nothing written.

- Two `scalesearch run` of the same new study started 0, 0.3, 1 and 3 s apart: exactly one runs it, the other is
  refused in one line naming the first's PID, and nothing is trained twice. The study is claimed (inserted, or
  checked and marked with the driver's host and PID) in one transaction (`Store.claim_study`).

  How the race tests avoid depending on the machine's speed: both drivers join this test's Ray (`--address`), and
  before they start the test reserves every CPU of that Ray in a placement group. The refused driver never needs
  Ray (it stops at the claim); the driver that won the claim can start its run but cannot train a single epoch,
  so it cannot finish (nor release its claim) before the other has been refused, however slow or fast the machine
  is and whatever the gap. Only when the refused driver has exited does the test release the CPUs; the winner
  then trains the tiny grid to its end. The timeouts below are upper bounds for a stalled run, never what decides
  a verdict.
- `--db foo://x` (a scheme SQLAlchemy does not know) and `--db mysql://u@127.0.0.1:1/db` (a driver that is not
  installed), for every command that takes `--db`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scalesearch.errors import ConflictError
from scalesearch.store import Reader, Store

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.cli import main_in_process
from support.search import cli_popen, dump, optuna_trials, spec_text

# 4 configurations of one short epoch each (8x8 images), one at a time (one trial worker: its start costs more CPU
# than the four trainings)
SPEC = spec_text("race", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  w: {grid: [4, 6, 8, 10]}
search: {sampler: grid}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0")

UNKNOWN_SCHEME = "foo://x"
MISSING_DRIVER = "mysql://u@127.0.0.1:1/db"


def _run(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scalesearch", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, check=False)


def _one_line(rc: int | None, stdout: str, stderr: str) -> str:
    """The single stderr line of a refused command (exit 2, nothing on stdout, no traceback)."""
    assert rc == 2, (rc, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scalesearch: error: "), stderr
    assert not stdout.strip(), stdout
    return lines[0]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------------------
# --db with an unknown scheme or a missing driver

_DB_COMMANDS = {
    "run": ["run", "spec.yaml"],
    "resume": ["resume", "race"],
    "status": ["status"],
    "status STUDY": ["status", "race"],
    "studies": ["studies"],
    "delete": ["delete", "race", "--yes"],
    "query": ["query", "race"],
    "plot": ["plot", "race"],
    "report": ["report", "race"],
    "rediscover": ["rediscover", "degradation"],
    "compare": ["compare", "race", "--a", "w == 4", "--b", "w == 8"],
    "dump": ["dump", "race", "--out", "race.jsonl.gz"],
    "load": ["load", "race.jsonl.gz"],
    "export": ["export", "race", "--best", "--out", "exported"],
}


@pytest.mark.parametrize("url, needle", [
    (UNKNOWN_SCHEME, ("--db foo://x: unknown database scheme 'foo'; expected sqlite:///PATH, "
                      "postgresql+psycopg://USER@HOST/DB, or another SQLAlchemy URL whose driver is installed")),
    (MISSING_DRIVER, (f"--db {MISSING_DRIVER}: the mysqldb driver of mysql is not installed (no Python module "
                      "MySQLdb); pip install mysqlclient")),
], ids=["unknown-scheme", "missing-driver"])
@pytest.mark.parametrize("command", list(_DB_COMMANDS))
def test_every_db_command_names_a_bad_url_scheme_or_driver_in_one_line(tmp_path, command, url, needle):
    (tmp_path / "spec.yaml").write_text(SPEC)
    before = _files(tmp_path)
    r = main_in_process(*_DB_COMMANDS[command], "--db", url, cwd=tmp_path)  # refused before any Ray or file
    assert needle in _one_line(r.returncode, r.stdout, r.stderr)
    assert _files(tmp_path) == before  # no database, results folder or report written anywhere under cwd


# ---------------------------------------------------------------------------------------------------------------
# two drivers of the same new study


class _HeldCpus:
    """Every CPU of this process's Ray reserved in one placement group until `release()`: no trial can start."""

    def __init__(self) -> None:
        import ray
        from ray.util.placement_group import placement_group

        cpus = ray.cluster_resources().get("CPU", 0)
        assert cpus >= 1
        self._pg = placement_group([{"CPU": cpus}])
        ray.get(self._pg.ready(), timeout=120)
        assert ray.available_resources().get("CPU", 0) == 0

    def release(self) -> None:
        if self._pg is not None:
            from ray.util.placement_group import remove_placement_group

            remove_placement_group(self._pg)
            self._pg = None


def _start(tmp_path: Path, name: str, spec: str, db: str, address: str) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = cli_popen("run", spec, "--db", db, "--address", address, stdout=o, stderr=e)
    return proc, out, err


def _first_exit(procs: list[subprocess.Popen], timeout: float) -> subprocess.Popen:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                return p
        time.sleep(0.1)
    raise AssertionError(f"neither driver exited within {timeout} s")


def _running(db: str) -> int:
    try:
        with Reader(db) as reader:
            return reader.counts("race").get("running", 0)
    except (LookupError, FileNotFoundError, ValueError):
        return 0


def _check_trained_once(db: str) -> None:
    study = Reader(db).study("race")
    assert (study.state, study.runs, study.driver_pid) == ("finished", 1, None)  # one run, and it ended cleanly
    trials = Reader(db).trials("race")
    assert len(trials) == 4 and len({t.key for t in trials}) == 4
    assert all(t.state == "completed" and t.attempts == 1 for t in trials), [(t.state, t.attempts) for t in trials]
    ot = optuna_trials(db, "race")
    assert sorted(o.state.name for o in ot) == ["COMPLETE"] * 4  # no Optuna trial failed by a second driver


@pytest.mark.parametrize("gap_s", [0.0, 0.3, 1.0, 3.0])
def test_two_runs_of_a_new_study_started_close_together_one_runs_the_other_is_refused(tmp_path, ray_session,
                                                                                     gap_s):
    db = f"sqlite:///{tmp_path}/r.db"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    held = _HeldCpus()
    procs: list[subprocess.Popen] = []
    try:
        a = _start(tmp_path, "a", str(spec), db, ray_session.address)
        procs.append(a[0])
        time.sleep(gap_s)
        b = _start(tmp_path, "b", str(spec), db, ray_session.address)
        procs.append(b[0])
        loser = _first_exit(procs, 180)
        (lp, lout, lerr), (wp, wout, werr) = (a, b) if loser is a[0] else (b, a)
        assert wp.poll() is None, werr.read_text()  # held: it cannot have trained, let alone finished
        line = _one_line(lp.returncode, lout.read_text(), lerr.read_text())
        assert f"study 'race' is being run right now by process {wp.pid} on this host" in line
        held.release()
        assert wp.wait(timeout=300) == 0, wout.read_text() + werr.read_text()
    finally:
        held.release()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    _check_trained_once(db)


def test_a_second_run_while_the_first_trains_is_refused_and_writes_nothing(tmp_path, ray_session):
    db_path = tmp_path / "r.db"
    db = f"sqlite:///{db_path}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    held = _HeldCpus()
    first = None
    try:
        first, out, err = _start(tmp_path, "a", str(spec), db, ray_session.address)
        deadline = time.monotonic() + 180
        while _running(db) < 1:  # the first has started its trial, which waits for a CPU
            assert first.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "the first driver did not start its trial"
            time.sleep(0.2)
        before = dump(db_path)
        r = _run("run", str(spec), "--db", db, "--address", ray_session.address, cwd=tmp_path)
        assert f"is being run right now by process {first.pid} on this host" in _one_line(r.returncode, r.stdout,
                                                                                           r.stderr)
        assert dump(db_path) == before
        held.release()
        assert first.wait(timeout=300) == 0, out.read_text() + err.read_text()
    finally:
        held.release()
        if first is not None and first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    _check_trained_once(db)


# ---------------------------------------------------------------------------------------------------------------
# the claim itself (in process): stale claims, release, and the transaction on SQLite and PostgreSQL


def _parsed():
    from scalesearch.spec import parse_spec

    return parse_spec(SPEC, "spec.yaml")


def test_a_claim_whose_process_is_gone_is_taken_over_and_a_live_one_is_not(tmp_path):
    from scalesearch.search.study import prepare_study

    db = f"sqlite:///{tmp_path}/r.db"
    spec = _parsed()
    with Store(db) as store:
        store.create_study(name="race", spec_text=SPEC, spec_canonical="x", spec_hash="h", seed=0, sampler="grid",
                           objectives=[["val_acc", "max"]], repeats=1, state="running", runs=1)
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        with Store(db) as store:
            store.update_study("race", driver_host=socket.gethostname(), driver_pid=live.pid)
        before = dump(tmp_path / "r.db")
        with Store(db) as store, pytest.raises(ConflictError, match=f"being run right now by process {live.pid}"):
            prepare_study(store, spec, spec_text=SPEC, spec_file="spec.yaml")
        assert dump(tmp_path / "r.db") == before
        with Store(db) as store:  # a driver killed on this host: its claim is taken over, its run's times kept
            store.update_study("race", driver_pid=gone.pid)
            was = store.study("race")
            rec = prepare_study(store, spec, spec_text=SPEC, spec_file="spec.yaml")
        assert (rec.driver_pid, rec.state, rec.runs, rec.updated) == (os.getpid(), "running", 1, was.updated)
    finally:
        live.kill()
        live.wait()


def test_a_new_study_is_created_claimed_and_released_when_its_run_never_starts(tmp_path):
    from scalesearch.search.study import prepare_study, release_study

    db = f"sqlite:///{tmp_path}/r.db"
    with Store(db) as store:
        rec = prepare_study(store, _parsed(), spec_text=SPEC, spec_file="spec.yaml")
        assert (rec.state, rec.driver_host, rec.driver_pid, rec.runs) == ("running", socket.gethostname(),
                                                                         os.getpid(), 0)
        release_study(store, "race")
        rec = store.study("race")
        assert (rec.state, rec.message, rec.driver_pid) == ("interrupted", "created; not started yet", None)


def _race_claims(url: str, n: int = 6) -> list:
    """`n` threads, each with its own Store (its own connections), claim the same new study at once as drivers
    with different PIDs; a driver refuses any study another PID holds."""
    with Store(url):
        pass  # the tables exist before the race (creating them is not what is tested)
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def claim(i: int) -> None:
        def vet(rec):
            if rec.driver_pid not in (None, 1000 + i):
                raise ConflictError(f"held by {rec.driver_pid}")
            return True

        with Store(url) as store:
            barrier.wait()
            try:
                results[i] = store.claim_study("race", host="h", pid=1000 + i, vet=vet,
                                               fields={"spec_text": SPEC, "spec_canonical": "x", "spec_hash": "h",
                                                       "seed": 0, "sampler": "grid",
                                                       "objectives": [["val_acc", "max"]], "repeats": 1})
            except ConflictError as e:
                results[i] = e

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _check_one_claim(url: str, results: list) -> None:
    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1 and won[0][1] is True, results  # one created it; every other driver was refused
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, tuple)), results
    rec = Reader(url).study("race")
    assert rec.driver_pid == won[0][0].driver_pid and [s.name for s in Reader(url).studies()] == ["race"]


def test_the_claim_is_one_transaction_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _check_one_claim(url, _race_claims(url))


def test_the_claim_is_one_transaction_on_postgresql(postgres):
    url = postgres.create_database("scalesearch_claim")
    _check_one_claim(url, _race_claims(url))


def test_drivers_opening_optuna_on_a_new_database_at_once_do_not_trip_on_its_table_creation(tmp_path):
    """Optuna creates its tables without a transaction around check and create: before the retry in
    `open_optuna_storage`, two drivers (of different studies) starting on a new database at once failed in 9 of
    10 tries here with "table ... already exists" (the traceback of the race test's gap 0 before the fix)."""
    for rep in range(5):
        errors = _open_optuna_at_once(f"sqlite:///{tmp_path}/o{rep}.db", 4)
        assert not errors, errors


def _open_optuna_at_once(url: str, n: int) -> list[str]:
    from scalesearch.search.study import open_optuna_storage

    barrier = threading.Barrier(n)
    errors: list[str] = []

    def open_it() -> None:
        barrier.wait()
        try:
            open_optuna_storage(url).engine.dispose()
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(f"{type(e).__name__}: {e}"[:300])

    threads = [threading.Thread(target=open_it) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


# ---------------------------------------------------------------------------------------------------------------
# what a study records of the machine


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the GPU driver check reads Linux paths")
@pytest.mark.parametrize("driver", [False, True], ids=["no-gpu-driver", "gpu-driver"])
def test_the_driver_imports_torch_for_gpu_names_only_where_a_gpu_driver_is_loaded(tmp_path, driver):
    """A search's driver needs torch only to name GPUs: without a GPU driver it records the machine (and torch's
    version, from the package metadata) without importing torch."""
    marker = tmp_path / "nvidia"
    if driver:
        marker.mkdir()
    code = ("import sys; from scalesearch.search import study; "
            f"study.GPU_DRIVER_PATHS = ({str(marker)!r},); versions, hardware = study.provenance(); "
            "print('torch' in sys.modules, bool(versions['torch']), hardware['cpus'] > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(driver), "True", "True"]
