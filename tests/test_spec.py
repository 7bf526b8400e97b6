"""Tests of scalesearch.spec: grids with derived parameters, matched parameters and constraints against brute force,
round trips, error locations, sampling, the example spaces and the malformed specs of tests/bad_specs."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.cli import main_in_process

from scalesearch import nets as arch
from scalesearch.nets.cost import count
from scalesearch.nets.match import search_int
from scalesearch.spec import (
    DATASET_INFO,
    ChoiceParam,
    FixedParam,
    FloatParam,
    GridParam,
    IntParam,
    RandomSuggest,
    SearchSpec,
    SpecError,
    baseline_netspec,
    check_space,
    enumerate_grid,
    format_spec,
    grid_space,
    load_spec,
    parse_spec,
    resolve,
    resolve_candidate,
    resolve_point,
    sample_params,
)
from scalesearch.spec.refs import load_netspec

ROOT = Path(__file__).resolve().parents[1]
SPACES = sorted((ROOT / "spaces").glob("*.yaml"))
BAD = sorted((ROOT / "tests" / "bad_specs").glob("*.yaml"))

EFFICIENT = """
study: effnet_grid
dataset: {name: synthetic}
architecture:
  family: efficientnet_compound
  args: {phi: 1, alpha: alpha, beta: beta, gamma: gamma}
parameters:
  alpha: {grid: [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]}
  beta: {grid: [1.0, 1.05, 1.1, 1.15, 1.2, 1.25]}
  gamma: {derived: "sqrt(2 / (alpha * beta**2))"}
constraints:
  - "1.9 <= alpha * beta**2 * gamma**2 <= 2.1"
  - "gamma >= 1"
  - "macs <= 5 * base_macs"
baseline: {alpha: 1.0, beta: 1.0}
search: {sampler: grid}
"""


def _macs(**kw) -> tuple[int, int] | None:
    """(MACs, params) of gen(**kw), or None where the generator rejects the arguments."""
    try:
        c = count(kw.pop("gen")(**kw))
    except ValueError:
        return None
    return c.macs, c.params


# ---------------------------------------------------------------------------------------------------------------
# Grid with a derived parameter

def test_grid_with_derived_gamma_matches_brute_force() -> None:
    spec = parse_spec(EFFICIENT, "effnet.yaml")
    points = enumerate_grid(spec)
    assert len(points) == 36
    gen = arch.efficientnet_compound
    base_macs, _ = _macs(gen=gen, phi=1, alpha=1.0, beta=1.0, gamma=math.sqrt(2), base_resolution=32,
                         in_channels=3, num_classes=10)
    want_feasible, invalid = set(), set()
    for a, b in itertools.product([1.0, 1.1, 1.2, 1.3, 1.4, 1.5], [1.0, 1.05, 1.1, 1.15, 1.2, 1.25]):
        g = math.sqrt(2 / (a * b ** 2))
        cost = _macs(gen=gen, phi=1, alpha=a, beta=b, gamma=g, base_resolution=32, in_channels=3, num_classes=10)
        if cost is None:  # gamma < 1 at 32 px: resolution below the total stride 32
            invalid.add((a, b))
        elif 1.9 <= a * b ** 2 * g ** 2 <= 2.1 and g >= 1 and cost[0] <= 5 * base_macs:
            want_feasible.add((a, b))
    got_feasible = {(p.values["alpha"], p.values["beta"]) for p in points if p.feasible}
    assert got_feasible == want_feasible
    assert {(p.values["alpha"], p.values["beta"]) for p in points if p.hash is None} == invalid
    assert 0 < len(got_feasible) < 36 - len(invalid) and invalid  # the constraints bite both ways
    for p in points:
        a, b, g = p.values["alpha"], p.values["beta"], p.values["gamma"]
        assert abs(a * b ** 2 * g ** 2 - 2) <= 1e-9
        if p.hash is None:
            assert p.rejected_by[0].startswith("architecture: resolution: ") and not p.feasible
            continue
        ns = resolve(spec, p.sampled)
        assert ns == gen(phi=1, alpha=a, beta=b, gamma=g, base_resolution=32, in_channels=3, num_classes=10)
        assert p.hash == ns.hash and p.macs == count(ns).macs


def test_every_enumerated_point_is_distinct_and_in_product_order() -> None:
    spec = parse_spec(EFFICIENT, "effnet.yaml")
    pts = enumerate_grid(spec)
    assert [tuple(p.sampled.values()) for p in pts] == list(itertools.product(*grid_space(spec).values()))


# ---------------------------------------------------------------------------------------------------------------
# Matched parameters against brute force

RESNEXT = """
study: resnext_match
dataset: {name: synthetic, resolution: 16}
architecture:
  family: cifar_resnext
  args: {depth: 11, cardinality: C, bottleneck_width: d, width: 8, widen: 2}
parameters:
  C: {grid: [1, 2, 3, 4, 8, 16]}
  d: {match: {target: "TARGET", metric: METRIC, low: 1, high: 48, step: STEP}}
baseline: {C: 1, d: 16}
search: {sampler: grid}
"""


@pytest.mark.parametrize("target, metric, step", [("base_macs", "macs", 1), ("2 * base_macs", "macs", 1),
                                                  ("base_params", "params", 1), ("0.7 * base_macs", "macs", 3),
                                                  ("123456", "acts", 1)])
def test_matched_parameter_equals_brute_force(target: str, metric: str, step: int) -> None:
    text = RESNEXT.replace("TARGET", target).replace("METRIC", metric).replace("STEP", str(step))
    spec = parse_spec(text, "m.yaml")
    gen = arch.cifar_resnext

    def cost(c: int, d: int) -> int:
        return getattr(count(gen(11, cardinality=c, bottleneck_width=d, width=8, widen=2, in_channels=3,
                                 num_classes=10, resolution=16)), metric)

    base = count(gen(11, cardinality=1, bottleneck_width=16, width=8, widen=2, in_channels=3, num_classes=10,
                     resolution=16))
    t = eval(target, {}, {"base_macs": base.macs, "base_params": base.params})  # trusted test text
    for p in enumerate_grid(spec):
        c = p.values["C"]
        best = min(range(1, 49, step), key=lambda d: (abs(cost(c, d) - t), d))
        (m,) = p.matches
        assert (m.name, m.value, m.target) == ("d", best, t)
        assert m.achieved == cost(c, best) == getattr(p, metric) if metric != "acts" else m.achieved == cost(c, best)
        assert p.values["d"] == best
        # within the best achievable integer step: no value does better
        assert all(abs(cost(c, d) - t) >= abs(m.achieved - t) for d in range(1, 49, step))


def test_matched_depth_with_when_and_invalid_values() -> None:
    """Matching a depth where most values are invalid (cifar_resnet needs 6n+2): they are skipped."""
    spec = parse_spec("""
study: depth_match
dataset: {name: synthetic, resolution: 16}
architecture: {family: cifar_resnet, args: {depth: depth, width: w}}
parameters:
  w: {grid: [4, 8, 16]}
  depth: {match: {target: "base_macs", low: 8, high: 80, when: "w >= 8", otherwise: 20}}
baseline: {w: 8, depth: 20}
search: {sampler: grid}
""", "d.yaml")
    base = count(arch.cifar_resnet(20, width=8, resolution=16)).macs
    for p in enumerate_grid(spec):
        if p.values["w"] < 8:
            assert p.values["depth"] == 20 and not p.matches
            continue
        valid = [d for d in range(8, 81) if (d - 2) % 6 == 0]
        best = min(valid, key=lambda d: (abs(count(arch.cifar_resnet(d, width=p.values["w"], resolution=16)).macs
                                             - base), d))
        assert p.values["depth"] == best


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.floats(-5, 500),
       st.lists(st.integers(0, 59), max_size=5))
def test_search_int_equals_brute_force_on_monotone_costs(steps: list[int], target: float, holes: list[int]) -> None:
    costs: list[int | None] = list(itertools.accumulate(steps))  # non-decreasing, with plateaus
    for h in holes:  # invalid values
        if h < len(costs):
            costs[h] = None
    values = range(10, 10 + 2 * len(costs), 2)
    got = search_int(lambda v: costs[(v - 10) // 2], target, values)
    valid = [(abs(c - target), v) for v, c in zip(values, costs, strict=True) if c is not None]
    if not valid:
        assert got[0] is None
    else:
        assert got[0] == min(valid)[1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=40), st.floats(0, 100))
def test_search_int_decreasing_or_shuffled_falls_back_to_a_scan(costs: list[int], target: float) -> None:
    costs = sorted(costs, reverse=True)  # non-increasing: detected from the ends, scanned
    values = range(len(costs))
    got = search_int(lambda v: costs[v], target, values)
    if costs[0] > costs[-1]:
        assert got[0] == min(values, key=lambda v: (abs(costs[v] - target), v))


# ---------------------------------------------------------------------------------------------------------------
# Constraints against brute force

def test_constraints_reject_exactly_what_brute_force_rejects() -> None:
    spec = parse_spec("""
study: constraints
dataset: {name: fashion-mnist}
architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: w, shortcut: sc}}
parameters:
  n: {int: [1, 4]}
  w: {grid: [4, 8, 12, 16]}
  sc: {choice: [A, none]}
constraints:
  - "macs <= 3 * base_macs"
  - "w * n <= 32 or sc == 'none'"
  - "params >= 20000"
  - "acts < 3 * base_acts"
baseline: {n: 1, w: 8, sc: A}
search: {sampler: grid}
""", "c.yaml")
    base = count(arch.cifar_resnet(8, width=8, in_channels=1, resolution=28))
    pts = enumerate_grid(spec)
    assert len(pts) == 32
    for p in pts:
        n, w, sc = p.values["n"], p.values["w"], p.values["sc"]
        c = count(arch.cifar_resnet(6 * n + 2, width=w, shortcut=sc, in_channels=1, num_classes=10, resolution=28))
        want = tuple(src for src, ok in [
            ("macs <= 3 * base_macs", c.macs <= 3 * base.macs),
            ("w * n <= 32 or sc == 'none'", w * n <= 32 or sc == "none"),
            ("params >= 20000", c.params >= 20000),
            ("acts < 3 * base_acts", c.acts < 3 * base.acts)] if not ok)
        assert p.rejected_by == want
        assert p.feasible == (not want)
    rep = check_space(spec)
    assert dict(rep.rejections) == {c.expr.source: sum(c.expr.source in p.rejected_by for p in pts)
                                    for c in spec.constraints}
    assert rep.feasible == sum(p.feasible for p in pts)
    assert all(k > 0 for _, k in rep.rejections)


# ---------------------------------------------------------------------------------------------------------------
# Round trips

KITCHEN_SINK = """
# every feature at once
study: kitchen.sink-1
seed: 7
dataset: {name: synthetic, train_size: 800, val_size: 200, test_size: 100, resolution: 16, num_classes: 4,
          in_channels: 1, noise: 0.25}
train: {epochs: 3, batch_size: 64, lr: lr, schedule: step, milestones: [0.5, 0.75], nesterov: nest,
        weight_decay: "wd * 1e-4"}
architecture:
  family: cifar_resnet
  args: {depth: "6 * n + 2", width: w, shortcut: sc, block: basic}
parameters:
  n: {int: [1, 3]}
  w: {int: [4, 16], step: 4}
  lr: {float: [1e-3, 0.3], log: true}
  wd: {float: [0.5, 5.0], step: 0.5}
  sc: {choice: [A, B, none]}
  nest: {choice: [true, false]}
  k: {grid: [1, 2]}
  ratio: 1.5
  tag: {fixed: "1e-3"}
  two_w: {derived: "2 * w"}
  m: {match: {target: "k * base_macs", metric: params, low: 1, high: 9, step: 2, when: "k > 1", otherwise: 1}}
constraints: ["macs <= 4 * base_macs", "n * w <= 40 and sc != 'B' or k == 2"]
baseline: {n: 1, w: 8, lr: 0.1, wd: 5.0, sc: A, nest: true, k: 1}
points:
  small: {n: 1, w: 4, lr: 0.05, wd: 1.0, sc: none, nest: false, k: 2, m: 3}
  "paper-1.0": {n: 3, w: 16, lr: 0.1, wd: 1.0, sc: B, nest: true, k: 1, ratio: 2.0}
search:
  sampler: tpe
  trials: 40
  repeats: 3
  objectives: {val_acc: max, macs: min, latency: min}
  early_stopping: {type: asha, grace_epochs: 1, reduction_factor: 2, metric: val_acc}
  resources: {cpus: 2, gpus: 0.5, memory_gb: 3.5}
  max_concurrency: 4
  time_budget_s: 600
  points_only: false
"""


@pytest.mark.parametrize("path", SPACES + ["kitchen-sink"], ids=lambda p: getattr(p, "name", p))
def test_parse_format_round_trip(path) -> None:
    spec = parse_spec(KITCHEN_SINK, "ks.yaml") if path == "kitchen-sink" else load_spec(str(path))
    text = format_spec(spec)
    again = parse_spec(text, "formatted.yaml")
    assert again == spec
    assert format_spec(again) == text


def test_kitchen_sink_parses_every_feature() -> None:
    spec = parse_spec(KITCHEN_SINK, "ks.yaml")
    kinds = {p.name: type(p).__name__ for p in spec.parameters}
    assert kinds == {"n": "IntParam", "w": "IntParam", "lr": "FloatParam", "wd": "FloatParam", "sc": "ChoiceParam",
                     "nest": "ChoiceParam", "k": "GridParam", "ratio": "FixedParam", "tag": "FixedParam",
                     "two_w": "DerivedParam", "m": "MatchedParam"}
    assert spec.params_by_name["lr"] == FloatParam("lr", 1e-3, 0.3, None, True)
    assert spec.params_by_name["tag"] == FixedParam("tag", "1e-3")
    assert spec.dataset.in_channels == 1 and spec.dataset.num_classes == 4
    c = resolve_point(spec, "small")
    assert c.netspec.in_channels == 1 and c.netspec.num_classes == 4 and c.netspec.resolution == 16
    assert c.values["m"] == 3 and not c.matches  # pinned by the point
    assert c.train == {"epochs": 3, "batch_size": 64, "lr": 0.05, "schedule": "step", "milestones": (0.5, 0.75),
                       "nesterov": False, "weight_decay": pytest.approx(1e-4)}
    assert resolve_point(spec, "paper-1.0").values["ratio"] == 2.0
    rep = check_space(spec, samples=32)
    assert not rep.exhaustive and rep.evaluated == 32 and rep.n_candidates is None
    assert [n for n, _ in rep.named] == ["baseline", "small", "paper-1.0"]
    assert any("'tag' is not used" in w for w in rep.warnings)


@st.composite
def _specs(draw) -> SearchSpec:
    base = parse_spec("study: h\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\n"
                      "search: {sampler: random, trials: 3}\n", "h.yaml")
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), unique=True, max_size=5))
    names = [n for n in names if n not in ("macs", "params", "acts", "min", "max", "abs", "sqrt", "log", "exp",
                                           "round", "ceil", "floor", "true", "false", "and", "or", "not", "in",
                                           "is", "if", "else", "for", "as", "def", "del", "try", "with", "from",
                                           "pass", "elif", "while", "class", "break", "raise", "yield", "async",
                                           "await", "global", "lambda", "assert", "import", "return", "finally",
                                           "continue", "nonlocal", "except")]
    nums = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
    scalars = st.one_of(nums, st.booleans(), st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                                     min_size=1, max_size=8))
    params = []
    for n in names:
        kind = draw(st.sampled_from(["int", "float", "grid", "choice", "fixed"]))
        if kind == "int":
            lo = draw(st.integers(-100, 100))
            params.append(IntParam(n, lo, lo + draw(st.integers(0, 50)), draw(st.integers(1, 5))))
        elif kind == "float":
            lo = draw(st.floats(1e-6, 100))
            params.append(FloatParam(n, lo, lo * 2 + 1, None, draw(st.booleans())))
        elif kind == "grid":
            params.append(GridParam(n, tuple(draw(st.lists(nums, min_size=1, max_size=4, unique=True)))))
        elif kind == "choice":
            vals = draw(st.lists(scalars, min_size=1, max_size=4, unique_by=lambda v: (type(v), v)))
            params.append(ChoiceParam(n, tuple(vals)))
        else:
            params.append(FixedParam(n, draw(st.one_of(nums, st.booleans()))))
    return dataclasses.replace(base, parameters=tuple(params), seed=draw(st.integers(0, 1000)))


@settings(max_examples=150, deadline=None)
@given(_specs())
def test_round_trip_property(spec: SearchSpec) -> None:
    assert parse_spec(format_spec(spec), "p.yaml") == spec


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line, file:line:col, field path

@pytest.mark.parametrize("text, line, col, field", [
    (("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\nsearch: {sampler: grid}\n"
      "parameters:\n  a: {derived: \"b + 1\"}\n  b: {derived: \"a\"}\n"), 6, 16, "parameters.a.derived"),
    (("study: x\ndataset: {name: synthetic}\narchitecture:\n  family: cifar_resnet\n  args:\n    depth: 20\n"
      "    widht: 8\nsearch: {sampler: grid}\n"), 7, 5, "architecture.args.widht"),
    (("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\nsearch: {sampler: grid}\n"
      "constraints:\n  - |\n    macs <=\n    __import__('os')\n"), 6, 5, "constraints[0]"),
    (("study: x\ndataset: {name: cifar10, val_size: 60000}\narchitecture: {family: cifar_resnet}\n"
      "search: {sampler: grid}\n"), 2, 36, "dataset.val_size"),
])
def test_errors_name_file_line_column_and_field(text: str, line: int, col: int, field: str) -> None:
    with pytest.raises(SpecError) as info:
        check_space(parse_spec(text, "dir/my spec.yaml"))
    e = info.value
    assert (e.file, e.line, e.col, e.field) == ("dir/my spec.yaml", line, col, field)
    assert str(e).startswith(f"dir/my spec.yaml:{line}:{col}: {field}: ") and "; expected " in str(e)
    assert "\n" not in str(e)
    assert isinstance(e, ValueError)


def test_multiline_expression_is_one_expression() -> None:
    spec = parse_spec("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet, args: {width: w}}"
                      "\nparameters:\n  w: {grid: [8]}\nconstraints:\n  - >-\n    macs <= 100000000\n    and w >= 8\n"
                      "search: {sampler: grid}\n", "x.yaml")
    assert enumerate_grid(spec)[0].feasible


def test_unsafe_yaml_and_expressions_have_no_side_effects(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for text in ("study: !!python/object/apply:os.system ['touch pwned']\n",
                 ("study: x\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet}\n"
                  "search: {sampler: grid}\nparameters: {p: {derived: \"__import__('os').system('touch pwned')\"}}\n"),
                 "!!python/object/new:os.system [touch pwned]\n"):
        with pytest.raises(SpecError):
            parse_spec(text, "u.yaml")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------
# Sampling protocol, resolve, points

class _RecordingSuggest:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.calls.append(("int", name, low, high, step, log))
        return low

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.calls.append(("float", name, low, high, step, log))
        return high

    def suggest_categorical(self, name, choices):
        self.calls.append(("cat", name, tuple(choices)))
        return choices[-1]


def test_sample_params_uses_the_suggest_protocol() -> None:
    spec = parse_spec(KITCHEN_SINK, "ks.yaml")
    rec = _RecordingSuggest()
    got = sample_params(spec, rec)
    assert rec.calls == [("int", "n", 1, 3, 1, False), ("int", "w", 4, 16, 4, False),
                         ("float", "lr", 1e-3, 0.3, None, True), ("float", "wd", 0.5, 5.0, 0.5, False),
                         ("cat", "sc", ("A", "B", "none")), ("cat", "nest", (True, False)), ("cat", "k", (1, 2))]
    assert got == {"n": 1, "w": 4, "lr": 0.3, "wd": 5.0, "sc": "none", "nest": False, "k": 2}
    resolve_candidate(spec, got)  # resolves without error


def test_random_suggest_is_seeded_and_in_range() -> None:
    spec = parse_spec(KITCHEN_SINK, "ks.yaml")
    a = [sample_params(spec, s) for s in [RandomSuggest(3)] for _ in range(50)]
    b = [sample_params(spec, s) for s in [RandomSuggest(3)] for _ in range(50)]
    assert a == b
    for v in a:
        assert 1 <= v["n"] <= 3 and v["w"] in (4, 8, 12, 16) and 1e-3 <= v["lr"] <= 0.3
        assert v["wd"] in [0.5 * i for i in range(1, 11)] and v["sc"] in ("A", "B", "none")


def test_resolve_equals_the_generator_and_baseline_netspec() -> None:
    spec = load_spec(str(ROOT / "spaces" / "quickstart.yaml"))
    ns = resolve(spec, {"n": 2, "width": 16})
    assert ns == arch.cifar_resnet(14, width=16, in_channels=1, num_classes=10, resolution=28)
    assert baseline_netspec(spec) == arch.cifar_resnet(8, width=8, in_channels=1, num_classes=10, resolution=28)
    assert load_netspec(str(ROOT / "spaces" / "quickstart.yaml")) == baseline_netspec(spec)
    with pytest.raises(SpecError, match="no value for the sampled parameter 'width'"):
        resolve(spec, {"n": 2})
    with pytest.raises(SpecError, match="unknown parameter 'x'"):
        resolve(spec, {"n": 2, "width": 8, "x": 1})


def test_core_imports_no_optuna_or_ray() -> None:
    code = ("import sys, scalesearch.spec, scalesearch.spec.expr; "
            "assert not {'optuna', 'ray', 'torch'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_dataset_and_train_facts_come_from_their_modules() -> None:
    from scalesearch import spec as spec_module
    from scalesearch.data import catalog as datasets
    from scalesearch.spec.schema import train_fields
    from scalesearch.train.config import TrainConfig

    assert DATASET_INFO == {n: (d.in_channels, d.num_classes, d.resolution) for n, d in datasets.DATASETS.items()}
    assert set(train_fields()) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(spec_module.SYNTHETIC_OPTIONS) == set(datasets.SYNTHETIC_DEFAULTS)
    s = parse_spec("study: x\ndataset: {name: synthetic, num_train: 300, num_test: 50, image_size: 12}\n"
                   "architecture: {family: cifar_resnet}\nsearch: {sampler: grid}\n", "x.yaml")
    assert (s.dataset.info.train_size, s.dataset.info.test_size, s.dataset.input_resolution) == (300, 50, 12)
    assert s.dataset.val_size == 150  # min(5000, half of the training split)


# ---------------------------------------------------------------------------------------------------------------
# The example spaces and the CLI

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`scalesearch ARGS` through the console script's main, in `cwd` (validate starts no Ray: in this process)."""
    return main_in_process(*args, cwd=cwd, env={"SCALESEARCH_DEBUG": None})


def test_example_spaces_exist() -> None:
    names = {p.stem for p in SPACES}
    assert {"quickstart", "efficientnet_compound_step1", "efficientnet_compound_step2", "resnext_cwd",
            "degradation"} <= names


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_example_space_validates(path: Path) -> None:
    spec = load_spec(str(path))
    rep = check_space(spec)
    assert rep.feasible > 0 and not rep.warnings
    assert path.read_text().startswith("#")  # each says what it reproduces and that it is proxy-sized
    assert "proxy" in path.read_text().lower()
    if path.stem == "resnext_cwd":
        for at, m in rep.matched:
            assert abs(m.rel_error) < 0.1, at
    if path.stem == "efficientnet_compound_step1":
        for _, p in rep.named:
            assert abs(p.values["alpha"] * p.values["beta"] ** 2 * p.values["gamma"] ** 2 - 2) < 1e-9


def test_cli_validate_quickstart(tmp_path) -> None:
    r = _cli("validate", str(ROOT / "spaces" / "quickstart.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "candidates   12 grid points" in r.stdout and "MACs" in r.stdout and "rejects" in r.stdout
    r = _cli("validate", "--json", str(ROOT / "spaces" / "resnext_cwd.yaml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["study"] == "resnext_cwd" and d["feasible"] == 3 and len(d["matched"]) == 3
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, list[str]]]:
    """Run `scalesearch validate` on every bad spec, each in its own empty folder."""

    def run(path: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
        cwd = tmp_path_factory.mktemp(path.stem)
        r = _cli("validate", str(path), cwd=cwd)
        return r, os.listdir(cwd)

    return {p.name: run(p) for p in BAD}


def test_there_are_at_least_30_bad_specs() -> None:
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_spec_fails_with_one_located_line(path: Path, bad_results) -> None:
    text = path.read_text()
    assert text.startswith("# ") and len(text.splitlines()[0]) > 10  # line 1 says what is wrong
    r, created = bad_results[path.name]
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert r.stdout == ""
    m = re.match(rf"scalesearch: error: {re.escape(str(path))}:(\d+):(\d+): \S+: .+; expected .+", lines[0])
    assert m, lines[0]
    marked = [i for i, s in enumerate(text.splitlines(), 1) if "# ERROR" in s]
    if marked:
        assert int(m.group(1)) == marked[0], lines[0]
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= 1
    assert created == [], created  # no side effect: nothing written where it ran (no 'pwned')
    assert "Traceback" not in r.stderr


def test_moasha_cost_band_is_read_written_back_and_absent_unless_set():
    from scalesearch.spec import format_spec, parse_spec

    base = ("study: s\ndataset: {name: synthetic}\narchitecture: {family: cifar_resnet, args: {depth: 8, width: w}}\n"
            "parameters: {w: {grid: [4, 8]}}\nsearch:\n  sampler: grid\n  objectives: {val_acc: max, macs: min}\n"
            "  early_stopping: {type: moasha%s}\n")
    banded = parse_spec(base % ", cost_band: 4", "s.yaml")
    assert banded.search.early_stopping.cost_band == 4.0
    assert parse_spec(format_spec(banded), "s.yaml") == banded and "cost_band: 4" in format_spec(banded)
    plain = parse_spec(base % "", "s.yaml")
    assert plain.search.early_stopping.cost_band is None and "cost_band" not in format_spec(plain)
