"""Property tests over random valid specs of every family: build, forward, exact analytic cost, round trips; and
over random parameters of every registered parameter kind: their YAML form reads back as the same parameter."""

from __future__ import annotations

import math

import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalesearch import nets as arch
from scalesearch.nets import NetSpec, format_stage, parse_stage
from scalesearch.nets.build import build_model
from scalesearch.nets.cost import count, count_model
from scalesearch.spec import (
    ChoiceParam,
    DerivedParam,
    FixedParam,
    FloatParam,
    GridParam,
    IntParam,
    MatchedParam,
    Parameter,
)
from scalesearch.spec.expr import parse_expr
from scalesearch.spec.params import KINDS, METRICS, parse_parameter
from scalesearch.spec.write import Dumper
from scalesearch.spec.yamlnodes import compose

io = {"in_channels": st.integers(1, 3), "num_classes": st.integers(2, 12)}
small_res = st.integers(32, 48)

families = st.one_of(
    st.builds(arch.cifar_resnet, st.sampled_from([8, 14, 20]), width=st.integers(4, 12),
              shortcut=st.sampled_from(["A", "B", "C", "none"]), resolution=st.integers(8, 32), **io),
    st.builds(arch.cifar_resnet, st.sampled_from([11, 20]), width=st.integers(4, 8), block=st.just("bottleneck"),
              shortcut=st.sampled_from(["A", "B", "C", "none"]), resolution=st.integers(8, 24), **io),
    st.builds(arch.resnet, st.just(0), layers=st.tuples(*[st.integers(1, 2)] * 4), width=st.integers(4, 12),
              block=st.sampled_from(["basic", "bottleneck"]), shortcut=st.sampled_from(["A", "B", "C", "none"]),
              stride_on=st.sampled_from(["1x1", "3x3"]), resolution=small_res, **io),
    st.builds(arch.resnext, st.just(0), layers=st.tuples(*[st.integers(1, 2)] * 4), width=st.integers(4, 8),
              cardinality=st.integers(1, 4), bottleneck_width=st.sampled_from([16, 32, 64]),
              resolution=small_res, **io),
    st.builds(arch.wide_resnet, st.sampled_from([10, 16]), st.integers(1, 3), width=st.integers(2, 6),
              dropout=st.sampled_from([0.0, 0.3]), resolution=st.integers(8, 32), **io),
    st.builds(arch.cifar_resnext, st.sampled_from([11, 20]), cardinality=st.integers(1, 4),
              bottleneck_width=st.integers(1, 6), width=st.integers(4, 12), widen=st.integers(1, 4),
              resolution=st.integers(8, 24), **io),
    st.builds(arch.mobilenet_v1, st.floats(0.05, 0.3), resolution=small_res, **io),
    st.builds(arch.mobilenet_v2, st.floats(0.05, 0.3), resolution=small_res, **io),
    st.builds(arch.efficientnet, st.floats(0.05, 0.3), st.floats(0.1, 1.0), resolution=small_res, **io),
    st.builds(arch.efficientnet_compound, st.floats(-1.0, 0.5), alpha=st.floats(1.0, 1.4),
              beta=st.floats(1.0, 1.3), gamma=st.floats(1.0, 1.3), base_resolution=st.just(64), **io),  # >= 49 px
)


@st.composite
def stage_strings(draw) -> str:
    """A random valid StageSpec of any block, as a stage string."""
    block = draw(st.sampled_from(sorted(arch.BLOCKS)))
    kw = {"depth": draw(st.integers(1, 2)), "width": draw(st.integers(4, 24)), "stride": draw(st.integers(1, 2)),
          "kernel": draw(st.sampled_from([1, 3, 5])), "act": draw(st.sampled_from(arch.ACTIVATIONS))}
    shortcuts = ["none", "id", "B", "C"] + (["A"] if block in ("basic", "bottleneck", "preact") else [])
    kw["shortcut"] = draw(st.sampled_from(shortcuts))
    if block == "bottleneck":
        g = draw(st.integers(1, 4))
        kw.update(groups=g, mid=g * draw(st.integers(1, 6)), stride_on=draw(st.sampled_from(arch.STRIDE_ON)))
    if block in ("basic", "bottleneck", "preact"):
        kw["dropout"] = draw(st.sampled_from([0.0, 0.2]))
    if block == "mbconv":
        kw.update(expand=draw(st.sampled_from([1.0, 3.0, 6.0])), se=draw(st.sampled_from([0.0, 0.25])))
    return format_stage(arch.StageSpec(block, **kw))


@st.composite
def anynets(draw) -> NetSpec:
    stages = draw(st.lists(stage_strings(), min_size=1, max_size=4))
    stem_width = draw(st.integers(4, 16))
    # option A only pads channels: keep widths non-decreasing where it is used
    w, fixed = stem_width, []
    for s in stages:
        spec = parse_stage(s)
        if spec.shortcut == "A" and spec.width < w:
            s = s.replace("_scA", "_scB")
        fixed.append(s)
        w = spec.width
    stem_stride, stem_pool = draw(st.integers(1, 2)), draw(st.booleans())
    total_stride = stem_stride * (2 if stem_pool else 1) * math.prod(parse_stage(s).stride for s in fixed)
    return arch.anynet(tuple(fixed), stem_width=stem_width, stem_stride=stem_stride, stem_pool=stem_pool,
                       head_width=draw(st.sampled_from([0, 32])), drop_path=draw(st.sampled_from([0.0, 0.1])),
                       resolution=draw(st.integers(max(8, total_stride), max(8, total_stride) + 8)),
                       in_channels=draw(st.integers(1, 3)), num_classes=draw(st.integers(2, 12)))


def check_spec(spec: NetSpec) -> None:
    model = build_model(spec)
    c = count(spec)
    assert c.params == sum(p.numel() for p in model.parameters())
    counted = count_model(model, (spec.in_channels, spec.resolution, spec.resolution))
    assert (c.macs, c.acts) == (counted["macs"], counted["acts"])
    model.train()
    x = torch.randn(2, spec.in_channels, spec.resolution, spec.resolution)
    y = model(x)
    assert y.shape == (2, spec.num_classes) and torch.isfinite(y).all()
    y.sum().backward()
    back = NetSpec.from_json(spec.to_json())
    assert back == spec and back.hash == spec.hash
    for s in spec.stages:
        assert parse_stage(format_stage(s)) == s


_settings = settings(max_examples=max(150, settings().max_examples), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(families)
def test_every_family_builds_runs_and_costs_exactly(spec):
    check_spec(spec)


@_settings
@given(anynets())
def test_random_stage_mixes_build_run_and_cost_exactly(spec):
    check_spec(spec)


# ---------------------------------------------------------------------------------------------------------------
# Parameter kinds: one strategy per registered kind (a new kind without one fails the first test below)

_numbers = st.one_of(st.integers(-10 ** 6, 10 ** 6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
_scalars = st.one_of(_numbers, st.booleans(),
                     st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8))
_values = st.sampled_from(["a * 2", "min(a, 3) + 1", "a ** 0.5", "round(base_macs / 3)", "7", "2.5", "1.5e6", "w"])


@st.composite
def _int_params(draw, name: str) -> IntParam:
    log = draw(st.booleans())
    low = draw(st.integers(1 if log else -1000, 1000))
    return IntParam(name, low, low + draw(st.integers(0, 500)), 1 if log else draw(st.integers(1, 7)), log)


@st.composite
def _float_params(draw, name: str) -> FloatParam:
    low = draw(st.floats(1e-6, 100))
    step = draw(st.one_of(st.none(), st.floats(0.01, 10)))
    return FloatParam(name, low, low * 2 + 1, step, step is None and draw(st.booleans()))


@st.composite
def _matched_params(draw, name: str) -> MatchedParam:
    low = draw(st.integers(1, 100))
    when = draw(st.one_of(st.none(), st.sampled_from(["a > 4", "w == 2 and a < 1", "not a"])))
    return MatchedParam(name, parse_expr(draw(_values)), draw(st.sampled_from(METRICS)), low,
                        low + draw(st.integers(0, 1000)), draw(st.integers(1, 5)),
                        None if when is None else parse_expr(when), None if when is None else parse_expr(draw(_values)))


_KIND_STRATEGIES = {
    "int": _int_params,
    "float": _float_params,
    "grid": lambda name: st.lists(_numbers, min_size=1, max_size=5, unique_by=lambda v: (type(v), v)).map(
        lambda vs: GridParam(name, tuple(vs))),
    "choice": lambda name: st.lists(_scalars, min_size=1, max_size=5, unique_by=lambda v: (type(v), v)).map(
        lambda vs: ChoiceParam(name, tuple(vs))),
    "fixed": lambda name: _scalars.map(lambda v: FixedParam(name, v)),
    "derived": lambda name: _values.map(lambda e: DerivedParam(name, parse_expr(e))),
    "match": _matched_params,
}


def test_every_registered_kind_has_a_strategy() -> None:
    assert list(_KIND_STRATEGIES) == list(KINDS)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(_KIND_STRATEGIES)).flatmap(lambda kind: _KIND_STRATEGIES[kind]("p")))
def test_every_parameter_kind_reads_back_its_yaml_form(p: Parameter) -> None:
    text = yaml.dump({p.name: p.yaml_form()}, Dumper=Dumper, sort_keys=False, allow_unicode=True)
    back = parse_parameter(p.name, compose(text, "p.yaml").v[p.name])
    assert type(back) is KINDS[p.kind] and back == p
