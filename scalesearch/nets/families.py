"""Family generators and scaling rules: pure functions of a few numbers that return a `NetSpec` (ResNet,
plain, ResNeXt, CIFAR ResNets, Wide ResNet, MobileNet v1/v2, EfficientNet and its compound scaling, AnyNet), and
the named rounding rules of channel and repeat scaling."""

from __future__ import annotations

import math
from collections.abc import Callable

from scalesearch.nets.specs import MAX_BLOCKS, SHORTCUTS, STRIDE_ON, HeadSpec, NetSpec, StageSpec, StemSpec, parse_stage
from scalesearch.util.checks import FieldError, check_choice, check_float, check_int

# ---------------------------------------------------------------------------------------------------------------
# Scaling rules (EfficientNet / MobileNet): named rounding, as timm `round_channels` and tv `adjust_depth`.

def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round v to the nearest multiple of `divisor`, never below `min_value` (default divisor) nor below
    `round_limit` * v (then one divisor more): the TF/EfficientNet/MobileNet channel rounding."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def round_filters(channels: int, width_mult: float, divisor: int = 8) -> int:
    """EfficientNet's channel rule: make_divisible(channels * width_mult, divisor) with the 90% floor (B0: 8)."""
    return make_divisible(channels * width_mult, divisor)


def round_repeats(repeats: int, depth_mult: float) -> int:
    """EfficientNet's depth rule: ceil(repeats * depth_mult)."""
    return math.ceil(repeats * depth_mult)


def compound_multipliers(phi: float, alpha: float, beta: float, gamma: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers alpha**phi, beta**phi, gamma**phi of compound scaling."""
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        check_float(name, v, 1e-6, 1e6, high_open=True)
    check_float("phi", phi, -16.0, 16.0)
    return alpha ** phi, beta ** phi, gamma ** phi


# ---------------------------------------------------------------------------------------------------------------
# Family generators. Each is a pure function of a few numbers returning a NetSpec; all take in_channels,
# num_classes and resolution, and raise ValueError naming the argument and the rule.

_RESNET_LAYERS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                  101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3)),
                  200: ("bottleneck", (3, 24, 36, 3))}
_BLOCK_DEPTH = {"basic": 2, "bottleneck": 3, "preact": 2}


def _resolve_layers(depth: int, block: str, layers: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    if layers:
        layers = tuple(check_int(f"layers[{i}]", n, 1, MAX_BLOCKS) for i, n in enumerate(layers))
        block = block or "bottleneck"
        check_choice("block", block, ("basic", "bottleneck"))
        implied = _BLOCK_DEPTH[block] * sum(layers) + 2
        if depth and depth != implied:
            raise FieldError("depth", problem=f"{depth} does not match layers {layers} of {block} blocks, which give "
                             f"{_BLOCK_DEPTH[block]}*{sum(layers)}+2 = {implied}; pass depth=0 or {implied}")
        return block, layers
    if depth not in _RESNET_LAYERS:
        raise FieldError("depth", problem=f"expected one of {', '.join(map(str, _RESNET_LAYERS))} (or give layers), "
                         f"got {depth!r}")
    default_block, layers = _RESNET_LAYERS[depth]
    if block and block != default_block:
        raise FieldError("block", problem=f"ResNet-{depth} uses {default_block} blocks; give layers for other layouts")
    return default_block, layers


def resnet(depth: int = 50, *, block: str = "", layers: tuple[int, ...] = (), width: int = 64,
           cardinality: int = 1, bottleneck_width: int = 64, shortcut: str = "B", stride_on: str = "3x3",
           in_channels: int = 3, num_classes: int = 1000, resolution: int = 224) -> NetSpec:
    """ImageNet-style ResNet / ResNeXt / wide ResNet (He et al.; Xie et al.; torchvision's layout).

    Four stages of planes width*2^i (strides 1,2,2,2) after a 7x7/2 conv + 3x3/2 max-pool stem. Basic blocks output
    planes; bottlenecks output 4*planes with inner width int(planes * bottleneck_width / 64) * cardinality
    (torchvision's rule: resnext50_32x4d is cardinality=32, bottleneck_width=4; wide_resnet50_2 is
    bottleneck_width=128).

    Args:
        depth: 18, 34, 50, 101, 152 or 200 (the papers' layouts), or 0 with `layers`.
        block: "basic" or "bottleneck"; "" picks the paper's block for `depth`.
        layers: blocks per stage, overriding the layout of `depth`.
        width: planes of the first stage (64).
        cardinality: groups of the bottleneck's 3x3 conv (C).
        bottleneck_width: width per group at planes=64 (d).
        shortcut: "B" (paper default), "A", "C" or "none" (a plain network).
        stride_on: "3x3" (torchvision, v1.5) or "1x1" (the paper's v1).
        in_channels, num_classes, resolution: input shape and classes.
    """
    block, layers = _resolve_layers(check_int("depth", depth, 0), block, tuple(layers))
    check_choice("stride_on", stride_on, STRIDE_ON)
    check_choice("shortcut", shortcut, SHORTCUTS)
    width = check_int("width", width, 1)
    cardinality = check_int("cardinality", cardinality, 1)
    bottleneck_width = check_int("bottleneck_width", bottleneck_width, 1)
    if block == "basic" and (cardinality != 1 or bottleneck_width != 64):
        raise FieldError("cardinality", problem="grouped (ResNeXt) convs need bottleneck blocks; basic blocks take "
                         "cardinality=1, bottleneck_width=64")
    stages = []
    for i, n in enumerate(layers):
        planes = width * 2 ** i
        stride = 1 if i == 0 else 2
        if block == "basic":
            stages.append(StageSpec("basic", n, planes, stride, shortcut=shortcut))
        else:
            mid = int(planes * (bottleneck_width / 64.0)) * cardinality
            if mid < 1:
                raise FieldError("bottleneck_width",
                                 problem=f"{bottleneck_width} gives an inner width of 0 at planes {planes}")
            stages.append(StageSpec("bottleneck", n, planes * 4, stride, mid=mid, groups=cardinality,
                                    shortcut=shortcut, stride_on=stride_on))
    return NetSpec(StemSpec(width, kernel=7, stride=2, pool=True), tuple(stages), HeadSpec(),
                   in_channels, num_classes, resolution)


def plain(depth: int = 34, *, block: str = "", layers: tuple[int, ...] = (), width: int = 64,
          in_channels: int = 3, num_classes: int = 1000, resolution: int = 224) -> NetSpec:
    """An ImageNet-style plain network: `resnet` without shortcuts (the paper's degradation experiment)."""
    return resnet(depth, block=block, layers=layers, width=width, shortcut="none", in_channels=in_channels,
                  num_classes=num_classes, resolution=resolution)


def resnext(depth: int = 50, *, cardinality: int = 32, bottleneck_width: int = 4, layers: tuple[int, ...] = (),
            width: int = 64, shortcut: str = "B", stride_on: str = "3x3", in_channels: int = 3,
            num_classes: int = 1000, resolution: int = 224) -> NetSpec:
    """ImageNet ResNeXt-`depth` with cardinality C and bottleneck width d (Xie et al.): `resnet` with grouped
    bottlenecks of inner width C*d*2^i."""
    return resnet(depth if not layers else 0, block="bottleneck", layers=layers, width=width,
                  cardinality=cardinality, bottleneck_width=bottleneck_width, shortcut=shortcut,
                  stride_on=stride_on, in_channels=in_channels, num_classes=num_classes, resolution=resolution)


def _cifar_blocks_per_stage(depth: int, block: str, per_block: int) -> int:
    depth = check_int("depth", depth, 1)
    n, rem = divmod(depth - 2, 3 * per_block)
    if rem or n < 1:
        raise FieldError("depth", problem=f"{block} blocks need depth = {3 * per_block}n+2 with n >= 1 "
                         f"(e.g. {3 * per_block + 2}, {6 * per_block + 2}), got {depth}")
    return n


def cifar_resnet(depth: int = 20, *, width: int = 16, block: str = "basic", shortcut: str = "A",
                 in_channels: int = 3, num_classes: int = 10, resolution: int = 32) -> NetSpec:
    """CIFAR ResNet-`depth` (He et al. Sec. 4.2): 3x3 stem of `width`, three stages of n blocks with widths
    width, 2*width, 4*width (strides 1,2,2), depth = 6n+2 for basic blocks (9n+2 for bottlenecks, which output
    4x their inner width); option A shortcuts as in the paper."""
    check_choice("block", block, ("basic", "bottleneck"))
    n = _cifar_blocks_per_stage(depth, block, _BLOCK_DEPTH[block])
    width = check_int("width", width, 1)
    stages = []
    for i in range(3):
        w = width * 2 ** i
        if block == "basic":
            stages.append(StageSpec("basic", n, w, 1 if i == 0 else 2, shortcut=shortcut))
        else:
            stages.append(StageSpec("bottleneck", n, 4 * w, 1 if i == 0 else 2, mid=w, shortcut=shortcut))
    return NetSpec(StemSpec(width), tuple(stages), HeadSpec(), in_channels, num_classes, resolution)


def cifar_plain(depth: int = 20, *, width: int = 16, in_channels: int = 3, num_classes: int = 10,
                resolution: int = 32) -> NetSpec:
    """CIFAR plain-`depth` network: `cifar_resnet` without shortcuts (He et al. Fig. 6)."""
    return cifar_resnet(depth, width=width, shortcut="none", in_channels=in_channels, num_classes=num_classes,
                        resolution=resolution)


def wide_resnet(depth: int = 28, k: int = 10, *, dropout: float = 0.0, width: int = 16, in_channels: int = 3,
                num_classes: int = 10, resolution: int = 32) -> NetSpec:
    """WRN-depth-k (Zagoruyko & Komodakis): a bare 3x3 conv stem of `width` (16), three stages of (depth-4)/6
    pre-activation basic blocks of widths width*k, 2*width*k, 4*width*k (strides 1,2,2), 1x1 projections where
    the shape changes, optional dropout between the convs, and a final BN + ReLU before pooling."""
    depth = check_int("depth", depth, 1)
    n, rem = divmod(depth - 4, 6)
    if rem or n < 1:
        raise FieldError("depth", problem=f"a Wide ResNet needs depth = 6n+4 with n >= 1 (e.g. 16, 28, 40), got "
                         f"{depth}")
    k = check_int("k", k, 1)
    width = check_int("width", width, 1)
    stages = tuple(StageSpec("preact", n, width * k * 2 ** i, 1 if i == 0 else 2, dropout=dropout)
                   for i in range(3))
    return NetSpec(StemSpec(width, norm_act=False), stages, HeadSpec(preact=True), in_channels, num_classes,
                   resolution)


def cifar_resnext(depth: int = 29, *, cardinality: int = 8, bottleneck_width: int = 64, width: int = 64,
                  widen: int = 4, in_channels: int = 3, num_classes: int = 10, resolution: int = 32) -> NetSpec:
    """CIFAR ResNeXt-`depth` CxDd (Xie et al. Sec. 5.3): a 3x3 stem of `width` (64), three stages of (depth-2)/9
    bottlenecks with output widths width*widen*2^i (256, 512, 1024) and inner width C*d*2^i (strides 1,2,2).
    cardinality=1 gives the matching ResNet; for a narrower proxy scale down width and bottleneck_width."""
    n = _cifar_blocks_per_stage(depth, "bottleneck", 3)
    c = check_int("cardinality", cardinality, 1)
    d = check_int("bottleneck_width", bottleneck_width, 1)
    width = check_int("width", width, 1)
    widen = check_int("widen", widen, 1)
    stages = tuple(StageSpec("bottleneck", n, width * widen * 2 ** i, 1 if i == 0 else 2, mid=c * d * 2 ** i,
                             groups=c) for i in range(3))
    return NetSpec(StemSpec(width), stages, HeadSpec(), in_channels, num_classes, resolution)


# MobileNet v1 (Howard et al. Table 1): (output channels, stride) of the 13 depthwise-separable blocks.
_MOBILENET_V1 = ((64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 2, 6), (1024, 2, 2))
# MobileNet v2 (Sandler et al. Table 2): expansion t, channels c, repeats n, stride s.
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))
# EfficientNet-B0 (Tan & Le Table 1): expansion, kernel, stride, channels, repeats.
EFFICIENTNET_B0 = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                   (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
# Released coefficients: (width, depth, resolution, dropout) of B0..B7.
EFFICIENTNET_COEFFICIENTS = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}


def mobilenet_v1(width_mult: float = 1.0, *, dropout: float = 0.0, in_channels: int = 3, num_classes: int = 1000,
                 resolution: int = 224) -> NetSpec:
    """MobileNet v1: 3x3/2 conv stem of 32 then 13 depthwise-separable blocks; channels int(c * width_mult)
    (the paper's alpha), at least 8."""
    wm = check_float("width_mult", width_mult, 1e-3, 16.0, high_open=True)
    ch = lambda c: max(8, int(c * wm))
    stages = tuple(StageSpec("dwsep", n, ch(c), s, shortcut="none") for c, s, n in _MOBILENET_V1)
    return NetSpec(StemSpec(ch(32), stride=2), stages, HeadSpec(dropout=dropout), in_channels, num_classes,
                   resolution)


def mobilenet_v2(width_mult: float = 1.0, *, dropout: float = 0.2, in_channels: int = 3, num_classes: int = 1000,
                 resolution: int = 224) -> NetSpec:
    """MobileNet v2: inverted residual (MBConv without SE, ReLU6) stages of Table 2; channels
    make_divisible(c * width_mult, 8); a 1x1 head conv of make_divisible(1280 * max(1, width_mult), 8)."""
    wm = check_float("width_mult", width_mult, 1e-3, 16.0, high_open=True)
    stages = tuple(StageSpec("mbconv", n, make_divisible(c * wm), s, expand=t, shortcut="id", act="relu6")
                   for t, c, n, s in _MOBILENET_V2)
    head = HeadSpec(width=make_divisible(1280 * max(1.0, wm)), dropout=dropout, act="relu6")
    return NetSpec(StemSpec(make_divisible(32 * wm), stride=2, act="relu6"), stages, head, in_channels,
                   num_classes, resolution)


def efficientnet(width_mult: float = 1.0, depth_mult: float = 1.0, *, resolution: int = 224, dropout: float = 0.2,
                 drop_path: float = 0.2, se: float = 0.25, stem_stride: int = 2, stage_strides: str = "1222121",
                 divisor: int = 8, in_channels: int = 3, num_classes: int = 1000) -> NetSpec:
    """EfficientNet-B0 scaled by width and depth multipliers (Tan & Le): MBConv stages of the B0 table with SE
    (ratio `se` of each block's input channels) and swish; channels round_filters(c, width_mult) (divisor 8, never
    below 90%), stem 32 and head 1280 included; repeats ceil(n * depth_mult); stochastic depth `drop_path`.
    `stem_stride` 2 is B0's (total stride 32); 1 keeps the stem at full resolution (total stride 16), for small
    inputs: at 16 px it costs what B0's layout costs at 32 px. `stage_strides`, one digit (1 or 2) per stage of the
    B0 table, is B0's "1222121" by default; a proxy at a few tens of pixels drops one 2 (e.g. "1221121": total
    stride 8 with the stride-1 stem) so that no stage runs on a 2x2 or 1x1 map, where 3x3 and 5x5 depthwise
    kernels degenerate (`scalesearch count` shows each stage's resolution). `divisor` is the channel rounding's
    multiple, B0's 8 by default; a proxy a quarter of B0's width has most stages at that floor, where a width
    coefficient of 1.1 changes no channel count: a smaller divisor (2) lets every phi change the widths."""
    wm = check_float("width_mult", width_mult, 1e-3, 16.0, high_open=True)
    dm = check_float("depth_mult", depth_mult, 1e-3, 16.0, high_open=True)
    divisor = check_int("divisor", divisor, 1, 64)
    if not (isinstance(stage_strides, str) and len(stage_strides) == len(EFFICIENTNET_B0)
            and set(stage_strides) <= {"1", "2"}):
        raise FieldError("stage_strides", f"{len(EFFICIENTNET_B0)} digits, each 1 or 2 (B0: '1222121')",
                         stage_strides)
    stages = tuple(StageSpec("mbconv", round_repeats(n, dm), round_filters(c, wm, divisor), int(s), kernel=k,
                             expand=e, se=se, shortcut="id", act="silu")
                   for (e, k, _, c, n), s in zip(EFFICIENTNET_B0, stage_strides, strict=True))
    head = HeadSpec(width=round_filters(1280, wm, divisor), dropout=dropout, act="silu")
    stem_stride = check_int("stem_stride", stem_stride, 1, 2)
    return NetSpec(StemSpec(round_filters(32, wm, divisor), stride=stem_stride, act="silu"), stages, head, in_channels,
                   num_classes, resolution, drop_path=drop_path)


def efficientnet_compound(phi: float = 1.0, *, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15,
                          base_resolution: int = 224, dropout: float = 0.2, drop_path: float = 0.2,
                          stem_stride: int = 2, stage_strides: str = "1222121", divisor: int = 8,
                          in_channels: int = 3, num_classes: int = 1000) -> NetSpec:
    """EfficientNet-B0 compound-scaled by phi: depth alpha**phi, width beta**phi, resolution
    round(base_resolution * gamma**phi) (Tan & Le eq. 3; the paper's alpha, beta, gamma = 1.2, 1.1, 1.15)."""
    d, w, r = compound_multipliers(phi, alpha, beta, gamma)
    base_resolution = check_int("base_resolution", base_resolution, 1)
    return efficientnet(w, d, resolution=max(1, round(float(base_resolution * r))), dropout=dropout,
                        drop_path=drop_path, stem_stride=stem_stride, stage_strides=stage_strides,
                        divisor=divisor, in_channels=in_channels, num_classes=num_classes)


def anynet(stages: tuple[str, ...] = ("basic_d2_w64",), *, stem_width: int = 32, stem_kernel: int = 3,
           stem_stride: int = 1, stem_pool: bool = False, head_width: int = 0, preact: bool = False,
           act: str = "relu", dropout: float = 0.0, drop_path: float = 0.0, in_channels: int = 3,
           num_classes: int = 1000, resolution: int = 224) -> NetSpec:
    """Any network from stage strings (see `parse_stage`), e.g. ("basic_d2_w64", "bottleneck_d3_w256_s2_m64")."""
    if isinstance(stages, str):
        stages = (stages,)
    stem = StemSpec(stem_width, kernel=stem_kernel, stride=stem_stride, pool=stem_pool, norm_act=not preact, act=act)
    head = HeadSpec(width=head_width, preact=preact, dropout=dropout, act=act)
    return NetSpec(stem, tuple(parse_stage(s) for s in stages), head, in_channels, num_classes, resolution,
                   drop_path)


GENERATORS: dict[str, Callable[..., NetSpec]] = {
    f.__name__: f for f in (resnet, plain, resnext, cifar_resnet, cifar_plain, wide_resnet, cifar_resnext,
                            mobilenet_v1, mobilenet_v2, efficientnet, efficientnet_compound, anynet)
}
