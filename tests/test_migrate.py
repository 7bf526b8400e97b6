"""A database written by the previous release (schema version 1) under this one (schema 2, which stores the class
names with each study): the read-only commands ask for `scalesearch upgrade` in one line and change nothing; the
upgrade keeps every row; `resume` upgrades it itself and continues a study killed under the previous release
without retraining a finished trial, and the trial it does rerun gets its old key and result back.

tests/data/schema_v1.sql is `sqlite3 .dump` of a real run of the previous release (commit 1023123, `scalesearch run`
of a 2-configuration x 2-repeat grid on synthetic data)."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from _search_fixtures import cli, dump

from scalesearch.store import SCHEMA_VERSION, Reader, Store

V1 = Path(__file__).parent / "data" / "schema_v1.sql"
STUDY = "made_by_v1"


def v1_database(path: Path, *, killed: bool = False) -> str:
    con = sqlite3.connect(path)
    try:
        con.executescript(V1.read_text())
        if killed:  # what a SIGKILL during trial #3 (w = 6, repeat 1) leaves: it running, its Optuna trial too
            con.executescript(f"""
                UPDATE scalesearch_trials SET state = 'running', val_acc = NULL, best_val_acc = NULL,
                    finished = NULL, epochs_done = 0, metrics = NULL WHERE number = 3;
                DELETE FROM scalesearch_epochs WHERE trial_id = (SELECT id FROM scalesearch_trials WHERE number = 3);
                UPDATE scalesearch_studies SET state = 'running', finished = NULL,
                    driver_host = '{socket.gethostname()}', driver_pid = 2147483646;
                UPDATE trials SET state = 'RUNNING', datetime_complete = NULL WHERE number = 1;
                DELETE FROM trial_values WHERE trial_id = (SELECT trial_id FROM trials WHERE number = 1);
                DELETE FROM trial_user_attributes WHERE trial_id = (SELECT trial_id FROM trials WHERE number = 1);
            """)
        con.commit()
    finally:
        con.close()
    return f"sqlite:///{path}"


def _version(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT max(version) FROM scalesearch_schema").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("command", [("query", STUDY), ("status", STUDY), ("studies",), ("compare", STUDY, "--a",
                                     "w == 4", "--b", "w == 6")])
def test_a_reader_asks_for_the_upgrade_in_one_line_and_changes_nothing(tmp_path, command):
    path = tmp_path / "v1.db"
    db = v1_database(path)
    before = dump(path)
    r = cli(*command, "--db", db)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "scalesearch upgrade --db" in r.stderr and "schema version 1" in r.stderr
    assert dump(path) == before and _version(path) == 1


def test_upgrade_keeps_every_row_and_a_second_upgrade_does_nothing(tmp_path):
    path = tmp_path / "v1.db"
    db = v1_database(path)
    con = sqlite3.connect(path)
    rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("scalesearch_trials", "scalesearch_epochs", "trials", "trial_values")}
    con.close()
    r = cli("upgrade", "--db", db)
    assert r.returncode == 0 and "schema 1 -> 2: add scalesearch_studies.classes" in r.stdout, r.stderr
    assert _version(path) == SCHEMA_VERSION == 2
    con = sqlite3.connect(path)
    assert {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in rows} == rows
    con.close()
    with Reader(db) as reader:
        assert reader.study(STUDY).classes is None and len(reader.trials(STUDY)) == 4
    again = cli("upgrade", "--db", db)
    assert again.returncode == 0 and "already at schema version 2; nothing to do" in again.stdout
    missing = cli("upgrade", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no database" in missing.stderr and not (tmp_path / "none.db").exists()


def test_resume_upgrades_and_continues_a_study_killed_under_the_previous_release(tmp_path, ray_session):
    ref_db = v1_database(tmp_path / "ref.db")
    with Store(ref_db):  # upgraded as it was, so this release's Reader reads it
        pass
    with Reader(ref_db) as reader:
        reference = {t.number: t for t in reader.trials(STUDY)}
    path = tmp_path / "v1.db"
    db = v1_database(path, killed=True)
    r = cli("resume", STUDY, "--db", db, "--address", ray_session.address)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _version(path) == 2
    with Reader(db) as reader:
        trials = {t.number: t for t in reader.trials(STUDY)}
    assert set(trials) == {0, 1, 2, 3} and all(t.state == "completed" for t in trials.values())
    for n in (0, 1, 2):  # finished under the previous release: kept as they were, not trained again
        assert (trials[n].attempts, trials[n].finished, trials[n].val_acc) == \
            (reference[n].attempts, reference[n].finished, reference[n].val_acc)
    # the killed trial ran again under this release: the same job key, and (CPU, fixed seeds) the same result
    assert trials[3].attempts == reference[3].attempts + 1
    assert (trials[3].key, trials[3].val_acc) == (reference[3].key, reference[3].val_acc)


def test_a_dump_of_the_previous_release_loads(tmp_path):
    # results/resnext_control_pilot/study.jsonl.gz was dumped by the previous release (schema 1)
    dumped = Path(__file__).resolve().parents[1] / "results" / "resnext_control_pilot" / "study.jsonl.gz"
    db = f"sqlite:///{tmp_path / 'r.db'}"
    r = cli("load", str(dumped), "--db", db)
    assert r.returncode == 0 and "(4 trials)" in r.stdout, r.stderr
    with Reader(db) as reader:
        study = reader.study("resnext_control_pilot")
        assert study.classes is None and [t.state for t in reader.trials(study.name)] == ["completed"] * 4
