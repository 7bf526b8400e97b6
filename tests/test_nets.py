"""NetSpec data model, stage-string DSL, scaling rules, generators and their validation."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from scalesearch import nets as arch
from scalesearch.nets import (
    NetSpec,
    StageSpec,
    StemSpec,
    compound_multipliers,
    format_stage,
    make_divisible,
    match,
    parse_stage,
    preset,
    round_filters,
    round_repeats,
)
from scalesearch.nets.cost import count
from scalesearch.nets.match import match_bottleneck_width
from scalesearch.spec.refs import load_netspec
from scalesearch.util.checks import FieldError

ALL_PRESETS = arch.preset_names()


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_json_round_trip_and_hash(name):
    spec = preset(name)
    text = spec.to_json()
    back = NetSpec.from_json(text)
    assert back == spec
    assert back.hash == spec.hash
    assert back.to_json() == text
    assert json.loads(text)["stages"][0]["block"] == spec.stages[0].block
    assert hash(back) == hash(spec)


def test_hash_is_stable_golden():
    # Golden values: the canonical JSON is the dedupe key stored with every trial. A change here means stored
    # searches no longer dedupe against new ones: change the form only on purpose and update these.
    assert preset("resnet50").hash == "c1d5957227d7a4ac"
    assert preset("cifar_resnet20").hash == "c02a6806fccf6609"


def test_hash_distinguishes_every_field():
    base = preset("cifar_resnet20")
    variants = [
        base.with_io(in_channels=1), base.with_io(num_classes=100), base.with_io(resolution=28),
        dataclasses.replace(base, drop_path=0.1),
        dataclasses.replace(base, stages=(dataclasses.replace(base.stages[0], depth=4),) + base.stages[1:]),
        dataclasses.replace(base, stages=(dataclasses.replace(base.stages[0], shortcut="B"),) + base.stages[1:]),
        dataclasses.replace(base, stem=dataclasses.replace(base.stem, width=8)),
    ]
    hashes = {v.hash for v in variants} | {base.hash}
    assert len(hashes) == len(variants) + 1


def test_specs_are_frozen_and_dedupe_in_sets():
    a, b = preset("resnet18"), arch.resnet(18)
    assert a == b and len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.resolution = 32  # type: ignore[misc]


def test_numbers_are_normalised_so_equal_networks_hash_alike():
    a = StageSpec("mbconv", 2, 24, 2, expand=6, se=0.25, shortcut="id")
    b = StageSpec("mbconv", 2.0, 24, 2, expand=6.0, se=0.25, shortcut="id")
    assert a == b and type(a.expand) is float and type(b.depth) is int


@pytest.mark.parametrize("name", ["resnet50", "resnext101_64x4d", "efficientnet_b3", "wrn_28_10", "mobilenet_v1",
                                  "resnet50_v1", "cifar_resnet20"])
def test_stage_strings_round_trip(name):
    for st in preset(name).stages:
        assert parse_stage(format_stage(st)) == st


def test_stage_string_examples():
    st = parse_stage("bottleneck_d3_w256_s2_m128_g32_so1x1")
    assert (st.depth, st.width, st.stride, st.mid, st.groups, st.stride_on) == (3, 256, 2, 128, 32, "1x1")
    assert format_stage(StageSpec("preact", 4, 160, dropout=0.3)) == "preact_d4_w160_dr0.3"
    assert format_stage(StageSpec("mbconv", 2, 24, 2, kernel=5, expand=6, se=0.25, shortcut="id", act="silu")) \
        == "mbconv_d2_w24_s2_k5_e6_se0.25_scid_asilu"


@pytest.mark.parametrize("text,needle", [
    ("conv_d2_w64", "unknown block 'conv'"),
    ("basic_d2", "missing width"),
    ("basic_w64", "missing depth"),
    ("basic_d2_w64_x3", "bad token 'x3'"),
    ("basic_d2_w64_d3", "repeats depth"),
    ("basic_d2.5_w64", "depth must be an integer"),
    ("basic_d-1_w64", "token 'd-1': expected a non-negative number"),
    ("basic_d2_w64_g4", "stage.groups: not used by block 'basic'"),
    ("bottleneck_d2_w64_m30_g4", "not divisible by the cardinality groups=4"),
])
def test_stage_string_errors_name_the_token(text, needle):
    with pytest.raises(ValueError, match=None) as e:
        parse_stage(text)
    assert needle in str(e.value)


def test_make_divisible_rules():
    assert make_divisible(35.2) == 32      # 35.2 -> 32 (>= 90%)
    assert make_divisible(12) == 16        # nearest multiple rounds half up
    assert make_divisible(3) == 8          # never below the divisor
    assert make_divisible(41, 16) == 48    # 32 < 0.9 * 41 -> one divisor more
    assert round_filters(1280, 1.1) == 1408 and round_filters(32, 1.2) == 40 and round_filters(320, 1.4) == 448
    assert round_repeats(3, 1.1) == 4 and round_repeats(1, 3.1) == 4 and round_repeats(4, 1.0) == 4


@pytest.mark.parametrize("b,stem,head,repeats", [
    ("b0", 32, 1280, (1, 2, 2, 3, 3, 4, 1)),
    ("b3", 40, 1536, (2, 3, 3, 5, 5, 6, 2)),
    ("b7", 64, 2560, (4, 7, 7, 10, 10, 13, 4)),
])
def test_efficientnet_presets_follow_the_rounding(b, stem, head, repeats):
    spec = preset(f"efficientnet_{b}")
    assert spec.stem.width == stem and spec.head.width == head
    assert tuple(s.depth for s in spec.stages) == repeats
    assert spec.resolution == arch.EFFICIENTNET_COEFFICIENTS[b][2]


def test_a_smaller_channel_divisor_lets_every_phi_change_the_widths():
    """At a quarter of B0's width the divisor 8 holds the first stages at its floor, so phi = 1's width coefficient
    (1.1) changes only the last three widths; with divisor 2 every phi changes at least five of the nine (stem,
    seven stages, head), each stage's width never falls, and 8 stays B0's rule."""
    def widths(phi: float, divisor: int) -> list[int]:
        s = arch.efficientnet(0.25 * 1.1 ** phi, 1.0, resolution=36, divisor=divisor)
        return [s.stem.width, *(st.width for st in s.stages), s.head.width]

    assert arch.efficientnet(0.25, 1.0, resolution=36, divisor=8) == arch.efficientnet(0.25, 1.0, resolution=36)
    assert sum(a != b for a, b in zip(widths(0, 8), widths(1, 8), strict=True)) == 3
    for phi in (1, 2, 3):
        before, after = widths(phi - 1, 2), widths(phi, 2)
        assert all(a <= b for a, b in zip(before, after, strict=True))
        assert sum(a < b for a, b in zip(before, after, strict=True)) >= 5, (phi, before, after)


def test_compound_scaling():
    d, w, r = compound_multipliers(2.0, 1.2, 1.1, 1.15)
    assert (d, w, r) == pytest.approx((1.44, 1.21, 1.3225))
    spec = arch.efficientnet_compound(2.0)
    assert spec == arch.efficientnet(1.1 ** 2, 1.2 ** 2, resolution=round(224 * 1.15 ** 2))
    assert spec.resolution == 296
    # alpha * beta^2 * gamma^2 = 1.92: unrounded MACs would grow 1.92x per unit of phi; ceil rounding of the
    # repeats (1 -> 2 blocks in the first stage) and of the resolution push phi = 1 to 2.57x.
    m0, m1 = count(arch.efficientnet_compound(0.0)).macs, count(arch.efficientnet_compound(1.0)).macs
    assert m1 / m0 == pytest.approx(2.573, abs=1e-3)
    assert arch.efficientnet_compound(0.0) == arch.efficientnet()


@pytest.mark.parametrize("c,d", [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)])
def test_resnext_table2_rule(c, d):
    assert match_bottleneck_width(c) == d


def test_network_level_matching_against_brute_force():
    kw = {"width": 16, "widen": 4, "resolution": 32}
    target = count(arch.cifar_resnext(29, cardinality=1, bottleneck_width=64, **kw)).macs
    for c in (2, 4, 8):
        got = match_bottleneck_width(c, target, metric="macs", family="cifar_resnext", high=80, **kw)
        errs = {d: abs(count(arch.cifar_resnext(29, cardinality=c, bottleneck_width=d, **kw)).macs - target)
                for d in range(1, 81)}
        best = min(errs.values())
        assert errs[got] == best


def test_match_integer_tie_and_bounds():
    assert match.match_integer(lambda x: 10 * x, 25, 0, 10) == 2  # tie between 2 and 3: the smaller
    assert match.match_integer(lambda x: x, 1000, 0, 10) == 10
    assert match.match_integer(lambda x: x, -5, 0, 10) == 0
    # a plateau of equally close values: the smallest wins (bisection alone lands at the plateau's end)
    costs = [0, 1, 5, 5, 5, 5, 5, 5, 5, 5, 10, 11]
    assert match.match_integer(lambda x: costs[x], 6, 0, 11) == 2
    assert match.match_integer(lambda x: [0, 5, 5, 10][x], 6, 0, 3) == 1


def test_resnet_layouts_and_options():
    r34 = arch.resnet(34)
    assert [s.depth for s in r34.stages] == [3, 4, 6, 3] and r34.stages[0].block == "basic"
    assert arch.resnet(0, layers=(1, 1, 1, 1), block="basic").depth == 4
    assert all(s.shortcut == "none" for s in arch.plain(34).stages)
    v1 = arch.resnet(50, stride_on="1x1")
    assert count(v1).params == count(arch.resnet(50)).params
    assert count(v1).macs < count(arch.resnet(50)).macs
    assert arch.cifar_resnet(29, block="bottleneck").stages[0].width == 64
    c = arch.resnet(18, shortcut="C")
    assert count(c).params > count(arch.resnet(18)).params > count(arch.resnet(18, shortcut="A")).params


@pytest.mark.parametrize("make,needle", [
    (lambda: arch.resnet(-1), "depth: expected an integer >= 0, got -1"),
    (lambda: arch.resnet(51), "depth: expected one of 18, 34, 50"),
    (lambda: arch.resnet(50, layers=(3, 4, 6, 3), block="basic"), "does not match layers"),
    (lambda: arch.resnet(18, cardinality=4), "cardinality: grouped (ResNeXt) convs need bottleneck blocks"),
    (lambda: arch.resnet(50, shortcut="D"), "shortcut: expected one of none, id, A, B, C, got 'D'"),
    (lambda: arch.resnet(50, resolution=16), "resolution: 16 is smaller than the network's total stride 32"),
    (lambda: arch.cifar_resnet(21), "depth: basic blocks need depth = 6n+2"),
    (lambda: arch.cifar_resnet(0), "depth: expected an integer >= 1, got 0"),
    (lambda: arch.wide_resnet(30, 10), "depth: a Wide ResNet needs depth = 6n+4"),
    (lambda: arch.wide_resnet(28, 0), "k: expected an integer >= 1, got 0"),
    (lambda: arch.wide_resnet(28, 10, dropout=1.5), "dropout: expected a number in [0.0, 1.0)"),
    (lambda: arch.efficientnet(-1.0), "width_mult: expected a number in"),
    (lambda: arch.efficientnet_compound(1.0, alpha=0.0), "alpha: expected a number in"),
    (lambda: arch.cifar_resnext(29, cardinality=0), "cardinality: expected an integer >= 1, got 0"),
    (lambda: arch.mobilenet_v2(resolution=0), "resolution: expected an integer in [1, 16384], got 0"),
    (lambda: StageSpec("basic", 2, 64, kernel=4), "stage.kernel: expected an odd kernel size"),
    (lambda: StageSpec("bottleneck", 2, 256, mid=100, groups=32), "mid: the inner width 100 is not divisible"),
    (lambda: StageSpec("bottleneck", 2, 256), "mid: a bottleneck needs its inner width mid >= 1"),
    (lambda: StageSpec("basic", 2.5, 64), "stage.depth: expected an integer in [1, 10000], got 2.5"),
    (lambda: StageSpec("basic", True, 64), "stage.depth: expected an integer in [1, 10000], got True"),
    (lambda: NetSpec(StemSpec(16), (StageSpec("basic", 1, 8, shortcut="A"),)), "option A zero-pads channels"),
    (lambda: NetSpec(StemSpec(16), ()), "stages: a network needs at least one stage"),
    (lambda: preset("resnet51"), "unknown preset 'resnet51'"),
    (lambda: arch.resnet(18, stride_on="2x2"), "stride_on: expected one of 1x1, 3x3, got '2x2'"),
    (lambda: arch.resnet(0, layers=(10 ** 9, 1, 1, 1)), "layers[0]: expected an integer in [1, 10000]"),
    (lambda: arch.cifar_resnet(20, width=10 ** 14), "width: expected an integer in [1, 65536]"),
    (lambda: arch.resnet(50, resolution=10 ** 6), "resolution: expected an integer in [1, 16384]"),
    (lambda: StageSpec("basic", 2, 64, stride=16), "stage.stride: expected an integer in [1, 8]"),
])
def test_invalid_numbers_raise_naming_field_and_rule(make, needle):
    with pytest.raises(ValueError) as e:
        make()
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_from_json_rejects_unknown_keys():
    d = json.loads(preset("cifar_resnet20").to_json())
    d["colour"] = "red"
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        NetSpec.from_dict(d)
    d = json.loads(preset("cifar_resnet20").to_json())
    d["stages"][0]["colour"] = 1
    with pytest.raises(ValueError, match="stages\\[0\\]"):
        NetSpec.from_dict(d)


def test_load_netspec_from_preset_and_json(tmp_path):
    spec = load_netspec("cifar_resnet20", in_channels=1, resolution=28)
    assert (spec.in_channels, spec.resolution, spec.num_classes) == (1, 28, 10)
    path = tmp_path / "net.json"
    path.write_text(spec.to_json(indent=2))
    assert load_netspec(str(path)) == spec
    path.write_text("{not json")
    with pytest.raises(ValueError, match="net.json"):
        load_netspec(str(path))


def test_wrn_any_depth_and_k():
    spec = preset("wrn_22_2")
    assert [s.width for s in spec.stages] == [32, 64, 128] and spec.stages[0].depth == 3


def test_generators_have_introspectable_keyword_signatures():
    import inspect
    for name, gen in arch.GENERATORS.items():
        params = inspect.signature(gen).parameters
        assert {"in_channels", "num_classes", "resolution"} <= set(params) or "base_resolution" in params, name
        for p in params.values():
            assert p.default is not inspect.Parameter.empty, (name, p.name)
        assert isinstance(gen(), NetSpec)
    assert math.isclose(count(arch.anynet()).params, count(arch.anynet(("basic_d2_w64",))).params)


def test_efficientnet_stem_stride_one_halves_the_total_stride():
    """A stride-1 stem (for inputs below B0's 32 px floor): same layers, total stride 16, and at 16 px the same
    feature-map sizes after the stem, hence the same MACs, as B0's stride-2 stem at 32 px."""
    io = {"in_channels": 1, "num_classes": 10}
    b0 = arch.efficientnet(0.5, 0.5, resolution=32, **io)
    s1 = arch.efficientnet(0.5, 0.5, resolution=16, stem_stride=1, **io)
    assert (b0.stem.stride, b0.total_stride, s1.stem.stride, s1.total_stride) == (2, 32, 1, 16)
    assert s1.stages == b0.stages and s1.head == b0.head
    assert count(s1).macs == count(b0).macs and count(s1).params == count(b0).params
    assert arch.efficientnet(stem_stride=2) == arch.efficientnet()
    assert arch.efficientnet_compound(1.0, base_resolution=16, stem_stride=1, **io) == arch.efficientnet(
        1.1, 1.2, resolution=18, stem_stride=1, **io)
    with pytest.raises(FieldError, match=r"^stem_stride: expected an integer in \[1, 2\], got 3$"):
        arch.efficientnet(stem_stride=3)
    with pytest.raises(FieldError, match="resolution: 15 is smaller than the network's total stride 16"):
        arch.efficientnet(resolution=15, stem_stride=1)
