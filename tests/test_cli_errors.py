"""What a new user runs into: every bad input a one-line error naming the option, file or field, exit 2, no
traceback and nothing written (the console script's `main`, run in the test process; test_cli.py runs the
installed command itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import main_in_process

from scalesearch.nets import preset

TRAIN = ("train", "cifar_resnet20", "--dataset", "synthetic", "--epochs", "1", "--device", "cpu")


def run_cli(*args: str, cwd: str | os.PathLike[str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The command through the console script's `main`, in this process (none of these starts Ray)."""
    del timeout
    return main_in_process(*args, cwd=cwd)


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed run (asserting exit 2, nothing on stdout, no traceback)."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scalesearch: error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize("extra, needle", [
    (("--seed", "-1"), "--seed: expected an integer in [0, 4294967295], got -1"),
    (("--data-seed", "-1"), "--data-seed: expected an integer in [0, 4294967295], got -1"),
    (("--epochs", "0"), "--epochs: expected an integer >= 1, got 0"),
    (("--lr", "-1"), "--lr: expected a number > 0.0, got -1.0"),
    (("--train-size", "0"), "--train-size: expected an integer >= 1, got 0"),
    # one range for --resolution, whatever the value: the data's floor (4) and the network's stride (4 here)
    (("--resolution", "0"), "--resolution: expected an integer in [4, 1024]"),
    (("--resolution", "1"), "--resolution: expected an integer in [4, 1024]"),
    (("--resolution", "2000"), "--resolution: expected an integer in [4, 1024]"),
])
def test_train_option_errors_name_the_option_before_any_output(extra, needle):
    r = run_cli(*TRAIN, *extra)
    assert needle in one_line_error(r)


def test_train_resolution_floor_is_the_networks_stride_and_says_so():
    r = run_cli("train", "resnet50", "--dataset", "synthetic", "--resolution", "8")
    assert "--resolution: expected an integer in [32, 1024] (the network's total stride is 32), got 8" \
        in one_line_error(r)


def test_train_needs_a_dataset_unless_given_a_spec():
    assert "--dataset: required unless the model is a spec file" in one_line_error(run_cli("train", "resnet18"))


def test_train_lr_1e308_is_divergence_not_a_result():
    r = run_cli(*TRAIN, "--lr", "1e308", "--max-steps", "3", "--train-size", "300", "--val-size", "100",
                "--test-size", "100", "--resolution", "16")
    assert "training diverged" in one_line_error(r)


def test_train_says_when_full_batches_leave_images_out():
    r = run_cli(*TRAIN, "--train-size", "300", "--val-size", "100", "--test-size", "100", "--resolution", "8",
                "--batch-size", "128", "--no-test")
    assert r.returncode == 0, r.stderr
    assert "each epoch trains on 256 of the 300 images" in r.stdout


def test_train_a_spec_uses_its_dataset_and_train_sections(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "study: trainspec\n"
        "dataset: {name: synthetic, train_size: 200, val_size: 100, test_size: 50, resolution: 8, image_size: 8}\n"
        "train: {epochs: 1, batch_size: 50, weight_decay: 0.001, warmup_epochs: 0.5, label_smoothing: 0.1,\n"
        "        lr: '0.05 * n'}\n"
        "architecture: {family: cifar_resnet, args: {depth: '6 * n + 2', width: 8}}\n"
        "parameters: {n: {grid: [1, 2]}}\n"
        "baseline: {n: 2}\n"
        "search: {sampler: grid}\n")
    r = run_cli("train", str(spec), "--device", "cpu", "--json", "--test")  # the search's eval_test is off
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    cfg = out["config"]
    assert cfg["eval_test"] is True and out["test_acc"] is not None
    assert (cfg["epochs"], cfg["batch_size"], cfg["weight_decay"], cfg["warmup_epochs"], cfg["label_smoothing"]) \
        == (1, 50, 0.001, 0.5, 0.1)
    assert cfg["lr"] == pytest.approx(0.1)  # the expression at the baseline n = 2
    assert out["dataset"]["train"] == 200 and out["dataset"]["val"] == 100 and out["dataset"]["test"] == 50
    assert out["dataset"]["resolution"] == 8 and out["dataset"]["in_channels"] == 3
    # a command-line option overrides the spec's section
    r = run_cli("train", str(spec), "--device", "cpu", "--json", "--batch-size", "25")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["config"]["batch_size"] == 25 and out["config"]["eval_test"] is False and out["test_acc"] is None


@pytest.mark.parametrize("text, needle", [
    (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
    (b'{"stem": {"width": 16}, "stem": {"width": 8}, "stages": ["basic_d1_w16"]}', "duplicate key 'stem'"),
    (b'{"stem": {"width": 16, "colour": 1}, "stages": ["basic_d1_w16"]}', "stem.colour: unknown key 'colour'"),
    (b'{"stem": {"width": 16}}', "missing key 'stages'"),
    (b'{"stem": {"width": 16}, "stages": [{"block": "basic", "width": 8}]}', "stages[0]: missing key 'depth'"),
    (b'{"stem": {"width": 16}, "stages": ["basic_d1_w16", {"block": "basic", "depth": 1, "width": 0}]}',
     "stages[1].width: expected an integer in [1, 65536], got 0"),
    (b"[" * 1000 + b"]" * 1000, "nested too deeply"),
])
def test_netspec_json_errors_name_the_file_and_field(tmp_path, text, needle):
    path = tmp_path / "net.json"
    path.write_bytes(text)
    line = one_line_error(run_cli("count", str(path)))
    assert str(path) in line and needle in line


def test_count_refuses_devices_fifos_and_huge_files_without_reading_them(tmp_path):
    assert "not a preset name" in one_line_error(run_cli("count", "/dev/zero"))
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line_error(run_cli("count", str(fifo), timeout=30))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20))
    assert "expected at most 1,048,576 bytes" in one_line_error(run_cli("count", str(big)))


def test_count_upper_case_extensions_and_presets_not_shadowed(tmp_path):
    net = tmp_path / "NET.JSON"
    net.write_text(preset("cifar_resnet20").to_json())
    r = run_cli("count", str(net), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["params"] == 269_722
    (tmp_path / "resnet50").mkdir()  # a folder named like a preset in the working directory
    r = run_cli("count", "resnet50", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == 25_557_032
    root = Path(__file__).resolve().parents[1]
    upper = tmp_path / "Q.YAML"
    upper.write_text((root / "spaces" / "quickstart.yaml").read_text())
    r = run_cli("count", str(upper), "--json")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args, needle", [
    (("count", "resnet50", "--resolution", "0"), "--resolution: expected an integer in [32, 16384]"),
    (("count", "resnet50", "--in-channels", "0"), "--in-channels: expected an integer in [1, 65536], got 0"),
    (("validate", "spaces/quickstart.yaml", "--samples", "1000000000"),
     "--samples: expected an integer in [1, 100000], got 1000000000"),
])
def test_shape_and_sample_options_have_one_range(args, needle):
    root = Path(__file__).resolve().parents[1]
    assert needle in one_line_error(run_cli(*args, cwd=root))


def test_read_only_commands_import_no_torch():
    root = Path(__file__).resolve().parents[1]
    for args in (["validate", "spaces/quickstart.yaml"], ["count", "resnet50"], ["presets"]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "scalesearch", *args], capture_output=True,
                           text=True, cwd=root, timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
        assert "torch" not in imported and "numpy" not in imported, (args, sorted(imported)[:5])


def test_every_commands_help_prints_percent_signs_as_written():
    """argparse formats `help=` texts with %, not descriptions: a description's "95%%" would print as it is."""
    import re

    top = main_in_process("--help")
    names = re.findall(r"^    ([a-z]+)  ", top.stdout, flags=re.MULTILINE)  # the commands `scalesearch --help` lists
    assert len(names) >= 20 and "simulate" in names and "%%" not in top.stdout
    for name in names:
        r = main_in_process(name, "--help")
        assert r.returncode == 0, (name, r.stderr)
        assert "%%" not in r.stdout, name
