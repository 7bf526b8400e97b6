"""Databases written by the previous releases (schema version 1, and 2, which added the class names of each study)
under this one (schema 3, which stores each candidate's training-free scores): the read-only commands ask for
`scalesearch upgrade` in one line and change nothing; the upgrade keeps every row; `resume` upgrades it itself and
continues a study killed under the previous release without retraining a finished trial, and the trial it does
rerun gets its old key and result back.

tests/data/schema_v1.sql is `sqlite3 .dump` of a real run of the release of schema 1 (commit 1023123), and
schema_v2.sql (Python's `iterdump`) of one of the release of schema 2 (commit c0bc407), each `scalesearch run` of
the same 2-configuration x 2-repeat grid on synthetic data."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from support.search import cli, dump

import scalesearch
from scalesearch.store import SCHEMA_VERSION, Reader, Store

V1 = Path(__file__).parent / "data" / "schema_v1.sql"
V2 = Path(__file__).parent / "data" / "schema_v2.sql"
STUDY = "made_by_v1"
OLD = {1: (V1, "made_by_v1"), 2: (V2, "made_by_v2")}
STEP_LINES = {1: "schema 1 -> 2: add scalesearch_studies.classes", 2: "schema 2 -> 3: add scalesearch_trials.scores"}


def v1_database(path: Path, *, killed: bool = False, version: int = 1) -> str:
    con = sqlite3.connect(path)
    try:
        con.executescript(OLD[version][0].read_text())
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


@pytest.mark.parametrize("version", [1, 2])
def test_upgrade_keeps_every_row_and_a_second_upgrade_does_nothing(tmp_path, version):
    path = tmp_path / "old.db"
    db = v1_database(path, version=version)
    study = OLD[version][1]
    con = sqlite3.connect(path)
    tables = ("scalesearch_studies", "scalesearch_trials", "scalesearch_epochs", "trials", "trial_values")
    columns = {t: [f'"{r[1]}"' for r in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    rows = {t: con.execute(f"SELECT {', '.join(columns[t])} FROM {t} ORDER BY 1").fetchall() for t in tables}
    con.close()
    r = cli("upgrade", "--db", db)
    assert r.returncode == 0, r.stderr
    assert [line for line in STEP_LINES.values() if line in r.stdout] == [STEP_LINES[v] for v in range(version, 3)]
    assert _version(path) == SCHEMA_VERSION == 3
    con = sqlite3.connect(path)  # every row as it was, in the columns it had; the added ones NULL
    assert {t: con.execute(f"SELECT {', '.join(columns[t])} FROM {t} ORDER BY 1").fetchall() for t in rows} == rows
    assert con.execute("SELECT count(*) FROM scalesearch_trials WHERE scores IS NULL").fetchone()[0] == 4
    con.close()
    with Reader(db) as reader:
        assert len(reader.trials(study)) == 4
        assert all(t.scores is None for t in reader.trials(study))
        if version == 1:
            assert reader.study(study).classes is None
    again = cli("upgrade", "--db", db)
    assert again.returncode == 0 and "already at schema version 3; nothing to do" in again.stdout
    missing = cli("upgrade", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no database" in missing.stderr and not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("version", [1, 2])
def test_resume_upgrades_and_continues_a_study_killed_under_the_previous_release(tmp_path, ray_session, version):
    study = OLD[version][1]
    ref_db = v1_database(tmp_path / "ref.db", version=version)
    with Store(ref_db):  # upgraded as it was, so this release's Reader reads it
        pass
    with Reader(ref_db) as reader:
        reference = {t.number: t for t in reader.trials(study)}
    path = tmp_path / "old.db"
    db = v1_database(path, killed=True, version=version)
    # resumed in this process (scalesearch.resume, what the command runs, upgrades the database as the command does)
    assert scalesearch.resume(study, db=db, address=ray_session.address, progress=False).state == "finished"
    assert _version(path) == 3
    with Reader(db) as reader:
        trials = {t.number: t for t in reader.trials(study)}
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
