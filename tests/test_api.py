"""The public Python API: the README's example as written, specs as mappings, the error root, context managers."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scalesearch
from scalesearch.errors import ScalesearchError

REPO = Path(__file__).resolve().parent.parent


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README's Python API section has no python block"
    return blocks[0]


def test_the_readmes_python_api_example_runs_as_written(tmp_path, monkeypatch, ray_session):
    monkeypatch.chdir(tmp_path)  # the example writes results/api-demo.db relative to the working directory
    (tmp_path / "results").mkdir()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = compile(_readme_example(), "README.md", "exec")
        exec(code, {"__name__": "readme_example"})  # noqa: S102 - runs the README's example as written
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"finished 2 trials; best val_acc 0\.\d+", lines[0]), lines
    assert "True" in lines, lines  # the analytic count of the rebuilt network equals the stored MACs
    assert lines[-1].startswith("<mapping>: search.sampler: "), lines[-1]  # the field path, no line number
    # what the example stored, read back
    with scalesearch.Reader(f"sqlite:///{tmp_path}/results/api-demo.db") as reader:
        trials = reader.trials("api-demo")
        assert sorted(t.parameters["w"] for t in trials) == [4, 8]
        assert all(t.state == "completed" and t.epochs_done == 2 for t in trials)
        assert reader.study("api-demo").state == "finished"


def test_run_on_a_mapping_returns_the_outcome_and_a_second_run_trains_nothing(tmp_path, ray_session):
    spec = {"study": "map", "seed": 1,
            "dataset": {"name": "synthetic", "num_classes": 4, "in_channels": 1, "image_size": 8,
                        "num_train": 300, "num_test": 50, "val_size": 100},
            "train": {"epochs": 1, "batch_size": 50, "warmup_epochs": 0},
            "architecture": {"family": "cifar_resnet", "args": {"depth": "6 * n + 2", "width": 4}},
            "parameters": {"n": {"grid": [1, 2, 3]}},
            "constraints": ["macs <= 2.5 * base_macs"], "baseline": {"n": 1},
            "search": {"sampler": "grid"}}
    db = f"sqlite:///{tmp_path}/r.db"
    out = scalesearch.run(spec, db=db, progress=False)
    assert out.state == "finished" and out.study == "map"
    assert (out.counts.completed, out.counts.rejected) == (2, 1)
    stored = {t.number: t for t in scalesearch.Reader(db).trials("map")}
    assert out.best is not None and out.best.number in stored
    assert out.best_val_acc == pytest.approx(max(t.val_acc for t in stored.values() if t.val_acc is not None))
    assert [t.macs for t in out.front] == sorted(t.macs for t in out.front)
    again = scalesearch.run(spec, db=db, progress=False)
    assert again.state == "finished" and again.message.startswith("already finished")
    assert again.counts.completed == 2
    assert {t.number: (t.attempts, t.finished) for t in scalesearch.Reader(db).trials("map")} == \
        {n: (t.attempts, t.finished) for n, t in stored.items()}
    renamed = scalesearch.run(scalesearch.load_spec(spec), db=db, study="map-2", progress=False)
    assert renamed.study == "map-2" and renamed.counts.completed == 2


def test_a_run_whose_cluster_cannot_be_joined_releases_its_new_study(tmp_path, monkeypatch):
    """`connect` failing after the study was claimed: the claim is dropped, so that another run may take it."""
    from scalesearch.errors import ClusterError
    from scalesearch.search import cluster

    def refuse(*args, **kwargs):
        raise ClusterError("no Ray here")

    monkeypatch.setattr(cluster, "connect", refuse)
    spec = {"study": "unjoined", "dataset": {"name": "synthetic"},
            "architecture": {"family": "cifar_resnet", "args": {"depth": 8, "width": 4}},
            "search": {"sampler": "random", "trials": 1}}
    db = f"sqlite:///{tmp_path}/r.db"
    with pytest.raises(ClusterError, match="no Ray here"):
        scalesearch.run(spec, db=db, progress=False)
    with scalesearch.Reader(db) as reader:
        rec = reader.study("unjoined")
    assert (rec.state, rec.message, rec.driver_pid, rec.runs) == ("interrupted", "created; not started yet", None, 0)


def test_load_spec_takes_a_path_a_mapping_or_a_spec_and_errors_name_the_field(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\n"
                    "search: {sampler: random, trials: 3}\n")
    from_file = scalesearch.load_spec(path)
    from_str = scalesearch.load_spec(str(path))
    from_map = scalesearch.load_spec({"study": "x", "dataset": {"name": "synthetic"},
                                      "architecture": {"family": "cifar_resnet"},
                                      "search": {"sampler": "random", "trials": 3}})
    assert from_file == from_str == from_map and scalesearch.load_spec(from_map) is from_map
    with pytest.raises(scalesearch.SpecError) as e:
        scalesearch.load_spec({"study": "x", "dataset": {"name": "synthetic"},
                               "architecture": {"family": "cifar_resnet", "args": {"depht": 8}},
                               "search": {"sampler": "random", "trials": 3}})
    assert str(e.value).startswith("<mapping>: architecture.args.depht: ") and "\n" not in str(e.value)
    path.write_text("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet, args: {depht: 8}}\n"
                    "search: {sampler: random, trials: 3}\n")
    with pytest.raises(scalesearch.SpecError, match=rf"^{re.escape(str(path))}:3:\d+: architecture.args.depht: "):
        scalesearch.load_spec(path)
    with pytest.raises(scalesearch.InputError, match="got int"):
        scalesearch.load_spec(3)
    with pytest.raises(scalesearch.InputError) as e:  # YAML text is not a path: one line saying what to do
        scalesearch.load_spec(path.read_text())
    assert "is a file path, and this one holds 4 lines of text" in str(e.value) and "\n" not in str(e.value)


def test_create_model_and_count_take_a_preset_a_netspec_its_dict_or_a_file(tmp_path):
    from scalesearch.nets import preset

    ns = preset("cifar_resnet20")
    (tmp_path / "n.json").write_text(ns.to_json())
    counts = {scalesearch.count(src).params for src in ("cifar_resnet20", ns, ns.to_dict(), tmp_path / "n.json")}
    model = scalesearch.create_model(ns.to_dict())
    assert counts == {sum(p.numel() for p in model.parameters())}
    assert scalesearch.count("cifar_resnet20", num_classes=100).params > scalesearch.count("cifar_resnet20").params
    with pytest.raises(ScalesearchError):
        scalesearch.create_model("no_such_preset")


def test_every_user_error_class_has_the_one_root_and_keeps_its_builtin_base():
    from scalesearch.data.loader import DatasetNotFoundError
    from scalesearch.spec import InvalidArchitecture, SpecError
    from scalesearch.spec.expr import ExprError
    from scalesearch.store import StoreWriteError
    from scalesearch.store.writer import DatabaseFileLost
    from scalesearch.train.loop import DivergenceError
    from scalesearch.util.checks import FieldError

    for cls, base in [(SpecError, ValueError), (InvalidArchitecture, ValueError), (FieldError, ValueError),
                      (ExprError, ValueError), (DatasetNotFoundError, FileNotFoundError),
                      (StoreWriteError, OSError), (DatabaseFileLost, OSError), (DivergenceError, RuntimeError),
                      (scalesearch.InputError, ValueError), (scalesearch.NotFoundError, LookupError),
                      (scalesearch.ConflictError, ValueError), (scalesearch.ClusterError, ConnectionError)]:
        assert issubclass(cls, ScalesearchError) and issubclass(cls, base), cls
    assert scalesearch.SpecError is SpecError and scalesearch.FieldError is FieldError


def test_store_and_reader_close_their_connections_on_leaving_a_with_block(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    with scalesearch.Store(url) as store:
        store.create_study(name="s", spec_text="study: s", spec_canonical="study: s", spec_hash="h", seed=0,
                           sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
        engine = store.engine
        assert engine.pool.checkedin() >= 1  # the pool holds the connection it used
    assert engine.pool.checkedin() == 0  # disposed: a fresh, empty pool
    with scalesearch.Reader(url) as reader:
        assert [s.name for s in reader.studies()] == ["s"]
        engine = reader.engine
        assert engine.pool.checkedin() >= 1
    assert engine.pool.checkedin() == 0


def test_every_public_name_resolves_and_import_scalesearch_stays_light():
    # __all__ is written out as a literal: it must name __version__ and the lazy-export table, each once
    assert len(scalesearch.__all__) == len(set(scalesearch.__all__))
    assert set(scalesearch.__all__) == {"__version__", *scalesearch._EXPORTS}
    for name in scalesearch.__all__:
        assert getattr(scalesearch, name) is not None, name
    code = ("import sys, scalesearch; scalesearch.load_spec; scalesearch.count('resnet50'); "
            "print(sorted(m for m in ('torch', 'pandas', 'ray', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    assert importlib.import_module("scalesearch").__version__


def test_no_user_error_is_raised_as_a_bare_builtin():
    """Every ValueError/OSError/LookupError the package raises is one of the root's classes, so `except
    scalesearch.ScalesearchError` catches every error a user can cause (TypeError, KeyError and RuntimeError stay
    for programming errors)."""
    import ast

    bare = ("ValueError", "OSError", "LookupError", "FileNotFoundError", "IsADirectoryError", "NotADirectoryError",
            "PermissionError", "ConnectionError", "TimeoutError")
    found = []
    for path in (REPO / "scalesearch").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            exc = node.exc if isinstance(node, ast.Raise) else None
            if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and exc.func.id in bare:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {exc.func.id}")
    assert not found
