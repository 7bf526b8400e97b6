"""Residual network families as data: frozen specs, family generators, scaling rules and presets.

A network is a `NetSpec`: a stem, a tuple of `StageSpec`s and a head, plus its input shape and classes. Specs are
frozen and hashable, have a canonical JSON form and a stable `hash` (the dedupe key of a search), and are
changed only by deriving new ones (`dataclasses.replace`, `NetSpec.with_io`). Every generator below is a pure
function of a few numbers that returns a `NetSpec`; `build.build_model` turns one into a module and
`cost.count` costs it analytically without building anything.

Legend (as in pycls): w = width (output channels), d = depth (blocks in a stage), s = stride, g = groups
(ResNeXt cardinality C), m = mid width (a bottleneck's inner width; ResNeXt's C * d), k = kernel size,
e = expansion ratio (MBConv), se = squeeze-excitation ratio (of the block's input channels), r = resolution.

Blocks (the registry `scalesearch.blocks.BLOCKS` says which StageSpec fields each reads): `basic` (two kxk
convs, post-activation), `bottleneck` (1x1, grouped kxk, 1x1),
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
import difflib
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from scalesearch.blocks import BLOCKS, BlockDef
from scalesearch.checks import FieldError, check_choice, check_float, check_int

SHORTCUTS = ("none", "id", "A", "B", "C")
ACTIVATIONS = ("relu", "relu6", "silu")
STRIDE_ON = ("1x1", "3x3")

# StageSpec fields that only some blocks read (the registry says which): a block that does not read one leaves it
# at its default, so that two specs that build the same network are equal and hash alike.
_OPTIONAL_STAGE_FIELDS = ("mid", "groups", "kernel", "expand", "se", "stride_on", "dropout")


# Upper bounds far beyond any real network: they keep a typo (or width = 10**14 in a spec) a clear error rather
# than an hour of costing or an out-of-memory build.
MAX_WIDTH = 2 ** 16
MAX_BLOCKS = 10_000
MAX_INPUT_RESOLUTION = 2 ** 14
MAX_KERNEL = 31
MAX_CLASSES = 10 ** 6


def _block(field: str, name: Any) -> BlockDef:
    """The registry entry of a block name."""
    if not isinstance(name, str) or name not in BLOCKS:
        raise FieldError(field, f"one of {', '.join(BLOCKS)}", name)
    return BLOCKS[name]


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
        _set(self, "width", check_int("stem.width", self.width, 1, MAX_WIDTH))
        _set(self, "kernel", check_int("stem.kernel", self.kernel, 1, MAX_KERNEL))
        if self.kernel % 2 == 0:
            raise FieldError("stem.kernel", problem=f"expected an odd kernel size, got {self.kernel}")
        _set(self, "stride", check_int("stem.stride", self.stride, 1, 8))
        _set(self, "pool", bool(self.pool))
        _set(self, "norm_act", bool(self.norm_act))
        check_choice("stem.act", self.act, ACTIVATIONS)

    @property
    def total_stride(self) -> int:
        return self.stride * (2 if self.pool else 1)


@dataclass(frozen=True)
class StageSpec:
    """`depth` blocks of one kind; the first has stride `stride` and takes the previous stage's width.

    Attributes:
        block: a registered block (`scalesearch.blocks.BLOCKS`).
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
        block = _block(f"{where}.block", self.block)
        _set(self, "depth", check_int(f"{where}.depth", self.depth, 1, MAX_BLOCKS))
        _set(self, "width", check_int(f"{where}.width", self.width, 1, MAX_WIDTH))
        _set(self, "stride", check_int(f"{where}.stride", self.stride, 1, 8))
        _set(self, "mid", check_int(f"{where}.mid", self.mid, 0, MAX_WIDTH))
        _set(self, "groups", check_int(f"{where}.groups", self.groups, 1, MAX_WIDTH))
        _set(self, "kernel", check_int(f"{where}.kernel", self.kernel, 1, MAX_KERNEL))
        if self.kernel % 2 == 0:
            raise FieldError(f"{where}.kernel", problem=f"expected an odd kernel size, got {self.kernel}")
        _set(self, "expand", check_float(f"{where}.expand", self.expand, 1.0, 64.0))
        _set(self, "se", check_float(f"{where}.se", self.se, 0.0, 1.0))
        check_choice(f"{where}.shortcut", self.shortcut, SHORTCUTS)
        check_choice(f"{where}.stride_on", self.stride_on, STRIDE_ON)
        _set(self, "dropout", check_float(f"{where}.dropout", self.dropout, 0.0, 1.0, high_open=True))
        check_choice(f"{where}.act", self.act, ACTIVATIONS)
        used = block.fields
        defaults = _STAGE_DEFAULTS
        for name in _OPTIONAL_STAGE_FIELDS:
            if name not in used and getattr(self, name) != defaults[name]:
                raise FieldError(f"{where}.{name}",
                                 problem=f"not used by block '{self.block}'; leave it at its default "
                                 f"{defaults[name]!r}, got {getattr(self, name)!r}")
        if self.block == "bottleneck":
            if self.mid < 1:
                raise FieldError(f"{where}.mid", problem=f"a bottleneck needs its inner width mid >= 1, got {self.mid}")
            if self.mid % self.groups:
                raise FieldError(f"{where}.mid", problem=f"the inner width {self.mid} is not divisible by the "
                                 f"cardinality groups={self.groups}")
        if self.shortcut == "A" and self.block in ("mbconv", "dwsep"):
            raise FieldError(f"{where}.shortcut", problem="option A applies to basic, bottleneck and preact blocks "
                             "only")


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
        _set(self, "width", check_int("head.width", self.width, 0, MAX_WIDTH))
        _set(self, "preact", bool(self.preact))
        if self.width and self.preact:
            raise FieldError("head.preact", problem="a head with a 1x1 conv (width > 0) cannot also be pre-activation")
        _set(self, "dropout", check_float("head.dropout", self.dropout, 0.0, 1.0, high_open=True))
        check_choice("head.act", self.act, ACTIVATIONS)


def _from_mapping(cls: type, d: Any, where: str, own: str = "") -> Any:
    """`cls(**d)` for a plain mapping, with one-line errors naming `where` for unknown and missing keys and
    for bad values (a FieldError of the part, about `own.field`, is placed under `where`)."""
    if isinstance(d, cls):
        return d
    if not isinstance(d, dict):
        raise FieldError(where, "a mapping", d)
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in d:
        if key not in fields:
            raise FieldError(f"{where}.{key}" if isinstance(key, str) else where, f"keys among {', '.join(fields)}",
                             problem=f"unknown key {key!r}")
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in d:
            raise FieldError(where, f"the key {f.name!r}", problem=f"missing key {f.name!r}")
    try:
        return cls(**d)
    except FieldError as e:
        raise e.within(where, own) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object hook: a mapping, refusing a key given twice (JSON allows it, a spec must not)."""
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise FieldError(f"NetSpec JSON.{k}", problem=f"duplicate key {k!r}", expected="each key once")
        d[k] = v
    return d


def _stage_from(obj: Any, where: str) -> StageSpec:
    if isinstance(obj, str):
        try:
            return parse_stage(obj)
        except FieldError as e:
            raise e.within(where, "stage") from None
    if isinstance(obj, (StageSpec, dict)):
        return _from_mapping(StageSpec, obj, where, "stage")
    raise FieldError(where, "a StageSpec, a stage string or a mapping", obj)


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
        _set(self, "stem", _from_mapping(StemSpec, self.stem, "stem", "stem"))
        _set(self, "head", _from_mapping(HeadSpec, self.head, "head", "head"))
        if isinstance(self.stages, (str, bytes)) or not isinstance(self.stages, (list, tuple)):
            raise FieldError("stages", problem=f"expected a sequence of stages, got {type(self.stages).__name__}")
        if not self.stages:
            raise FieldError("stages", problem="a network needs at least one stage")
        _set(self, "stages", tuple(_stage_from(s, f"stages[{i}]") for i, s in enumerate(self.stages)))
        _set(self, "in_channels", check_int("in_channels", self.in_channels, 1, MAX_WIDTH))
        _set(self, "num_classes", check_int("num_classes", self.num_classes, 1, MAX_CLASSES))
        _set(self, "resolution", check_int("resolution", self.resolution, 1, MAX_INPUT_RESOLUTION))
        _set(self, "drop_path", check_float("drop_path", self.drop_path, 0.0, 1.0, high_open=True))
        if self.resolution < self.total_stride:
            raise FieldError("resolution", problem=f"{self.resolution} is smaller than the network's total stride "
                             f"{self.total_stride}; expected resolution >= {self.total_stride}")
        w_in = self.stem.width
        for i, st in enumerate(self.stages):
            if st.shortcut == "A" and st.width < w_in:
                raise FieldError(f"stages[{i}].shortcut",
                                 problem=f"option A zero-pads channels, so width {st.width} must "
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
        """Inverse of `to_dict`; unknown and missing keys are errors naming them."""
        return _from_mapping(cls, d, "")

    @classmethod
    def from_json(cls, s: str | bytes) -> "NetSpec":
        """Parse the JSON form (canonical or not); duplicate keys and nesting deeper than a NetSpec has are
        errors, as in spec files."""
        try:
            d = json.loads(s, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise FieldError("NetSpec JSON", problem=f"invalid JSON: {e}") from None
        except UnicodeDecodeError as e:
            raise FieldError("NetSpec JSON", "UTF-8 text", problem=f"undecodable bytes ({e.reason} at byte "
                             f"{e.start})") from None
        except RecursionError:
            raise FieldError("NetSpec JSON", "a NetSpec (nested 3 levels)", problem="nested too deeply") from None
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
        raise FieldError("stage", problem=f"stage string: expected text like 'basic_d2_w64', got {text!r}")
    block, *tokens = text.split("_")
    if block not in BLOCKS:
        raise FieldError("stage", f"one of {', '.join(BLOCKS)}",
                         problem=f"stage string {text!r}: unknown block {block!r}")
    kw: dict[str, Any] = {}
    for tok in tokens:
        for key, name in _TOKENS:
            if tok.startswith(key) and len(tok) > len(key):
                value = tok[len(key):]
                break
        else:
            raise FieldError("stage", problem=f"stage string {text!r}: bad token {tok!r}; expected a key (d, w, s, "
                             "m, g, k, e, se, "
                             f"sc, so, dr, a) followed by its value")
        if name in kw:
            raise FieldError("stage", problem=f"stage string {text!r}: token {tok!r} repeats {name}")
        if name in ("shortcut", "stride_on", "act"):
            kw[name] = value
        elif not _NUM_RE.match(value):
            raise FieldError("stage", problem=f"stage string {text!r}: token {tok!r}: expected a non-negative "
                             f"number after {key!r}")
        elif name in ("expand", "se", "dropout"):
            kw[name] = float(value)
        elif "." in value:
            raise FieldError("stage", problem=f"stage string {text!r}: token {tok!r}: {name} must be an integer")
        else:
            kw[name] = int(value)
    for req in ("depth", "width"):
        if req not in kw:
            raise FieldError("stage", problem=f"stage string {text!r}: missing {req} token {_TOKEN_KEY[req]!r}<int>")
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
    ch = lambda c: max(8, int(c * wm))  # noqa: E731
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
                 drop_path: float = 0.2, se: float = 0.25, in_channels: int = 3, num_classes: int = 1000) -> NetSpec:
    """EfficientNet-B0 scaled by width and depth multipliers (Tan & Le): MBConv stages of the B0 table with SE
    (ratio `se` of each block's input channels) and swish; channels round_filters(c, width_mult) (divisor 8, never
    below 90%), stem 32 and head 1280 included; repeats ceil(n * depth_mult); stochastic depth `drop_path`."""
    wm = check_float("width_mult", width_mult, 1e-3, 16.0, high_open=True)
    dm = check_float("depth_mult", depth_mult, 1e-3, 16.0, high_open=True)
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
    base_resolution = check_int("base_resolution", base_resolution, 1)
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


def is_preset(name: str) -> bool:
    """Whether `name` names a preset (including any wrn_<depth>_<k>)."""
    return name in PRESETS or _WRN_RE.match(name) is not None


def preset(name: str, *, in_channels: int | None = None, num_classes: int | None = None,
           resolution: int | None = None) -> NetSpec:
    """A preset by name, optionally with another input shape or classes (see `NetSpec.with_io`)."""
    if name in PRESETS:
        spec = PRESETS[name]()
    elif (m := _WRN_RE.match(name)) is not None:
        spec = wide_resnet(int(m.group(1)), int(m.group(2)))
    else:
        close = difflib.get_close_matches(name, PRESETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `scalesearch presets` lists them"
        raise ValueError(f"unknown preset {name!r}{hint}")
    return spec.with_io(in_channels, num_classes, resolution)
