"""`scalesearch dump` and `load`: a real study moved SQLite -> PostgreSQL -> SQLite reads
the same (query CSV and Optuna trials), loading over an existing study is refused with nothing written, and a study
dumped while it ran loads as interrupted and resumes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import optuna
import pytest
from support.search import REPO, cli, dump, run_study_inprocess

import scalesearch

SPEC = """study: moved
seed: 3
dataset: {name: synthetic, num_classes: 3, in_channels: 1, image_size: 8, num_train: 96, num_test: 16, val_size: 32}
train: {epochs: 2, batch_size: 32, warmup_epochs: 0}
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters: {w: {grid: [4, 8, 12]}}
search: {sampler: grid, resources: {cpus: 1, gpus: 0}}
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory, ray_session):
    folder = tmp_path_factory.mktemp("transfer")
    db = f"sqlite:///{folder / 'a.db'}"
    run_study_inprocess(SPEC, db, ray_session)
    return db, folder


def csv_of(db: str, study: str = "moved") -> str:
    r = cli("query", study, "--format", "csv", "--db", db)
    assert r.returncode == 0, r.stderr
    return r.stdout


def optuna_trials(db: str, study: str = "moved") -> list[tuple]:
    s = optuna.load_study(study_name=study, storage=db)
    return [(t.number, t.state, t.values, t.params, t.distributions, t.user_attrs, t.system_attrs,
             t.intermediate_values, t.datetime_start, t.datetime_complete) for t in s.get_trials()]


def test_a_study_moved_to_postgresql_and_back_reads_the_same(source, postgres, tmp_path):
    db, _ = source
    first = tmp_path / "s.jsonl.gz"
    r = cli("dump", "moved", "--db", db, "--out", str(first))
    assert r.returncode == 0 and "3 trials" in r.stdout, r.stderr
    pg = postgres.create_database("transfer")
    assert cli("load", str(first), "--db", pg).returncode == 0
    assert csv_of(pg) == csv_of(db)
    assert optuna_trials(pg) == optuna_trials(db)
    second = tmp_path / "back.jsonl.gz"
    assert cli("dump", "moved", "--db", pg, "--out", str(second)).returncode == 0
    back = f"sqlite:///{tmp_path / 'back.db'}"
    r = cli("load", str(second), "--db", back)
    assert r.returncode == 0 and "loaded study 'moved' (3 trials)" in r.stdout, r.stderr
    assert csv_of(back) == csv_of(db)
    assert optuna_trials(back) == optuna_trials(db)
    assert cli("status", "moved", "--db", back).returncode == 0


def test_loading_over_an_existing_study_is_refused_and_writes_nothing(source, tmp_path):
    db, folder = source
    out = tmp_path / "s.jsonl.gz"
    assert cli("dump", "moved", "--db", db, "--out", str(out)).returncode == 0
    before = dump(folder / "a.db")
    r = cli("load", str(out), "--db", db)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "study 'moved' already exists" in r.stderr and "--as NAME" in r.stderr
    assert dump(folder / "a.db") == before
    # under a new name it loads beside the original: the same trials
    r = cli("load", str(out), "--db", db, "--as", "moved_copy")
    assert r.returncode == 0, r.stderr
    strip = lambda text: [line.split(",", 1)[1] for line in text.splitlines()[1:]]
    assert strip(csv_of(db, "moved_copy")) == strip(csv_of(db))
    assert [t[1:] for t in optuna_trials(db, "moved_copy")] == [t[1:] for t in optuna_trials(db)]
    r = cli("load", str(out), "--db", db, "--as", "moved_copy")
    assert r.returncode == 2 and "choose another --as NAME" in r.stderr


def test_bad_files_are_one_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    (tmp_path / "plain.txt").write_text("hello")
    for path, expected in ((tmp_path / "none.jsonl.gz", "no such file"),
                           (tmp_path / "plain.txt", "not a scalesearch dump")):
        r = cli("load", str(path), "--db", db)
        assert r.returncode == 2 and expected in r.stderr and r.stderr.count("\n") == 1
    r = cli("dump", "nope", "--db", db, "--out", str(tmp_path / "o.jsonl.gz"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and not (tmp_path / "o.jsonl.gz").exists()


def test_a_study_dumped_while_it_ran_loads_interrupted_and_resumes(source, tmp_path, ray_session):
    """The dump of a finished study, edited to what a dump taken mid-run holds (the study running, its last trial
    running with no result, and Optuna's trial RUNNING): it loads as interrupted and `resume` trains that trial."""
    db, _ = source
    out = tmp_path / "s.jsonl.gz"
    assert cli("dump", "moved", "--db", db, "--out", str(out)).returncode == 0
    with gzip.open(out, "rt") as f:
        lines = [json.loads(line) for line in f]
    last_trial = max(r["row"]["number"] for r in lines if r.get("table") == "trial")
    edited = []
    for r in lines:
        t = r.get("table")
        if t == "study":
            r["row"].update(state="running", finished=None)
        elif t == "trial" and r["row"]["number"] == last_trial:
            r["row"].update(state="running", val_acc=None, best_val_acc=None, finished=None, epochs_done=0,
                            metrics=None)
            ref = r["ref"]
        elif t == "epoch" and r["trial"] == ref:
            continue
        elif t == "optuna_trial" and r["number"] == max(x["number"] for x in lines if x.get("table") ==
                                                          "optuna_trial"):
            r.update(state="RUNNING", values=None, datetime_complete=None)
        edited.append(r)
    with gzip.open(out, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in edited)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    assert cli("load", str(out), "--db", target).returncode == 0
    r = cli("status", "moved", "--db", target)
    assert "moved: interrupted" in r.stdout, r.stdout
    assert scalesearch.resume("moved", db=target, address=ray_session.address, progress=False).state == "finished"
    rows = csv_of(target).splitlines()[1:]
    assert len(rows) == 3 and all(",COMPLETE," in row for row in rows)


def test_load_on_the_command_line_says_what_it_did_and_nothing_else(tmp_path):
    """The installed command (a fresh interpreter): one line on stdout, nothing on stderr (no logger line)."""
    dumped = REPO / "results" / "degradation_look1" / "study.jsonl.gz"
    r = subprocess.run([sys.executable, "-m", "scalesearch", "load", str(dumped), "--db", f"sqlite:///{tmp_path}/r.db"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == f"loaded study 'degradation_look1' (16 trials) from {dumped}\n"
