"""The command line: count and presets (train and validate are tested beside their modules)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scalesearch.cli import main
from scalesearch.nets import preset


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scalesearch", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_count_json(capsys):
    assert main(["count", "cifar_resnet20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["params"], out["macs"]) == (269_722, 40_551_040)
    assert isinstance(out["params"], int) and isinstance(out["macs"], int)
    assert out["hash"] == preset("cifar_resnet20").hash
    assert [s["name"] for s in out["stages"]] == ["stem", "stage1", "stage2", "stage3", "head"]


def test_count_overrides_io(capsys):
    assert main(["count", "cifar_resnet20", "--in-channels", "1", "--resolution", "28", "--classes", "5",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["in_channels"], out["resolution"], out["num_classes"]) == (1, 28, 5)
    assert out["params"] == 269_722 - 2 * 9 * 16 - 5 * 64 - 5


def test_count_table(capsys):
    assert main(["count", "efficientnet_b0"]) == 0
    out = capsys.readouterr().out
    assert "5,288,548" in out and "385,814,752" in out and "mbconv_d4_w192_s2_k5_e6_se0.25_scid_asilu" in out


def test_count_netspec_json_file(tmp_path, capsys):
    path = tmp_path / "net.json"
    path.write_text(preset("wrn_16_4").to_json())
    assert main(["count", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 2_748_890


@pytest.mark.parametrize("args,needle", [
    (["count", "resnet5"], "unknown preset 'resnet5'; did you mean"),
    (["count", "resnet50", "--resolution", "16"],
     "--resolution: expected an integer in [32, 16384] (the network's total stride is 32), got 16"),
    (["count", "missing.json"], "missing.json"),
    (["count", "resnet50", "--classes", "0"], "--classes: expected an integer in [1, 1000000], got 0"),
])
def test_count_errors_are_one_line_with_exit_2(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scalesearch: error: ") and needle in lines[0]


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("resnet50", "efficientnet_b7", "cifar_resnet1202", "wrn_28_10", "resnext101_64x4d"):
        assert name in out


@pytest.mark.parametrize("args,needle", [
    (["count", "resnet50", "--in-channels", "abc"], "argument --in-channels: invalid int value: 'abc'"),
    (["train", "cifar_resnet20", "--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_usage_errors_are_one_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_broken_pipe_is_quiet():
    r = subprocess.run(f"{sys.executable} -m scalesearch presets | head -c 10", shell=True, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.stdout == "preset    " and "error" not in r.stderr.lower() and "Traceback" not in r.stderr


def test_core_never_imports_ray_optuna_or_thop():
    """The core (and the CLI until a search command runs) must import and work without Ray or Optuna."""
    code = ("import sys, scalesearch.nets, scalesearch.nets.blocks, scalesearch.nets.build, scalesearch.nets.cost, "
            "scalesearch.data.loader, scalesearch.train.loop, scalesearch.spec, scalesearch.spec.expr, scalesearch.cli; "
            "from scalesearch.cli import main; main(['count', 'resnet18', '--json']); "
            "bad = {'optuna', 'ray', 'thop'} & {m.split('.')[0] for m in sys.modules}; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_run_rejects_a_bad_spec_before_touching_the_database(tmp_path, capsys):
    """`run` trains (tests/test_search*.py); a spec that fails validation stops it first, with one line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\n")
    db = tmp_path / "r.db"
    assert main(["run", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing required key 'search'" in err
    assert not db.exists()
