"""Networks as data: frozen `NetSpec`, `StemSpec`, `StageSpec`, `HeadSpec` with their checks, canonical JSON
and hash, and the stage-string DSL (`bottleneck_d3_w256_s2_m128_g32`). See `scalesearch.nets` for the legend."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from scalesearch.nets.blocks import BLOCKS, BlockDef
from scalesearch.util.checks import FieldError, check_choice, check_float, check_int

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
        block: a registered block (`scalesearch.nets.blocks.BLOCKS`).
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
    def from_dict(cls, d: dict[str, Any]) -> NetSpec:
        """Inverse of `to_dict`; unknown and missing keys are errors naming them."""
        return _from_mapping(cls, d, "")

    @classmethod
    def from_json(cls, s: str | bytes) -> NetSpec:
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
                resolution: int | None = None) -> NetSpec:
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
        found = next(((key, name) for key, name in _TOKENS if tok.startswith(key) and len(tok) > len(key)), None)
        if found is None:
            raise FieldError("stage", problem=f"stage string {text!r}: bad token {tok!r}; expected a key (d, w, s, "
                             "m, g, k, e, se, "
                             f"sc, so, dr, a) followed by its value")
        key, name = found
        value = tok[len(key):]
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
