"""Residual network families as data: frozen specs, family generators, scaling rules and presets.

A network is a `NetSpec`: a stem, a tuple of `StageSpec`s and a head, plus its input shape and classes. Specs are
frozen and hashable, have a canonical JSON form and a stable `hash` (the dedupe key of a search), and are
changed only by deriving new ones (`dataclasses.replace`, `NetSpec.with_io`). Every generator below is a pure
function of a few numbers that returns a `NetSpec`; `build.build_model` turns one into a module and
`cost.count` costs it analytically without building anything.

Legend (as in pycls): w = width (output channels), d = depth (blocks in a stage), s = stride, g = groups
(ResNeXt cardinality C), m = mid width (a bottleneck's inner width; ResNeXt's C * d), k = kernel size,
e = expansion ratio (MBConv), se = squeeze-excitation ratio (of the block's input channels), r = resolution.

Blocks (see `blocks.BLOCKS`): `basic` (two kxk convs, post-activation), `bottleneck` (1x1, grouped kxk, 1x1),
`preact` (pre-activation basic block of Wide ResNets, dropout between the convs), `mbconv` (inverted residual
with optional SE), `dwsep` (MobileNet v1 depthwise-separable conv).

Shortcuts: `none` (plain network), `id` (identity where input and output shapes agree, none elsewhere:
MobileNetV2/EfficientNet), `A` (identity; where the shape changes, strided subsampling and zero-padded channels:
parameter-free), `B` (identity; 1x1 projection where the shape changes), `C` (1x1 projection on every block).

Example:
    >>> from scalesearch.arch import preset, resnet
    >>> preset("resnet50") == resnet(50)
    True
    >>> preset("cifar_resnet20").hash == preset("cifar_resnet20").hash
    True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

BLOCKS = ("basic", "bottleneck", "preact", "mbconv", "dwsep")
SHORTCUTS = ("none", "id", "A", "B", "C")
ACTIVATIONS = ("relu", "relu6", "silu")
STRIDE_ON = ("1x1", "3x3")

# Which StageSpec fields each block reads; any other field must keep its default (so that two specs that build
# the same network are equal and hash alike).
_BLOCK_FIELDS = {
    "basic": {"kernel", "shortcut", "dropout", "act"},
    "bottleneck": {"mid", "groups", "kernel", "shortcut", "stride_on", "dropout", "act"},
    "preact": {"kernel", "shortcut", "dropout", "act"},
    "mbconv": {"kernel", "expand", "se", "shortcut", "act"},
    "dwsep": {"kernel", "shortcut", "act"},
}
_OPTIONAL_STAGE_FIELDS = ("mid", "groups", "kernel", "expand", "se", "stride_on", "dropout")


# Upper bounds far beyond any real network: they keep a typo (or width = 10**14 in a spec) a clear error rather
# than an hour of costing or an out-of-memory build.
MAX_WIDTH = 2 ** 16
MAX_DEPTH = 10_000
MAX_RESOLUTION = 2 ** 14
MAX_KERNEL = 31
MAX_CLASSES = 10 ** 6


def _int(name: str, v: Any, low: int = 1, high: int | None = None) -> int:
    """Check that v is an integer in [low, high] (bools and non-integral floats rejected); return it as int."""
    rule = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(f"{name}: expected an integer {rule}, got {v!r}")
    if v < low or (high is not None and v > high):
        raise ValueError(f"{name}: expected an integer {rule}, got {v!r}")
    return int(v)


def _float(name: str, v: Any, low: float, high: float, high_open: bool = True) -> float:
    """Check that v is a number in [low, high) (or [low, high]); return it as float."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name}: expected a number, got {v!r}")
    if v < low or (v >= high if high_open else v > high):
        bound = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{name}: expected a number in {bound}, got {v!r}")
    return float(v)


def _choice(name: str, v: Any, options: tuple[str, ...]) -> str:
    if v not in options:
        raise ValueError(f"{name}: expected one of {', '.join(options)}, got {v!r}")
    return v


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class StemSpec:
    """The input stem: a kxk conv (no bias), then BN + activation unless `norm_act` is False (pre-activation
    nets), then a 3x3/2 max-pool if `pool` (the ImageNet ResNet stem)."""

    width: int
    kernel: int = 3
    stride: int = 1
    pool: bool = False
    norm_act: bool = True
    act: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "width", _int("stem.width", self.width, 1, MAX_WIDTH))
        _set(self, "kernel", _int("stem.kernel", self.kernel, 1, MAX_KERNEL))
        if self.kernel % 2 == 0:
            raise ValueError(f"stem.kernel: expected an odd kernel size, got {self.kernel}")
        _set(self, "stride", _int("stem.stride", self.stride, 1, 8))
        _set(self, "pool", bool(self.pool))
        _set(self, "norm_act", bool(self.norm_act))
        _choice("stem.act", self.act, ACTIVATIONS)

    @property
    def total_stride(self) -> int:
        return self.stride * (2 if self.pool else 1)


@dataclass(frozen=True)
class StageSpec:
    """`depth` blocks of one kind; the first has stride `stride` and takes the previous stage's width.

    Attributes:
        block: one of BLOCKS.
        depth: number of blocks (d).
        width: output channels of every block (w).
        stride: stride of the stage's first block (s).
        mid: a bottleneck's inner width (m = groups * group width); 0 for other blocks.
        groups: groups of a bottleneck's kxk conv (ResNeXt cardinality C); mid must be divisible by it.
        kernel: kernel size of the spatial convs (k).
        expand: MBConv expansion ratio (e): inner width = round(w_in * e).
        se: squeeze-excitation ratio of the block's input channels (MBConv), 0 = no SE.
        shortcut: one of SHORTCUTS.
        stride_on: which conv of a bottleneck carries the stride: "1x1" (ResNet paper, v1) or "3x3" (v1.5).
        dropout: dropout probability between the convs (Wide ResNet).
        act: activation, one of ACTIVATIONS.
    """

    block: str
    depth: int
    width: int
    stride: int = 1
    mid: int = 0
    groups: int = 1
    kernel: int = 3
    expand: float = 1.0
    se: float = 0.0
    shortcut: str = "B"
    stride_on: str = "3x3"
    dropout: float = 0.0
    act: str = "relu"

    def __post_init__(self) -> None:
        self._validate("stage")

    def _validate(self, where: str) -> None:
        _choice(f"{where}.block", self.block, BLOCKS)
        _set(self, "depth", _int(f"{where}.depth", self.depth, 1, MAX_DEPTH))
        _set(self, "width", _int(f"{where}.width", self.width, 1, MAX_WIDTH))
        _set(self, "stride", _int(f"{where}.stride", self.stride, 1, 8))
        _set(self, "mid", _int(f"{where}.mid", self.mid, 0, MAX_WIDTH))
        _set(self, "groups", _int(f"{where}.groups", self.groups, 1, MAX_WIDTH))
        _set(self, "kernel", _int(f"{where}.kernel", self.kernel, 1, MAX_KERNEL))
        if self.kernel % 2 == 0:
            raise ValueError(f"{where}.kernel: expected an odd kernel size, got {self.kernel}")
        _set(self, "expand", _float(f"{where}.expand", self.expand, 1.0, 64.0, high_open=False))
        _set(self, "se", _float(f"{where}.se", self.se, 0.0, 1.0, high_open=False))
        _choice(f"{where}.shortcut", self.shortcut, SHORTCUTS)
        _choice(f"{where}.stride_on", self.stride_on, STRIDE_ON)
        _set(self, "dropout", _float(f"{where}.dropout", self.dropout, 0.0, 1.0))
        _choice(f"{where}.act", self.act, ACTIVATIONS)
        used = _BLOCK_FIELDS[self.block]
        defaults = _STAGE_DEFAULTS
        for name in _OPTIONAL_STAGE_FIELDS:
            if name not in used and getattr(self, name) != defaults[name]:
                raise ValueError(f"{where}.{name}: not used by block '{self.block}'; leave it at its default "
                                 f"{defaults[name]!r}, got {getattr(self, name)!r}")
        if self.block == "bottleneck":
            if self.mid < 1:
                raise ValueError(f"{where}.mid: a bottleneck needs its inner width mid >= 1, got {self.mid}")
            if self.mid % self.groups:
                raise ValueError(f"{where}.mid: the inner width {self.mid} is not divisible by the "
                                 f"cardinality groups={self.groups}")
        if self.shortcut == "A" and self.block in ("mbconv", "dwsep"):
            raise ValueError(f"{where}.shortcut: option A applies to basic, bottleneck and preact blocks only")


_STAGE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(StageSpec) if f.default is not dataclasses.MISSING}


@dataclass(frozen=True)
class HeadSpec:
    """The classifier head: optional 1x1 conv to `width` (+ BN + act), optional final BN + act of pre-activation
    nets (`preact`), global average pooling, dropout, and a linear layer to the classes."""

    width: int = 0
    preact: bool = False
    dropout: float = 0.0
    act: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "width", _int("head.width", self.width, 0, MAX_WIDTH))
        _set(self, "preact", bool(self.preact))
        if self.width and self.preact:
            raise ValueError("head.preact: a head with a 1x1 conv (width > 0) cannot also be pre-activation")
        _set(self, "dropout", _float("head.dropout", self.dropout, 0.0, 1.0))
        _choice("head.act", self.act, ACTIVATIONS)


def _stage_from(obj: Any, where: str) -> StageSpec:
    if isinstance(obj, StageSpec):
        return obj
    if isinstance(obj, str):
        return parse_stage(obj)
    if isinstance(obj, dict):
        try:
            return StageSpec(**obj)
        except TypeError as e:
            raise ValueError(f"{where}: {e}") from None
    raise ValueError(f"{where}: expected a StageSpec, a stage string or a mapping, got {type(obj).__name__}")


@dataclass(frozen=True)
class NetSpec:
    """A whole network: stem, stages and head, with its input shape and number of classes.

    Attributes:
        stem: the StemSpec.
        stages: the StageSpecs, in order.
        head: the HeadSpec.
        in_channels: input channels (3 for RGB, 1 for Fashion-MNIST).
        num_classes: classifier outputs.
        resolution: input height = width.
        drop_path: stochastic-depth rate of the last block, scaled linearly from 0 over the blocks (EfficientNet).
    """

    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head: HeadSpec = field(default_factory=HeadSpec)
    in_channels: int = 3
    num_classes: int = 1000
    resolution: int = 224
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.stem, dict):
            _set(self, "stem", StemSpec(**self.stem))
        if isinstance(self.head, dict):
            _set(self, "head", HeadSpec(**self.head))
        if not isinstance(self.stem, StemSpec) or not isinstance(self.head, HeadSpec):
            raise ValueError("stem/head: expected StemSpec and HeadSpec values")
        if isinstance(self.stages, (str, bytes)) or not isinstance(self.stages, (list, tuple)):
            raise ValueError(f"stages: expected a sequence of stages, got {type(self.stages).__name__}")
        if not self.stages:
            raise ValueError("stages: a network needs at least one stage")
        _set(self, "stages", tuple(_stage_from(s, f"stages[{i}]") for i, s in enumerate(self.stages)))
        _set(self, "in_channels", _int("in_channels", self.in_channels, 1, MAX_WIDTH))
        _set(self, "num_classes", _int("num_classes", self.num_classes, 1, MAX_CLASSES))
        _set(self, "resolution", _int("resolution", self.resolution, 1, MAX_RESOLUTION))
        _set(self, "drop_path", _float("drop_path", self.drop_path, 0.0, 1.0))
        if self.resolution < self.total_stride:
            raise ValueError(f"resolution: {self.resolution} is smaller than the network's total stride "
                             f"{self.total_stride}; expected resolution >= {self.total_stride}")
        w_in = self.stem.width
        for i, st in enumerate(self.stages):
            if st.shortcut == "A" and st.width < w_in:
                raise ValueError(f"stages[{i}].shortcut: option A zero-pads channels, so width {st.width} must "
                                 f"be >= the stage's input width {w_in}")
            w_in = st.width

    @property
    def total_stride(self) -> int:
        """Product of every stride in the network (stem, pool and stages)."""
        return self.stem.total_stride * math.prod(s.stride for s in self.stages)

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return sum(s.depth for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (all fields, stages as a list)."""
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON: sorted keys, all fields; `NetSpec.from_json(s.to_json()) == s`."""
        if indent is None:
            return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NetSpec":
        """Inverse of `to_dict`; unknown keys are errors."""
        if not isinstance(d, dict):
            raise ValueError(f"NetSpec: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"NetSpec: unknown key {unknown[0]!r}; expected keys among {', '.join(sorted(known))}")
        if "stem" not in d or "stages" not in d:
            raise ValueError("NetSpec: 'stem' and 'stages' are required")
        try:
            return cls(**d)
        except TypeError as e:  # an unknown or missing field inside stem/stage/head
            raise ValueError(f"NetSpec: {e}") from None

    @classmethod
    def from_json(cls, s: str) -> "NetSpec":
        """Parse the JSON form (canonical or not)."""
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"NetSpec JSON: {e}") from None
        return cls.from_dict(d)

    @functools.cached_property
    def hash(self) -> str:
        """Stable 16-hex-digit hash of the canonical JSON (sha256): equal specs, equal hash, on any machine."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def with_io(self, in_channels: int | None = None, num_classes: int | None = None,
                resolution: int | None = None) -> "NetSpec":
        """A copy with another input shape or number of classes (None keeps the current value)."""
        return dataclasses.replace(
            self,
            in_channels=self.in_channels if in_channels is None else in_channels,
            num_classes=self.num_classes if num_classes is None else num_classes,
            resolution=self.resolution if resolution is None else resolution,
        )

    def describe(self) -> str:
        """One line per stage in the stage-string DSL."""
        return " | ".join(format_stage(s) for s in self.stages)


# ---------------------------------------------------------------------------------------------------------------
# Stage strings: a compact DSL for stages (timm `_decode_block_str` style), used in spec files and reports.
# Grammar: BLOCK ( "_" TOKEN )*, BLOCK one of BLOCKS; TOKEN is a key followed by its value, with no separator:
#   d<int> depth (required)   w<int> width (required)  s<int> stride        m<int> mid width     g<int> groups
#   k<int> kernel             e<num> expand            se<num> SE ratio     sc<A|B|C|id|none> shortcut
#   so<1x1|3x3> stride_on     dr<num> dropout          a<relu|relu6|silu> activation
# Only tokens that differ from the defaults are written, in the order above. Example: "bottleneck_d3_w256_s2_m128_g32".
_TOKENS = (("se", "se"), ("sc", "shortcut"), ("so", "stride_on"), ("dr", "dropout"), ("d", "depth"),
           ("w", "width"), ("s", "stride"), ("m", "mid"), ("g", "groups"), ("k", "kernel"), ("e", "expand"),
           ("a", "act"))
_TOKEN_ORDER = ("depth", "width", "stride", "mid", "groups", "kernel", "expand", "se", "shortcut", "stride_on",
                "dropout", "act")
_TOKEN_KEY = {name: key for key, name in _TOKENS}
_NUM_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def format_stage(st: StageSpec) -> str:
    """The stage string of a StageSpec; `parse_stage(format_stage(s)) == s`."""
    parts = [st.block]
    for name in _TOKEN_ORDER:
        v = getattr(st, name)
        if name in ("depth", "width") or v != _STAGE_DEFAULTS[name]:
            parts.append(_TOKEN_KEY[name] + (_fmt_num(v) if isinstance(v, (int, float)) else str(v)))
    return "_".join(parts)


def parse_stage(text: str) -> StageSpec:
    """Parse a stage string (see the grammar above); raises ValueError naming the bad token."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"stage string: expected text like 'basic_d2_w64', got {text!r}")
    block, *tokens = text.split("_")
    if block not in BLOCKS:
        raise ValueError(f"stage string {text!r}: unknown block {block!r}; expected one of {', '.join(BLOCKS)}")
    kw: dict[str, Any] = {}
    for tok in tokens:
        for key, name in _TOKENS:
            if tok.startswith(key) and len(tok) > len(key):
                value = tok[len(key):]
                break
        else:
            raise ValueError(f"stage string {text!r}: bad token {tok!r}; expected a key (d, w, s, m, g, k, e, se, "
                             f"sc, so, dr, a) followed by its value")
        if name in kw:
            raise ValueError(f"stage string {text!r}: token {tok!r} repeats {name}")
        if name in ("shortcut", "stride_on", "act"):
            kw[name] = value
        elif not _NUM_RE.match(value):
            raise ValueError(f"stage string {text!r}: token {tok!r}: expected a non-negative number after {key!r}")
        elif name in ("expand", "se", "dropout"):
            kw[name] = float(value)
        elif "." in value:
            raise ValueError(f"stage string {text!r}: token {tok!r}: {name} must be an integer")
        else:
            kw[name] = int(value)
    for req in ("depth", "width"):
        if req not in kw:
            raise ValueError(f"stage string {text!r}: missing {req} token {_TOKEN_KEY[req]!r}<int>")
    return StageSpec(block=block, **kw)


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
    """EfficientNet's channel rule: make_divisible(channels * width_mult, 8) with the 90% floor."""
    return make_divisible(channels * width_mult, divisor)


def round_repeats(repeats: int, depth_mult: float) -> int:
    """EfficientNet's depth rule: ceil(repeats * depth_mult)."""
    return int(math.ceil(repeats * depth_mult))


def compound_multipliers(phi: float, alpha: float, beta: float, gamma: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers alpha**phi, beta**phi, gamma**phi of compound scaling."""
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        _float(name, v, 1e-6, 1e6)
    _float("phi", phi, -16.0, 16.0, high_open=False)
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
        layers = tuple(_int(f"layers[{i}]", n, 1, MAX_DEPTH) for i, n in enumerate(layers))
        block = block or "bottleneck"
        _choice("block", block, ("basic", "bottleneck"))
        implied = _BLOCK_DEPTH[block] * sum(layers) + 2
        if depth and depth != implied:
            raise ValueError(f"depth: {depth} does not match layers {layers} of {block} blocks, which give "
                             f"{_BLOCK_DEPTH[block]}*{sum(layers)}+2 = {implied}; pass depth=0 or {implied}")
        return block, layers
    if depth not in _RESNET_LAYERS:
        raise ValueError(f"depth: expected one of {', '.join(map(str, _RESNET_LAYERS))} (or give layers), "
                         f"got {depth!r}")
    default_block, layers = _RESNET_LAYERS[depth]
    if block and block != default_block:
        raise ValueError(f"block: ResNet-{depth} uses {default_block} blocks; give layers for other layouts")
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
    block, layers = _resolve_layers(_int("depth", depth, 0), block, tuple(layers))
    _choice("stride_on", stride_on, STRIDE_ON)
    _choice("shortcut", shortcut, SHORTCUTS)
    width = _int("width", width)
    cardinality = _int("cardinality", cardinality)
    bottleneck_width = _int("bottleneck_width", bottleneck_width)
    if block == "basic" and (cardinality != 1 or bottleneck_width != 64):
        raise ValueError("cardinality: grouped (ResNeXt) convs need bottleneck blocks; basic blocks take "
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
                raise ValueError(f"bottleneck_width: {bottleneck_width} gives an inner width of 0 at planes {planes}")
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
    depth = _int("depth", depth, 1)
    n, rem = divmod(depth - 2, 3 * per_block)
    if rem or n < 1:
        raise ValueError(f"depth: {block} blocks need depth = {3 * per_block}n+2 with n >= 1 "
                         f"(e.g. {3 * per_block + 2}, {6 * per_block + 2}), got {depth}")
    return n


def cifar_resnet(depth: int = 20, *, width: int = 16, block: str = "basic", shortcut: str = "A",
                 in_channels: int = 3, num_classes: int = 10, resolution: int = 32) -> NetSpec:
    """CIFAR ResNet-`depth` (He et al. Sec. 4.2): 3x3 stem of `width`, three stages of n blocks with widths
    width, 2*width, 4*width (strides 1,2,2), depth = 6n+2 for basic blocks (9n+2 for bottlenecks, which output
    4x their inner width); option A shortcuts as in the paper."""
    _choice("block", block, ("basic", "bottleneck"))
    n = _cifar_blocks_per_stage(depth, block, _BLOCK_DEPTH[block])
    width = _int("width", width)
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
    depth = _int("depth", depth)
    n, rem = divmod(depth - 4, 6)
    if rem or n < 1:
        raise ValueError(f"depth: a Wide ResNet needs depth = 6n+4 with n >= 1 (e.g. 16, 28, 40), got {depth}")
    k = _int("k", k)
    width = _int("width", width)
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
    c = _int("cardinality", cardinality)
    d = _int("bottleneck_width", bottleneck_width)
    width = _int("width", width)
    widen = _int("widen", widen)
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
    wm = _float("width_mult", width_mult, 1e-3, 16.0)
    ch = lambda c: max(8, int(c * wm))  # noqa: E731
    stages = tuple(StageSpec("dwsep", n, ch(c), s, shortcut="none") for c, s, n in _MOBILENET_V1)
    return NetSpec(StemSpec(ch(32), stride=2), stages, HeadSpec(dropout=dropout), in_channels, num_classes,
                   resolution)


def mobilenet_v2(width_mult: float = 1.0, *, dropout: float = 0.2, in_channels: int = 3, num_classes: int = 1000,
                 resolution: int = 224) -> NetSpec:
    """MobileNet v2: inverted residual (MBConv without SE, ReLU6) stages of Table 2; channels
    make_divisible(c * width_mult, 8); a 1x1 head conv of make_divisible(1280 * max(1, width_mult), 8)."""
    wm = _float("width_mult", width_mult, 1e-3, 16.0)
    stages = tuple(StageSpec("mbconv", n, make_divisible(c * wm), s, expand=t, shortcut="id", act="relu6")
                   for t, c, n, s in _MOBILENET_V2)
    head = HeadSpec(width=make_divisible(1280 * max(1.0, wm)), dropout=dropout, act="relu6")
    return NetSpec(StemSpec(make_divisible(32 * wm), stride=2, act="relu6"), stages, head, in_channels,
                   num_classes, resolution)


def efficientnet(width_mult: float = 1.0, depth_mult: float = 1.0, *, resolution: int = 224, dropout: float = 0.2,
                 drop_path: float = 0.2, se: float = 0.25, in_channels: int = 3, num_classes: int = 1000) -> NetSpec:
    """EfficientNet-B0 scaled by width and depth multipliers (Tan & Le): MBConv stages of the B0 table with SE
    (ratio `se` of each block's input channels) and swish; channels round_filters(c, width_mult) (divisor 8, never
    below 90%), stem 32 and head 1280 included; repeats ceil(n * depth_mult); stochastic depth `drop_path`."""
    wm = _float("width_mult", width_mult, 1e-3, 16.0)
    dm = _float("depth_mult", depth_mult, 1e-3, 16.0)
    stages = tuple(StageSpec("mbconv", round_repeats(n, dm), round_filters(c, wm), s, kernel=k, expand=e, se=se,
                             shortcut="id", act="silu") for e, k, s, c, n in EFFICIENTNET_B0)
    head = HeadSpec(width=round_filters(1280, wm), dropout=dropout, act="silu")
    return NetSpec(StemSpec(round_filters(32, wm), stride=2, act="silu"), stages, head, in_channels, num_classes,
                   resolution, drop_path=drop_path)


def efficientnet_compound(phi: float = 1.0, *, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15,
                          base_resolution: int = 224, dropout: float = 0.2, drop_path: float = 0.2,
                          in_channels: int = 3, num_classes: int = 1000) -> NetSpec:
    """EfficientNet-B0 compound-scaled by phi: depth alpha**phi, width beta**phi, resolution
    round(base_resolution * gamma**phi) (Tan & Le eq. 3; the paper's alpha, beta, gamma = 1.2, 1.1, 1.15)."""
    d, w, r = compound_multipliers(phi, alpha, beta, gamma)
    base_resolution = _int("base_resolution", base_resolution)
    return efficientnet(w, d, resolution=max(1, int(round(base_resolution * r))), dropout=dropout,
                        drop_path=drop_path, in_channels=in_channels, num_classes=num_classes)


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


# ---------------------------------------------------------------------------------------------------------------
# Matching (ResNeXt Table 2): the bottleneck width d that keeps a complexity fixed as cardinality C changes.

def resnext_block_params(cardinality: int, bottleneck_width: int, width: int = 256) -> int:
    """Conv weights of one ResNeXt template block (BN ignored, as in the paper): C * (w*d + 9*d^2 + d*w)."""
    return cardinality * (width * bottleneck_width + 9 * bottleneck_width ** 2 + bottleneck_width * width)


def search_int(cost: Callable[[int], int | None], target: float, values: range) -> tuple[int | None, int]:
    """(value, its cost) of the value in `values` whose cost is closest to target (ties: the smaller value),
    skipping values whose cost is None (invalid); (None, 0) when every value is invalid.

    Bisection on a non-decreasing cost, falling back to a full scan as soon as a probe is invalid or out of order.
    """
    memo: dict[int, int | None] = {}

    def c(i: int) -> int | None:
        if i not in memo:
            memo[i] = cost(values[i])
        return memo[i]

    def scan() -> tuple[int | None, int]:
        best: tuple[float, int] | None = None
        for i in range(len(values)):
            ci = c(i)
            if ci is not None and (best is None or abs(ci - target) < best[0]):
                best = (abs(ci - target), i)
        if best is None:
            return None, 0
        return values[best[1]], c(best[1])  # type: ignore[return-value]

    n = len(values)
    if n <= 8:
        return scan()
    lo_c, hi_c = c(0), c(n - 1)
    if lo_c is None or hi_c is None or lo_c > hi_c:
        return scan()

    def first_at_least(t: float, lo: int, hi: int, c_lo: int, c_hi: int) -> int | None:
        """Smallest i in [lo, hi+1] with c(i) >= t (hi+1: none); None if a probe breaks monotonicity."""
        if c_lo >= t:
            return lo
        if c_hi < t:
            return hi + 1
        # invariant: c(lo) < t <= c(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            cm = c(mid)
            if cm is None or cm < c_lo or cm > c_hi:
                return None
            if cm >= t:
                hi, c_hi = mid, cm
            else:
                lo, c_lo = mid, cm
        return hi

    i = first_at_least(target, 0, n - 1, lo_c, hi_c)
    if i is None:
        return scan()
    cands = []
    if i < n:
        cands.append(i)
    if i > 0:
        below = c(i - 1)
        if below is None:
            return scan()
        j = first_at_least(below, 0, i - 1, lo_c, below)  # first of the plateau at cost c(i-1)
        if j is None:
            return scan()
        cands.append(j)
    best = min(cands, key=lambda k: (abs(c(k) - target), k))  # type: ignore[operator]
    return values[best], c(best)  # type: ignore[return-value]


def match_integer(cost: Callable[[int], int], target: float, low: int, high: int) -> int:
    """The integer x in [low, high] whose cost(x) is closest to target (ties go to the smaller x): `search_int`
    over range(low, high + 1)."""
    if low > high:
        raise ValueError(f"match range: low {low} > high {high}")
    return search_int(cost, target, range(low, high + 1))[0]  # type: ignore[return-value]


def match_bottleneck_width(cardinality: int, target: float | None = None, *, metric: str = "params",
                           family: str = "block", low: int = 1, high: int = 512, **kwargs: Any) -> int:
    """The bottleneck width d that, at cardinality C, brings a complexity closest to `target`.

    Args:
        cardinality: C.
        target: the complexity to match; None = that of C=1, d=64 (ResNet-50's template).
        metric: "params" or "macs".
        family: "block" for the paper's Table 2 rule on one template block (params of C*(256d + 9d^2 + 256d); the
            default gives d = 64, 40, 24, 14, 4 for C = 1, 2, 4, 8, 32), or a generator name taking `cardinality`
            and `bottleneck_width` ("resnext", "cifar_resnext"): then the whole network's analytic cost is
            matched, with `kwargs` passed to the generator.
        low, high: the range of d searched.
    """
    cardinality = _int("cardinality", cardinality)
    _choice("metric", metric, ("params", "macs"))
    if family == "block":
        if kwargs:
            raise ValueError(f"{sorted(kwargs)[0]}: not an argument of the block rule")
        width = 256
        if metric == "params":
            cost_fn = lambda d: resnext_block_params(cardinality, d, width)  # noqa: E731
            base = resnext_block_params(1, 64, width)
        else:  # at 56x56, the block's MACs are its params times the spatial size
            cost_fn = lambda d: resnext_block_params(cardinality, d, width) * 56 * 56  # noqa: E731
            base = resnext_block_params(1, 64, width) * 56 * 56
    else:
        if family not in ("resnext", "cifar_resnext"):
            raise ValueError(f"family: expected 'block', 'resnext' or 'cifar_resnext', got {family!r}")
        from scalesearch.cost import count  # lazy: cost imports arch

        gen = GENERATORS[family]
        cost_fn = lambda d: getattr(count(gen(cardinality=cardinality, bottleneck_width=d, **kwargs)), metric)  # noqa: E731
        base = getattr(count(gen(cardinality=1, bottleneck_width=64, **kwargs)), metric)
    return match_integer(cost_fn, base if target is None else target, low, high)


# ---------------------------------------------------------------------------------------------------------------
# Presets, named like torchvision's models (ImageNet ones: 3 channels, 1000 classes, 224 or the B-model's own
# resolution) plus CIFAR models (3x32x32, 10 classes).

def _efficientnet_b(name: str) -> Callable[[], NetSpec]:
    w, d, r, p = EFFICIENTNET_COEFFICIENTS[name]
    return lambda: efficientnet(w, d, resolution=r, dropout=p)


PRESETS: dict[str, Callable[[], NetSpec]] = {
    "resnet18": lambda: resnet(18), "resnet34": lambda: resnet(34), "resnet50": lambda: resnet(50),
    "resnet101": lambda: resnet(101), "resnet152": lambda: resnet(152),
    "resnet50_v1": lambda: resnet(50, stride_on="1x1"), "resnet101_v1": lambda: resnet(101, stride_on="1x1"),
    "resnet152_v1": lambda: resnet(152, stride_on="1x1"),
    "plain18": lambda: plain(18), "plain34": lambda: plain(34),
    "resnext50_32x4d": lambda: resnext(50, cardinality=32, bottleneck_width=4),
    "resnext101_32x8d": lambda: resnext(101, cardinality=32, bottleneck_width=8),
    "resnext101_64x4d": lambda: resnext(101, cardinality=64, bottleneck_width=4),
    "wide_resnet50_2": lambda: resnet(50, bottleneck_width=128),
    "wide_resnet101_2": lambda: resnet(101, bottleneck_width=128),
    **{f"efficientnet_{b}": _efficientnet_b(b) for b in EFFICIENTNET_COEFFICIENTS},
    "mobilenet_v1": lambda: mobilenet_v1(), "mobilenet_v2": lambda: mobilenet_v2(),
    **{f"cifar_resnet{d}": functools.partial(cifar_resnet, d) for d in (20, 32, 44, 56, 110, 1202)},
    **{f"cifar_plain{d}": functools.partial(cifar_plain, d) for d in (20, 32, 44, 56, 110)},
    "resnext29_8x64d": lambda: cifar_resnext(29, cardinality=8, bottleneck_width=64),
    "resnext29_16x64d": lambda: cifar_resnext(29, cardinality=16, bottleneck_width=64),
    **{f"wrn_{d}_{k}": functools.partial(wide_resnet, d, k) for d, k in ((16, 8), (28, 10), (40, 4), (16, 4))},
}
_WRN_RE = re.compile(r"^wrn_(\d+)_(\d+)$")


def preset_names() -> list[str]:
    """The preset names (any wrn_<depth>_<k> with depth = 6n+4 also works)."""
    return list(PRESETS)


def preset(name: str, *, in_channels: int | None = None, num_classes: int | None = None,
           resolution: int | None = None) -> NetSpec:
    """A preset by name, optionally with another input shape or classes (see `NetSpec.with_io`)."""
    if name in PRESETS:
        spec = PRESETS[name]()
    elif (m := _WRN_RE.match(name)) is not None:
        spec = wide_resnet(int(m.group(1)), int(m.group(2)))
    else:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `scalesearch presets` lists them"
        raise ValueError(f"unknown preset {name!r}{hint}")
    return spec.with_io(in_channels, num_classes, resolution)


def load_netspec(ref: str, *, in_channels: int | None = None, num_classes: int | None = None,
                 resolution: int | None = None) -> NetSpec:
    """A NetSpec from a preset name, a NetSpec JSON file, or a spec YAML file (its baseline point)."""
    if os.path.exists(ref) or ref.endswith((".json", ".yaml", ".yml")):
        if ref.endswith((".yaml", ".yml")):
            from scalesearch.spec import baseline_netspec, load_spec  # lazy: spec imports arch

            spec = baseline_netspec(load_spec(ref))
        else:
            try:
                with open(ref, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise OSError(f"{ref}: cannot read NetSpec JSON: {e.strerror or e}") from None
            try:
                spec = NetSpec.from_json(text)
            except ValueError as e:
                raise ValueError(f"{ref}: {e}") from None
    else:
        spec = preset(ref)
    return spec.with_io(in_channels, num_classes, resolution)
