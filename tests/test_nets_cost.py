"""Analytic costs against built models, torchvision's reference implementations, thop and the papers."""

from __future__ import annotations

import pytest
import torch

from scalesearch import nets as arch
from scalesearch.nets import preset
from scalesearch.nets.build import build_model
from scalesearch.nets.cost import count, count_model, format_table, measure_latency, thop_count

# Exact parameter counts: the issue's figures (torchvision 0.29.1 for ImageNet models at 1000 classes; the
# CIFAR models at 3x32x32 and 10 classes).
EXPECTED_PARAMS = {
    "resnet18": 11_689_512, "resnet50": 25_557_032, "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240, "efficientnet_b0": 5_288_548, "efficientnet_b3": 12_233_232,
    "cifar_resnet20": 269_722, "cifar_resnet56": 853_018, "wrn_28_10": 36_479_194,
    # the usual CIFAR references (He et al. Table 6: 0.27M .. 19.4M; ResNeXt-29 8x64d 34.4M; WRN-40-4 8.9M)
    "cifar_resnet32": 464_154, "cifar_resnet44": 658_586, "cifar_resnet110": 1_727_962,
    "cifar_resnet1202": 19_421_274, "resnext29_8x64d": 34_426_698, "wrn_16_8": 10_961_370, "wrn_40_4": 8_949_210,
}

TORCHVISION_PRESETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                       "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
                       "mobilenet_v2"] + [f"efficientnet_b{i}" for i in range(8)]


@pytest.mark.parametrize("name,params", sorted(EXPECTED_PARAMS.items()))
def test_params_match_the_issue_figures(name, params):
    assert count(preset(name)).params == params
    with torch.device("meta"):  # shapes without weights: the count needs no initialised tensor
        assert sum(p.numel() for p in build_model(preset(name)).parameters()) == params


@pytest.mark.parametrize("name", TORCHVISION_PRESETS)
def test_params_match_torchvision(tv_models, name):
    with torch.device("meta"):  # torchvision's module as it builds it, without initialising its weights
        ref = getattr(tv_models, name)()
    assert count(preset(name)).params == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("name", TORCHVISION_PRESETS[:5] + ["resnext50_32x4d", "mobilenet_v2", "efficientnet_b0"])
def test_macs_match_torchvision_models(tv_models, name):
    """Our analytic MACs equal the conv+linear MACs counted on torchvision's own module."""
    spec = preset(name)
    with torch.device("meta"):
        ref = getattr(tv_models, name)()
    counted = count_model(ref, (3, spec.resolution, spec.resolution))
    assert count(spec).macs == counted["macs"]


@pytest.mark.parametrize("name", arch.preset_names())
def test_analytic_cost_equals_the_built_model(name):
    """Every preset, built as `build_model` builds it, on the meta device (shapes without weights: B7 at 600 px
    costs no allocation); the CPU build is counted by the flop-counter and thop checks below."""
    spec = preset(name)
    c = count(spec)
    with torch.device("meta"):
        model = build_model(spec)
    assert all(p.is_meta for p in model.parameters())
    counted = count_model(model, (spec.in_channels, spec.resolution, spec.resolution))
    assert (c.params, c.macs, c.acts) == (counted["params"], counted["macs"], counted["acts"])
    assert sum(p.params for p in c.parts) == c.params and sum(p.macs for p in c.parts) == c.macs


@pytest.mark.parametrize("name", ["resnet18", "resnet50_v1", "resnext50_32x4d", "efficientnet_b0", "mobilenet_v1",
                                  "wrn_16_4", "cifar_resnet20"])
def test_flop_counter_agrees(name):
    """torch.utils.flop_counter counts 2 FLOPs per MAC of conv and matmul."""
    from torch.utils.flop_counter import FlopCounterMode

    spec = preset(name)
    model = build_model(spec).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution))
    assert fc.get_total_flops() == 2 * count(spec).macs


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "efficientnet_b0",
                                  "mobilenet_v2", "cifar_resnet20", "wrn_28_10", "resnet34"])
def test_thop_cross_check_is_exact(name):
    spec = preset(name)
    model = build_model(spec)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs, params = thop_count(model, (spec.in_channels, spec.resolution, spec.resolution))
    c = count(spec)
    assert (macs, params) == (c.macs, c.params)
    # thop profiled a copy: the caller's model has no extra buffers and unchanged weights
    after = model.state_dict()
    assert set(after) == set(before) and all(torch.equal(before[k], after[k]) for k in before)


# The papers' "FLOPs" (multiply-adds): ResNet v1 with the stride on the first 1x1 (He et al.), EfficientNet
# Table 2, MobileNet v1 Table 8 (569M).
PAPER_MACS = {
    "resnet18": 1.8e9, "resnet34": 3.6e9, "resnet50_v1": 3.8e9, "resnet101_v1": 7.6e9, "resnet152_v1": 11.3e9,
    "efficientnet_b0": 0.39e9, "efficientnet_b1": 0.70e9, "efficientnet_b2": 1.0e9, "efficientnet_b3": 1.8e9,
    "efficientnet_b4": 4.2e9, "mobilenet_v1": 569e6, "mobilenet_v2": 300e6,
}


@pytest.mark.parametrize("name,paper", sorted(PAPER_MACS.items()))
def test_macs_within_5_percent_of_the_papers(name, paper):
    assert abs(count(preset(name)).macs / paper - 1) <= 0.05


def test_resnet_v1_vs_v1_5_figures():
    """The paper's 3.86/7.57/11.28 G need the stride on the 1x1; torchvision's layout gives 4.09/7.80/11.51 G."""
    got = [round(count(preset(n)).macs / 1e9, 2) for n in ("resnet50_v1", "resnet101_v1", "resnet152_v1",
                                                             "resnet50", "resnet101", "resnet152")]
    assert got == [3.86, 7.57, 11.28, 4.09, 7.8, 11.51]


def test_costing_time_does_not_grow_with_depth(monkeypatch):
    """Blocks 2..d of a stage are costed once: a 10,000-block stage costs like a 2-block one. Counted in calls of
    the block's cost function (two per stage of depth > 1, one otherwise), not timed: a clock would pass a
    per-block loop on a fast machine and could fail the right code on a busy one."""
    import dataclasses

    from scalesearch.nets.blocks import BLOCKS

    calls = []
    basic = BLOCKS["basic"]

    def counted(*args, **kw):
        calls.append(1)
        return basic.cost(*args, **kw)

    monkeypatch.setitem(BLOCKS, "basic", dataclasses.replace(basic, cost=counted))
    deep = arch.resnet(0, layers=(10_000, 1, 1, 1), block="basic", width=8, resolution=32)
    c = count(deep)
    assert len(calls) == 2 + 1 + 1 + 1  # the first block and one other of the deep stage, one per other stage
    monkeypatch.undo()
    assert c.stages[0].params == 10_000 * count(arch.resnet(0, layers=(1, 1, 1, 1), block="basic",
                                                             width=8)).stages[0].params


def test_cost_scales_with_resolution_and_io():
    base = preset("cifar_resnet20")
    assert count(base.with_io(resolution=64)).macs > 3.9 * count(base).macs
    assert count(base.with_io(num_classes=100)).params == count(base).params + 64 * 90 + 90
    assert count(base.with_io(in_channels=1)).params == count(base).params - 2 * 9 * 16


def test_per_stage_breakdown_and_table():
    c = count(preset("resnet50"))
    assert [p.name for p in c.parts] == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [p.resolution for p in c.parts] == [56, 56, 28, 14, 7, 1]
    assert c.stages[3].channels == 2048
    table = format_table(preset("resnet50"), c)
    assert "25,557,032" in table and "4,089,184,256" in table and "bottleneck_d6_w1024_s2_m256" in table


def test_latency_is_positive():
    spec = preset("cifar_resnet20").with_io(resolution=16)
    assert 0 < measure_latency(build_model(spec), (3, 16, 16), repeats=3) < 5000


@pytest.mark.parametrize("resolution", [16, 23])
def test_efficientnet_stem_stride_one_counts_exactly(resolution):
    """The rediscovery's proxy B0 (stride-1 stem, 16-23 px): analytic cost = hooks on the built model = thop."""
    spec = arch.efficientnet(0.5, 0.6, resolution=resolution, stem_stride=1, in_channels=1, num_classes=10)
    model = build_model(spec)
    counted = count_model(model, (1, resolution, resolution))
    c = count(spec)
    assert (c.params, c.macs, c.acts) == (counted["params"], counted["macs"], counted["acts"])
    assert thop_count(model, (1, resolution, resolution)) == (c.macs, c.params)
