"""Own data is identified by its content, not its path: the same images at a new path are the same study and the
same trials (a resumed study trains nothing it has), and a database written before content identity still resumes
without retraining."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from support.images import write_folder
from support.search import run_study_inprocess

from scalesearch.data import own as filedata
from scalesearch.spec import format_spec, parse_spec
from scalesearch.store import Reader, Store
from scalesearch.trial.job import Job, data_config, job_for_candidate

SPEC = """study: moved
seed: 0
dataset: {{name: imagefolder, path: {path}, val_size: 12}}
train: {{epochs: 1, batch_size: 16, warmup_epochs: 0}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4}}}}
search: {{sampler: grid, resources: {{cpus: 1, gpus: 0}}}}
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(filedata.CACHE_ENV, str(tmp_path / "cache"))


def _trials(db):
    return {t.number: t for t in Reader(db).trials("moved")}


def test_content_id_ignores_path_and_times_and_sees_bytes_labels_and_classes(tmp_path):
    a = write_folder(tmp_path / "a", {"cat": 5, "dog": 5}, size=8)
    ident = filedata.content_id("imagefolder", a)
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)  # new path, new file times
    assert filedata.content_id("imagefolder", b) == ident
    (b / "dog").rename(b / "wolf")  # a class renamed: another dataset
    assert filedata.content_id("imagefolder", b) != ident
    c = tmp_path / "c"
    shutil.copytree(a, c)
    Image.fromarray(np.zeros((8, 8), np.uint8), mode="L").save(c / "cat" / "000.png")  # one image changed
    assert filedata.content_id("imagefolder", c) != ident
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.arange(4),
             x_test=np.zeros((2, 8, 8), np.uint8), y_test=np.arange(2))
    shutil.copy(tmp_path / "d.npz", tmp_path / "e.npz")
    assert filedata.content_id("npz", tmp_path / "d.npz") == filedata.content_id("npz", tmp_path / "e.npz")


def test_the_key_holds_the_content_not_the_path(tmp_path):
    a = write_folder(tmp_path / "a", {"cat": 20, "dog": 20}, size=8)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    spec_a, spec_b = parse_spec(SPEC.format(path=a), "a.yaml"), parse_spec(SPEC.format(path=b), "b.yaml")
    from scalesearch.spec import default_candidate

    ja = job_for_candidate(default_candidate(spec_a), spec_a.dataset, study_seed=0)
    jb = job_for_candidate(default_candidate(spec_b), spec_b.dataset, study_seed=0)
    assert ja.data["path"] != jb.data["path"] and ja.key == jb.key  # provenance differs, the trial is one
    Image.fromarray(np.full((8, 8), 7, np.uint8), mode="L").save(b / "dog" / "001.png")
    spec_c = parse_spec(SPEC.format(path=b), "c.yaml")
    assert job_for_candidate(default_candidate(spec_c), spec_c.dataset, study_seed=0).key != ja.key


def test_a_moved_folder_continues_its_study_training_nothing_again(tmp_path, ray_session):
    a = write_folder(tmp_path / "data" / "pets", {"cat": 20, "dog": 20}, size=8)
    db = f"sqlite:///{tmp_path / 'runs' / 'r.db'}"
    (tmp_path / "runs").mkdir()
    assert run_study_inprocess(SPEC.format(path=a), db, ray_session).state == "finished"
    before = _trials(db)
    assert [t.state for t in before.values()] == ["completed"]
    moved = tmp_path / "moved" / "pets2"
    moved.parent.mkdir()
    shutil.move(str(a), str(moved))  # the old path is gone
    out = run_study_inprocess(SPEC.format(path=moved), db, ray_session)
    after = _trials(db)
    assert out.state == "finished" and set(after) == set(before)
    t0, t1 = before[0], after[0]
    assert (t1.finished, t1.val_acc, t1.attempts) == (t0.finished, t0.val_acc, t0.attempts)  # not trained again
    assert t1.data["path"] == str(moved) and t1.data["content"] == t0.data["content"]
    assert str(moved) in Reader(db).study("moved").spec_text  # the study now runs the edited spec
    # other images at the new path: another spec, one line, nothing changed
    Image.fromarray(np.full((8, 8), 9, np.uint8), mode="L").save(moved / "cat" / "003.png")
    with pytest.raises(ValueError, match="was trained on other images"):
        run_study_inprocess(SPEC.format(path=moved), db, ray_session)
    assert _trials(db)[0].key == t1.key


def test_a_database_written_before_content_identity_resumes_without_retraining(tmp_path, ray_session):
    """A study whose trial was stored as today's release stores it (its key over the path, no content) resumes:
    the trial is rekeyed in place and nothing trains."""
    a = write_folder(tmp_path / "pets", {"cat": 20, "dog": 20}, size=8)
    text = SPEC.format(path=a)
    spec = parse_spec(text, "t.yaml")
    from scalesearch.spec import default_candidate

    cand = default_candidate(spec)
    new = job_for_candidate(cand, spec.dataset, study_seed=spec.seed, device="cpu")  # as the driver builds it
    old_data = {k: v for k, v in data_config(spec.dataset).items() if k != "content"}  # as it was stored
    old = Job(netspec=new.netspec, train=new.train, data=old_data, seed=new.seed, repeat=0)
    assert old.key != new.key
    db = f"sqlite:///{tmp_path / 'r.db'}"
    with Store(db) as store:
        store.create_study(name="moved", spec_text=text, spec_canonical=format_spec(spec), spec_hash="h", seed=0,
                           sampler="grid", objectives=[["val_acc", "max"]], repeats=1, planned=1)
        store.queue_trial("moved", {"key": old.key, "config_key": old.config_key, "parameters": {}, "values": {},
                                    "netspec": cand.netspec.to_json(), "macs": cand.macs, "params": cand.params,
                                    "train": dict(old.train), "data": dict(old.data), "seed": old.seed,
                                    "repeat": 0, "point": "baseline"})
        store.start_trial("moved", old.key)
        store.finish_trial("moved", old.key, "completed", epochs=[{"epoch": 1, "steps": 2, "val_acc": 0.625}],
                           val_acc=0.625, best_val_acc=0.625)
        store.update_study("moved", state="interrupted")
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    (t,) = _trials(db).values()
    assert t.key == new.key and t.val_acc == 0.625 and t.attempts == 1 and t.epochs_done == 1
