"""The spec reader (`scalesearch.spec.parse`) at its limits, as a new user met them, each as a run of the CLI: one
line, exit 2, no traceback, nothing written; and the package's structure: one registered class per parameter kind, one candidate type, errors as
data."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scalesearch.spec import (
    MAX_GRID,
    MAX_SAMPLES,
    MAX_YAML_DEPTH,
    Candidate,
    ChoiceParam,
    DerivedParam,
    FixedParam,
    FloatParam,
    GridParam,
    GridPoint,
    IntParam,
    InvalidArchitecture,
    MatchedParam,
    Parameter,
    RandomSuggest,
    SpecError,
    check_space,
    enumerate_grid,
    format_spec,
    grid_size,
    parse_spec,
    resolve_candidate,
    sample_params,
)
from scalesearch.spec.expr import parse_expr
from scalesearch.spec.params import KINDS, PARAMETER_CLASSES, parse_parameter
from scalesearch.spec.write import Dumper
from scalesearch.spec.yamlnodes import compose
from scalesearch.util.checks import FieldError

ROOT = Path(__file__).resolve().parents[1]
HEAD = ("study: x\ndataset: {name: synthetic, resolution: 16}\n"
        "architecture: {family: cifar_resnet, args: {depth: 8, width: 8}}\n")
MEMORY_CAP = 1 << 30  # the CLI runs under 1 GiB of address space: listing 10**8 values would need 4 GB


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _cli(*args: str, cwd: Path, cap: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    code = "import sys; from scalesearch.cli import main; sys.exit(main())"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SCALESEARCH_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_cap_memory if cap else None, check=False)


def _one_error(r: subprocess.CompletedProcess, cwd: Path) -> str:
    """The single stderr line of a failed run, after checking exit 2, no traceback and nothing written."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert [p for p in os.listdir(cwd) if not p.endswith(".yaml")] == []
    return lines[0]


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Deep nesting

@pytest.mark.parametrize("text", [
    "a: " + "[" * 2000 + "]" * 2000 + "\n",  # 4 KB, flow style
    "a: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n",
    "".join(" " * i + "a:\n" for i in range(300)) + " " * 300 + "a: 1\n",  # block style
])
def test_deeply_nested_spec_is_one_located_line(tmp_path, text) -> None:
    path = _write(tmp_path, text)
    line = _one_error(_cli("validate", str(path), cwd=tmp_path), tmp_path)
    assert line.startswith(f"scalesearch: error: {path}:")
    assert f"nested more than {MAX_YAML_DEPTH} levels deep" in line and "; expected " in line
    with pytest.raises(SpecError) as info:
        parse_spec(text, "deep.yaml")
    assert info.value.line >= 1 and info.value.col > 1


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_YAML_DEPTH - 4  # root mapping, parameters, p, grid
    text = HEAD + "search: {sampler: grid}\nparameters: {p: {grid: " + "[" * depth + "]" * depth + "}}\n"
    with pytest.raises(SpecError, match="got a list; expected a number"):  # read, then refused as a grid value
        parse_spec(text, "x.yaml")


# ---------------------------------------------------------------------------------------------------------------
# Size before work

@pytest.mark.parametrize("high", [10 ** 8, 10 ** 15])
def test_huge_grid_is_counted_and_refused_before_anything_is_listed(tmp_path, high) -> None:
    path = _write(tmp_path, HEAD + f"parameters: {{n: {{int: [1, {high}]}}}}\nsearch: {{sampler: grid}}\n")
    start = time.monotonic()
    line = _one_error(_cli("validate", str(path), cwd=tmp_path, cap=True), tmp_path)
    assert time.monotonic() - start < 30
    assert f"search: the grid has {high} points; expected at most {MAX_GRID}" in line
    assert "memory" not in line


@pytest.mark.parametrize("extra", ["", ", log: true"])
def test_sampler_over_a_huge_integer_range_validates_and_samples(tmp_path, extra) -> None:
    path = _write(tmp_path, HEAD + f"parameters:\n  n: {{int: [1, 2]}}\n  big: {{int: [1, {10 ** 15}]{extra}}}\n"
                  "constraints: [\"big >= 1\"]\nsearch: {sampler: tpe, trials: 10}\n")
    r = _cli("validate", "--samples", "16", str(path), cwd=tmp_path, cap=True)
    assert r.returncode == 0, r.stderr
    assert f"candidates   {2 * 10 ** 15} candidates (16 sampled (seed 0)): 16 feasible" in r.stdout


def test_grid_size_multiplies_counts_without_listing_values() -> None:
    spec = parse_spec(HEAD + "parameters:\n  n: {int: [1, 1000000000000000]}\n  w: {int: [0, 99], step: 10}\n"
                      "  f: {float: [0.0, 1.0], step: 0.25}\n  g: {grid: [1, 2, 3]}\n"
                      "search: {sampler: random, trials: 2}\n", "x.yaml")
    assert grid_size(spec) == 10 ** 15 * 10 * 5 * 3
    assert IntParam("n", 1, 10 ** 15).size() == 10 ** 15
    assert list(IntParam("w", 0, 99, 10).values()) == list(range(0, 100, 10))
    rep = check_space(spec, samples=8)
    assert not rep.exhaustive and rep.evaluated == 8 and rep.n_candidates == grid_size(spec)


def test_check_space_bounds_its_sample_count() -> None:
    spec = parse_spec(HEAD + "parameters: {n: {int: [1, 2]}}\nsearch: {sampler: random, trials: 2}\n", "x.yaml")
    for bad in (0, MAX_SAMPLES + 1):
        with pytest.raises(FieldError, match="samples: expected an integer in"):
            check_space(spec, samples=bad)


def test_a_fifo_given_as_a_spec_is_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    line = _one_error(_cli("validate", str(fifo), cwd=tmp_path, timeout=30), tmp_path)
    assert str(fifo) in line and "not a regular file" in line


# ---------------------------------------------------------------------------------------------------------------
# Messages say what they found once, and what a condition is

@pytest.mark.parametrize("text, needle", [
    ("seed: [1]\n", "seed: got a list; expected an integer"),
    ("seed: null\n", "seed: got null; expected an integer"),
    ("seed: {a: 1}\n", "seed: got a mapping; expected an integer"),
    ("seed: 1.5\n", "seed: got a float 1.5; expected an integer"),
    ("constraints: [[1, 2]]\n", "constraints[0]: got a list; expected a condition: a string such as"),
    ("constraints: [3]\n", "constraints[0]: got an integer 3; expected a condition: a string such as"),
    ("constraints: [\"n * 2\"]\nparameters: {n: {grid: [1]}}\n", "'n * 2' is a number, not a condition"),
    ("parameters: {n: {grid: [1]}, m: {match: {target: 100, low: 1, high: 4, when: [1], otherwise: 1}}}\n",
     "parameters.m.match.when: got a list; expected a condition"),
    ("parameters: {s: {choice: [a, b]}}\nbaseline: {s: null}\n", ("baseline.s: null is not one of the choices; "
      "expected one of 'a', 'b'")),
    ("parameters: {s: {choice: [true, 1]}}\nbaseline: {s: false}\n", ("false is not one of the choices; expected "
      "one of true, 1")),
    ("train: {lr: -0.1}\n", "train.lr: invalid training setting: lr: got -0.1; expected a number > 0.0"),
])
def test_messages_name_what_they_got_once(tmp_path, text, needle) -> None:
    path = _write(tmp_path, HEAD + "search: {sampler: grid}\n" + text)
    line = _one_error(_cli("validate", str(path), cwd=tmp_path), tmp_path)
    assert needle in line, line
    assert "a list a list" not in line and "None" not in line and line.count("expected") == 1


# ---------------------------------------------------------------------------------------------------------------
# Structure: one registered class per kind, one candidate type, errors as data

# One parameter of every kind, options away from their defaults where the kind has any, and the same as a spec writes
# them by hand.
KIND_EXAMPLES = (
    IntParam("a", 2, 64, 2), IntParam("b", 1, 64, log=True), FloatParam("c", 0.5, 2.0, 0.25),
    FloatParam("d", 1e-4, 0.1, log=True), GridParam("e", (1, 2.5, 4)), ChoiceParam("f", ("x", 3, True, 0.5)),
    FixedParam("g", "A"), FixedParam("g2", 0.5), DerivedParam("h", parse_expr("a * 2 + c")),
    MatchedParam("i", parse_expr("2 * base_macs"), "params", 1, 64, 2, parse_expr("a > 4"), parse_expr("a")),
    MatchedParam("j", parse_expr("1000000"), low=4, high=8),
)
KIND_EXAMPLES_YAML = """parameters:
  a: {int: [2, 64], step: 2}
  b: {int: [1, 64], log: true}
  c: {float: [0.5, 2.0], step: 0.25}
  d: {float: [0.0001, 0.1], log: true}
  e: {grid: [1, 2.5, 4]}
  f: {choice: [x, 3, true, 0.5]}
  g: {fixed: A}
  g2: 0.5
  h: {derived: "a * 2 + c"}
  i: {match: {target: 2 * base_macs, metric: params, low: 1, high: 64, step: 2, when: "a > 4", otherwise: a}}
  j: {match: {target: 1000000, low: 4, high: 8}}
baseline: {a: 4, b: 2, c: 0.75, d: 0.01, e: 2.5, f: true, g: B, i: 8}
"""


def test_every_parameter_kind_is_one_registered_class_reachable_by_name() -> None:
    assert set(Parameter.__subclasses__()) == set(PARAMETER_CLASSES) and len(PARAMETER_CLASSES) == 7
    assert list(KINDS) == ["int", "float", "grid", "choice", "fixed", "derived", "match"]  # the order messages use
    assert all(KINDS[cls.kind] is cls for cls in PARAMETER_CLASSES)
    assert {type(p) for p in KIND_EXAMPLES} == set(PARAMETER_CLASSES)
    with pytest.raises(SpecError, match=f"expected one of {', '.join(KINDS)}$"):
        parse_spec(HEAD + "parameters: {p: {bogus: 1}}\nsearch: {sampler: grid}\n", "k.yaml")


@pytest.mark.parametrize("p", KIND_EXAMPLES, ids=lambda p: f"{p.kind}-{p.name}")
def test_every_parameter_kind_round_trips_through_its_yaml_form(p: Parameter) -> None:
    form = p.yaml_form()
    assert next(iter(form)) == p.kind
    node = compose(yaml.dump({p.name: form}, Dumper=Dumper), "k.yaml").v[p.name]
    back = parse_parameter(p.name, node)
    assert type(back) is KINDS[p.kind] and back == p


def test_a_spec_with_every_parameter_kind_reads_each_by_name_and_round_trips() -> None:
    text = HEAD.replace("width: 8", "width: i") + "search: {sampler: random, trials: 2}\n" + KIND_EXAMPLES_YAML
    spec = parse_spec(text, "all.yaml")
    assert spec.parameters == KIND_EXAMPLES  # dataclass equality: the same class and fields
    assert spec.baseline.as_dict() == {"a": 4, "b": 2, "c": 0.75, "d": 0.01, "e": 2.5, "f": True, "g": "B", "i": 8}
    again = parse_spec(format_spec(spec), "again.yaml")
    assert again == spec and format_spec(again) == format_spec(spec)


def test_one_candidate_type_for_grids_samples_and_points() -> None:
    assert GridPoint is Candidate
    spec = parse_spec(HEAD.replace("depth: 8", "depth: d") + "parameters: {d: {grid: [8, 9]}}\nsearch: {sampler: grid}\n",
                      "x.yaml")
    ok, bad = enumerate_grid(spec)
    assert isinstance(ok, Candidate) and ok.feasible and ok.hash == ok.netspec.hash and ok.macs > 0
    assert not bad.feasible and bad.netspec is None and bad.hash is None and bad.macs is None
    assert bad.rejected_by[0].startswith("architecture: depth:") and bad.values == {"d": 9}
    assert set(ok.summary()) == {"sampled", "values", "feasible", "rejected_by", "hash", "macs", "params", "acts"}
    c = resolve_candidate(spec, {"d": 8})
    assert c == ok and c.sampled == {"d": 8}


def test_errors_carry_their_place_as_data() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(HEAD + "search: {sampler: grid}\nseed: -1\n", "dir/s.yaml")
    e = info.value
    assert (e.file, e.line, e.col, e.field) == ("dir/s.yaml", 5, 7, "seed")
    assert e.message == "-1 is out of range; expected an integer in [0, 4294967295]"
    assert str(e) == f"dir/s.yaml:5:7: seed: {e.message}" and e.loc.field == "seed"
    spec = parse_spec(HEAD.replace("depth: 8", "depth: d") + "parameters: {d: {grid: [9]}}\nsearch: {sampler: grid}\n",
                      "s.yaml")
    with pytest.raises(InvalidArchitecture) as arch_info:
        resolve_candidate(spec, {"d": 9})
    a = arch_info.value
    assert a.field == "architecture.args.depth" and a.line == 3 and a.values == {"d": 9}
    assert a.reason.startswith("depth: ") and a.reason in str(a)


def test_validate_imports_no_torch(tmp_path) -> None:
    code = ("import sys; from scalesearch.cli import main; main(['validate', sys.argv[1]]); "
            "assert 'torch' not in sys.modules, 'validate imported torch'")
    r = subprocess.run([sys.executable, "-c", code, str(ROOT / "spaces" / "quickstart.yaml")], cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr


def test_contains_accepts_every_draw_and_nothing_else() -> None:
    spec = parse_spec(HEAD + "parameters:\n  i: {int: [1, 100], step: 3}\n  l: {int: [1, 1000], log: true}\n"
                      "  f: {float: [0.1, 0.9], step: 0.2}\n  c: {float: [1e-3, 1.0], log: true}\n"
                      "  g: {grid: [1, 2.5]}\n  s: {choice: [A, true, 3]}\n  x: 4\n"
                      "search: {sampler: random, trials: 2}\n", "x.yaml")
    by = spec.params_by_name
    suggest = RandomSuggest(5)
    for _ in range(200):
        for name, v in sample_params(spec, suggest).items():
            assert by[name].contains(v), (name, v)
    for name, bad in [("i", 2), ("i", 4.0), ("i", 103), ("l", 0), ("f", 0.2), ("f", 1.1), ("c", 0.0), ("g", 2),
                      ("g", True), ("s", 1), ("s", "a"), ("x", 4)]:
        assert not by[name].contains(bad), (name, bad)
    assert by["i"].contains(4) and by["f"].contains(0.5) and by["g"].contains(2.5) and by["s"].contains(True)
