"""scalesearch.store: schema, the writer, frozen records, read-only readers, SQLite settings and permissions."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time

import pytest

from scalesearch.store import SCHEMA_VERSION, Reader, Store

STUDY = {"spec_text": "study: s", "spec_canonical": "study: s", "spec_hash": "h", "seed": 0, "sampler": "grid",
         "objectives": [["val_acc", "max"]], "repeats": 1}


def _fields(key, **kw):
    return {"key": key, "config_key": "c" + key, "parameters": {"n": 1}, "values": {"n": 1, "d": 2}, "repeat": 0,
            **kw}


@pytest.fixture
def url(tmp_path):
    return "sqlite:///" + str(tmp_path / "res" / "s.db")


def test_new_database_is_owner_only_and_in_wal_mode(tmp_path, url):
    store = Store(url)
    store.create_study(name="s", **STUDY)
    folder, db = tmp_path / "res", tmp_path / "res" / "s.db"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in ("s.db-wal", "s.db-shm"):
        if (folder / extra).exists():
            assert stat.S_IMODE((folder / extra).stat().st_mode) == 0o600
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM scalesearch_schema").fetchall() == [(SCHEMA_VERSION,)]
    con.close()


def test_trial_lifecycle_and_frozen_records(url):
    store = Store(url)
    store.create_study(name="s", **STUDY)
    rec = store.queue_trial("s", _fields("k1"))
    assert (rec.number, rec.state) == (0, "queued")
    assert store.start_trial("s", "k1").state == "running"
    store.add_epoch("s", "k1", {"epoch": 1, "val_acc": 0.5, "train_loss": 1.0})
    store.add_epoch("s", "k1", {"epoch": 1, "val_acc": 0.9})  # the same epoch again: ignored
    reader = Reader(url)
    t = reader.trials("s")[0]
    assert (t.state, t.val_acc, t.epochs_done) == ("running", 0.5, 1)
    store.finish_trial("s", "k1", "completed", epochs=[{"epoch": 2, "val_acc": 0.7}], metrics={"steps": 4})
    t = reader.trials("s")[0]
    assert (t.state, t.val_acc, t.best_val_acc, t.epochs_done, t.attempts) == ("completed", 0.7, 0.7, 2, 1)
    assert [e.epoch for e in reader.epochs("s")] == [1, 2] and reader.epochs("s", 0)[0].train_loss == 1.0
    assert reader.epoch_count("s") == 2
    with pytest.raises(TypeError):
        t.parameters["n"] = 2  # records are frozen, mappings inside are read-only
    with pytest.raises(AttributeError):
        t.state = "failed"  # type: ignore[misc]
    assert t.to_dict()["metrics"] == {"steps": 4}
    # a rerun of the same key reuses the row, clears its epochs and counts one more attempt
    store.queue_trial("s", _fields("k1"))
    store.start_trial("s", "k1")
    t = reader.trials("s")[0]
    assert (t.number, t.state, t.epochs_done, t.val_acc, t.attempts) == (0, "running", 0, None, 2)
    assert reader.epochs("s") == [] and reader.epoch_count("s") == 0
    assert store.interrupt_running("s") == 1 and reader.counts("s") == {"interrupted": 1}
    r1 = store.add_rejected("s", _fields("k2", rejected_by=["macs <= 10"]))
    r2 = store.add_rejected("s", _fields("k2", rejected_by=["macs <= 10"]))
    assert r1.number == r2.number == 1 and r1.rejected_by == ("macs <= 10",)
    study, trials = reader.snapshot("s")
    assert study.name == "s" and [x.number for x in trials] == [0, 1]


def test_bad_databases_are_one_line_errors_and_stay_unchanged(tmp_path, url):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, just text\n" * 40)
    before = junk.read_bytes()
    for cls in (Store, Reader):
        with pytest.raises(ValueError, match="not a usable database") as e:
            cls(str(junk))
        assert "\n" not in str(e.value)
    assert junk.read_bytes() == before
    with pytest.raises(FileNotFoundError):
        Reader(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()
    Store(url).create_study(name="s", **STUDY)
    con = sqlite3.connect(url[len("sqlite:///"):])
    con.execute("UPDATE scalesearch_schema SET version = 999")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="schema version 999"):
        Reader(url)
    con = sqlite3.connect(url[len("sqlite:///"):])
    con.execute(f"UPDATE scalesearch_schema SET version = {SCHEMA_VERSION}")
    con.commit()
    con.close()
    with pytest.raises(LookupError, match="no study 'nope'.*studies there: s"):
        Reader(url).study("nope")


def test_reader_never_blocks_the_writer(url):
    """A reader holding long read transactions (WAL snapshots) while the writer commits: no 'database is locked'."""
    store = Store(url)
    store.create_study(name="s", **STUDY)
    reader = Reader(url)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                with reader._sessions.begin() as s:  # one snapshot held for 50 ms
                    reader.counts("s")
                    s.execute(__import__("sqlalchemy").text("SELECT count(*) FROM scalesearch_trials")).all()
                    time.sleep(0.05)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=read)
    th.start()
    t0 = time.perf_counter()
    try:
        for i in range(60):
            store.queue_trial("s", _fields(f"k{i}"))
            store.start_trial("s", f"k{i}")
            store.finish_trial("s", f"k{i}", "completed", epochs=[{"epoch": 1, "val_acc": 0.1}])
    finally:
        stop.set()
        th.join()
    assert not errors, errors
    assert Reader(url).counts("s") == {"completed": 60}
    assert time.perf_counter() - t0 < 30


def test_delete_study_command_removes_one_study_whole_and_nothing_else(tmp_path):
    """`scalesearch delete STUDY`: without --yes it changes nothing; with it, the study, its trials, their epochs
    and its Optuna study go in one step, and the other study is untouched (no orphan rows)."""
    import subprocess
    import sys

    import optuna
    from support.results_db import write_study

    path = tmp_path / "d.db"
    url = f"sqlite:///{path}"
    write_study(url, "alpha", repeats=2)
    write_study(url, "beta", repeats=1, seed=1, fail=None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("alpha", "beta"):
        optuna.create_study(study_name=name, storage=url).enqueue_trial({"x": 1})

    def rows() -> dict[str, tuple[int, int]]:
        r = Reader(url)
        try:
            return {s.name: (sum(r.counts(s.name).values()), len(r.epochs(s.name))) for s in r.studies()}
        finally:
            r.close()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scalesearch", "delete", *args], capture_output=True, text=True,
                              timeout=120, check=False)

    before = rows()
    n_trials, n_epochs = before["alpha"]
    assert n_trials > 0 and n_epochs > 0
    r = cli("alpha", "--db", url)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert (f"would delete study 'alpha' with its {n_trials} trials and {n_epochs} epochs, and its Optuna study"
            in r.stderr and "pass --yes" in r.stderr)
    assert rows() == before and sorted(optuna.get_all_study_names(url)) == ["alpha", "beta"]
    r = cli("gamma", "--db", url, "--yes")
    assert r.returncode == 2 and "no study 'gamma'" in r.stderr and rows() == before
    missing = tmp_path / "none.db"
    r = cli("alpha", "--db", f"sqlite:///{missing}", "--yes")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and not missing.exists()

    r = cli("alpha", "--db", url, "--yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"deleted study 'alpha' with its {n_trials} trials and {n_epochs} epochs")
    assert rows() == {"beta": before["beta"]}
    assert optuna.get_all_study_names(url) == ["beta"]
    with sqlite3.connect(path) as con:  # no orphans: every epoch belongs to a trial, every trial to a study
        assert con.execute("select count(*) from scalesearch_epochs where trial_id not in "
                           "(select id from scalesearch_trials)").fetchone() == (0,)
        assert con.execute("select count(*) from scalesearch_trials where study_id not in "
                           "(select id from scalesearch_studies)").fetchone() == (0,)


def test_delete_refuses_a_study_whose_driver_runs(url):
    """A study marked running by a live driver on this host (here: this test's own process) is not deleted."""
    import os
    import socket
    import subprocess
    import sys

    store = Store(url)
    store.create_study(name="live", driver_host=socket.gethostname(), driver_pid=os.getpid(), **STUDY)
    store.close()
    r = subprocess.run([sys.executable, "-m", "scalesearch", "delete", "live", "--db", url, "--yes"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and f"pid {os.getpid()}) is still running" in r.stderr
    assert Reader(url).find_study("live") is not None


def test_opening_a_database_another_connection_is_writing_waits_instead_of_failing(tmp_path):
    """Switching a new database to WAL needs it to itself, and SQLite refuses at once ("database is locked", no
    busy timeout: its deadlock avoidance) while another connection holds its write lock: the store waits, as two
    drivers opening one new database together need (seen as a failed start of the test of two runs of one new
    study on a loaded machine)."""
    import sqlite3
    import threading

    path = tmp_path / "r.db"
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("CREATE TABLE t (x)")
    reader.execute("BEGIN IMMEDIATE")  # a write lock on the rollback-journal file: SQLite's deadlock avoidance
    reader.execute("INSERT INTO t VALUES (1)")  # then answers the switch "locked" at once
    released = threading.Event()

    def release() -> None:
        released.wait(30)
        reader.execute("COMMIT")

    threading.Thread(target=release, daemon=True).start()
    threading.Timer(0.3, released.set).start()
    store = Store(f"sqlite:///{path}")  # waits for the reader, then switches and creates its tables
    try:
        assert released.is_set()
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        store.close()
        reader.close()
