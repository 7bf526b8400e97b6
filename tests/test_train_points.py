"""scripts/train_points.py: a spec's baseline and points trained without Ray, Optuna or a database (what ran the
EfficientNet GPU supplement on a device image that has neither), and its CSVs read back by compare_frames."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from support.search import REPO, spec_text

BODY = """architecture:
  family: cifar_resnet
  args: {depth: "6 * n + 2", width: width}
parameters:
  n: {int: [1, 2]}
  width: {grid: [4, 8]}
baseline: {n: 1, width: 4}
points:
  wide: {n: 1, width: 8}
search:
  sampler: grid
  points_only: true
  repeats: 2
  objectives: {val_acc: max}
  resources: {cpus: 1, gpus: 0}
  max_concurrency: 2
"""

# Run the script with the engine's packages made unimportable: it must need only the core.
BLOCKED = """import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"ray", "optuna", "sqlalchemy"}:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_train_points_trains_every_point_and_repeat_without_the_engine(tmp_path):
    spec = tmp_path / "tp.yaml"
    spec.write_text(spec_text("tp", BODY))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", BLOCKED, str(REPO / "scripts" / "train_points.py"), str(spec),
                        "--out", str(out), "--device", "cpu", "--workers", "2", "--points", "baseline,wide"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    trials = pd.read_csv(out / "trials.csv")
    epochs = pd.read_csv(out / "epochs.csv")
    # seed-major numbering: baseline and wide of repeat 0, then of repeat 1
    assert trials[["number", "point", "repeat"]].values.tolist() == [[0, "baseline", 0], [1, "wide", 0],
                                                                     [2, "baseline", 1], [3, "wide", 1]]
    assert (trials["state"] == "COMPLETE").all() and trials["width"].tolist() == [4, 8, 4, 8]
    assert trials.groupby("repeat")["seed"].nunique().eq(1).all() and trials["seed"].nunique() == 2
    assert len(epochs) == 8 and epochs.groupby("number")["epoch"].apply(list).tolist() == [[1, 2]] * 4
    # the final epoch's val_acc is the trial's
    last = epochs[epochs["epoch"] == 2].set_index("number")["val_acc"]
    assert last.round(6).tolist() == trials.set_index("number")["val_acc"].round(6).tolist()

    from scalesearch.results.compare import compare_frames
    from scalesearch.spec import load_spec

    cmp = compare_frames(trials, epochs, load_spec(str(spec)), "width == 8", "width == 4", pair_by="repeat")
    assert cmp.a_trials == (1, 3) and cmp.b_trials == (0, 2) and cmp.result.n_pairs == 2
    assert {g.name for g in cmp.guards} >= {"positive control", "not converged", "failed start", "unequal cost"}


def test_train_points_rejects_an_unknown_point(tmp_path):
    spec = tmp_path / "tp.yaml"
    spec.write_text(spec_text("tp", BODY))
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "train_points.py"), str(spec), "--out",
                        str(tmp_path / "o"), "--points", "wdie"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 2 and "--points: no point 'wdie'" in r.stderr and "baseline, wide" in r.stderr
    assert not (tmp_path / "o").exists()
