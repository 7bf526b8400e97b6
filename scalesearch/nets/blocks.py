"""The block registry and the analytic costs: torch-free arithmetic on specs.

A block is registered once, as a `BlockDef`: its name, the StageSpec fields it reads, its cost function and
the nn.Module that implements it (named by import path and loaded only when a network is built, so that
costing, validating and the spec reader never import torch). The cost function `cost(cx, w_in, w_out, stride,
stage)` advances a `Cx` (the running height/width, params, MACs and activations, as pycls's `cx` dict) exactly
as the module transforms its input; keeping both in one entry is what keeps them in agreement, and tests check
every block's cost against its built module (forward hooks, FlopCounterMode, thop).

Counting conventions (the papers' "FLOPs"): MACs of convolutions (k*k*c_in/g*c_out per output pixel, bias
ignored) and linear layers (in*out per sample); BatchNorm, activations, pooling, SE gating products and residual
additions count zero. Params count every learnable tensor, BatchNorm affine included. Activations count the
elements of every conv and linear output (pycls's `acts`).

This module imports nothing of scalesearch: `nets.specs` validates stage strings and StageSpecs against the registry,
`cost` sums the cost functions over a NetSpec, `build` instantiates the modules (`scalesearch.nets.modules`).
The module classes stay importable from here (`from scalesearch.nets.blocks import Bottleneck`), loaded on first use.

Legend: w_in/w_out = input/output channels, m = inner width, k = kernel, g = groups, h/w = spatial size.

Example:
    >>> sorted(BLOCKS)
    ['basic', 'bottleneck', 'dwsep', 'mbconv', 'preact']
    >>> sorted(BLOCKS["bottleneck"].fields)
    ['act', 'dropout', 'groups', 'kernel', 'mid', 'shortcut', 'stride_on']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scalesearch.errors import InputError

# The fields of arch's StemSpec, StageSpec and HeadSpec that the cost functions read, as protocols: arch imports
# this module (to check block names and fields against the registry), never the other way round, so the specs'
# classes cannot be named here; arch's frozen dataclasses satisfy these.

class StemSpec(Protocol):
    width: int
    kernel: int
    stride: int
    pool: bool
    norm_act: bool
    act: str


class StageSpec(Protocol):
    block: str
    depth: int
    width: int
    stride: int
    mid: int
    groups: int
    kernel: int
    expand: float
    se: float
    shortcut: str
    stride_on: str
    dropout: float
    act: str


class HeadSpec(Protocol):
    width: int
    preact: bool
    dropout: float
    act: str

__all__ = ["BLOCKS", "BlockDef", "Cx", "head_cost", "register_block", "shortcut_kind", "stage_block_args",
           "stem_cost"]


@dataclass
class Cx:
    """Running complexity: feature-map size and accumulated params, MACs and activations."""

    h: int
    w: int
    params: int = 0
    macs: int = 0
    acts: int = 0

    def fork(self) -> Cx:
        """A copy at the same position with zero totals (for a parallel branch such as a shortcut)."""
        return Cx(self.h, self.w)

    def add(self, other: Cx) -> None:
        """Merge a branch's totals (the branch must end at the same spatial size)."""
        self.params += other.params
        self.macs += other.macs
        self.acts += other.acts

    def conv(self, w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> Cx:
        """A kxk conv with padding k//2: out size (h - 1) // stride + 1."""
        self.h, self.w = (self.h - 1) // stride + 1, (self.w - 1) // stride + 1
        weights = k * k * (w_in // groups) * w_out
        self.params += weights + (w_out if bias else 0)
        self.macs += weights * self.h * self.w
        self.acts += w_out * self.h * self.w
        return self

    def norm(self, c: int) -> Cx:
        """BatchNorm: 2c params (its running statistics are buffers)."""
        self.params += 2 * c
        return self

    def pool(self, stride: int) -> Cx:
        """A pooling or subsampling of stride `stride` (padding k//2): no params, no MACs."""
        self.h, self.w = (self.h - 1) // stride + 1, (self.w - 1) // stride + 1
        return self

    def linear(self, n_in: int, n_out: int, bias: bool = True) -> Cx:
        """A fully-connected layer on a pooled vector."""
        self.params += n_in * n_out + (n_out if bias else 0)
        self.macs += n_in * n_out
        self.acts += n_out
        return self


# ---------------------------------------------------------------------------------------------------------------
# Shortcuts

def shortcut_kind(kind: str, w_in: int, w_out: int, stride: int) -> str:
    """What a shortcut option amounts to for one block: 'none', 'identity', 'pad' or 'proj'."""
    same = stride == 1 and w_in == w_out
    if kind == "none" or (kind == "id" and not same):
        return "none"
    if kind == "C":
        return "proj"
    if same:
        return "identity"
    return "pad" if kind == "A" else "proj"


def shortcut_cost(cx: Cx, kind: str, w_in: int, w_out: int, stride: int, norm: bool) -> None:
    """Add the cost of `make_shortcut` (evaluated from the block's input position `cx`, which is not moved)."""
    if shortcut_kind(kind, w_in, w_out, stride) == "proj":
        branch = cx.fork().conv(w_in, w_out, 1, stride)
        if norm:
            branch.norm(w_out)
        cx.add(branch)


# ---------------------------------------------------------------------------------------------------------------
# Costs of the blocks, the stem and the head

def basic_cost(cx: Cx, w_in: int, w_out: int, stride: int, stage: StageSpec) -> None:
    """Cost of BasicBlock."""
    shortcut_cost(cx, stage.shortcut, w_in, w_out, stride, norm=True)
    cx.conv(w_in, w_out, stage.kernel, stride).norm(w_out).conv(w_out, w_out, stage.kernel).norm(w_out)


def bottleneck_cost(cx: Cx, w_in: int, w_out: int, stride: int, stage: StageSpec) -> None:
    """Cost of Bottleneck."""
    m, g, k = stage.mid, stage.groups, stage.kernel
    s1, s3 = (stride, 1) if stage.stride_on == "1x1" else (1, stride)
    shortcut_cost(cx, stage.shortcut, w_in, w_out, stride, norm=True)
    cx.conv(w_in, m, 1, s1).norm(m).conv(m, m, k, s3, groups=g).norm(m).conv(m, w_out, 1).norm(w_out)


def preact_cost(cx: Cx, w_in: int, w_out: int, stride: int, stage: StageSpec) -> None:
    """Cost of PreActBlock."""
    cx.norm(w_in)
    shortcut_cost(cx, stage.shortcut, w_in, w_out, stride, norm=False)
    cx.conv(w_in, w_out, stage.kernel, stride).norm(w_out).conv(w_out, w_out, stage.kernel)


def mbconv_cost(cx: Cx, w_in: int, w_out: int, stride: int, stage: StageSpec) -> None:
    """Cost of MBConv (SE convs act on a 1x1 pooled map)."""
    m, s = mbconv_widths(w_in, stage)
    shortcut_cost(cx, stage.shortcut, w_in, w_out, stride, norm=True)
    if m != w_in:
        cx.conv(w_in, m, 1).norm(m)
    cx.conv(m, m, stage.kernel, stride, groups=m).norm(m)
    if s:
        se = Cx(1, 1).conv(m, s, 1, bias=True).conv(s, m, 1, bias=True)
        cx.add(se)
    cx.conv(m, w_out, 1).norm(w_out)


def dwsep_cost(cx: Cx, w_in: int, w_out: int, stride: int, stage: StageSpec) -> None:
    """Cost of DWSep."""
    shortcut_cost(cx, stage.shortcut, w_in, w_out, stride, norm=True)
    cx.conv(w_in, w_in, stage.kernel, stride, groups=w_in).norm(w_in).conv(w_in, w_out, 1).norm(w_out)


def stem_cost(cx: Cx, in_channels: int, stem: StemSpec) -> None:
    """Cost of Stem."""
    cx.conv(in_channels, stem.width, stem.kernel, stem.stride)
    if stem.norm_act:
        cx.norm(stem.width)
    if stem.pool:
        cx.pool(2)


def head_cost(cx: Cx, w_in: int, num_classes: int, head: HeadSpec) -> None:
    """Cost of Head."""
    if head.width:
        cx.conv(w_in, head.width, 1).norm(head.width)
        w_in = head.width
    elif head.preact:
        cx.norm(w_in)
    cx.h = cx.w = 1
    cx.linear(w_in, num_classes)


def stage_block_args(w_in: int, stage: StageSpec) -> list[tuple[int, int, int]]:
    """(w_in, w_out, stride) of each block of a stage."""
    return [(w_in if i == 0 else stage.width, stage.width, stage.stride if i == 0 else 1) for i in range(stage.depth)]


def mbconv_widths(w_in: int, stage: StageSpec) -> tuple[int, int]:
    """(inner width, SE width) of an MBConv block: round(w_in * expand), max(1, int(w_in * se)) (0 = no SE)."""
    m = round(w_in * stage.expand)
    s = max(1, int(w_in * stage.se)) if stage.se > 0 else 0
    return m, s


# ---------------------------------------------------------------------------------------------------------------
# The registry

CostFn = Callable[[Cx, int, int, int, "StageSpec"], None]


@dataclass(frozen=True)
class BlockDef:
    """A registered block.

    Attributes:
        name: its name in stage strings and StageSpec.block.
        fields: the optional StageSpec fields it reads (any other must keep its default, so that two specs that
            build the same network are equal and hash alike).
        cost: its analytic cost function.
        module: "package.module:Class" of its nn.Module, taking `(w_in, w_out, stride, stage, drop_path)`.
        residual_bn: dotted attribute path, inside the module, of the BatchNorm that ends its residual branch
            ("body.-1" indexes a Sequential), zeroed by `build_model(zero_init_residual=True)`; None if it has none.
    """

    name: str
    fields: frozenset[str]
    cost: CostFn
    module: str
    residual_bn: str | None = None

    def module_class(self) -> Any:
        """The nn.Module class (imports it, and torch, on first use)."""
        path, _, cls = self.module.partition(":")
        return getattr(importlib.import_module(path), cls)


BLOCKS: dict[str, BlockDef] = {}


def register_block(name: str, *, fields: set[str] | frozenset[str], cost: CostFn, module: str,
                   residual_bn: str | None = None) -> BlockDef:
    """Register a block; a duplicate name is an error (never a silent overwrite)."""
    if name in BLOCKS:
        raise InputError(f"block {name!r} is already registered")
    if not name.isidentifier() or "_" in name:
        raise InputError(f"block name {name!r}: expected letters and digits only (stage strings split on '_')")
    BLOCKS[name] = entry = BlockDef(name, frozenset(fields), cost, module, residual_bn)
    return entry


_MODULES = "scalesearch.nets.modules"
register_block("basic", fields={"kernel", "shortcut", "dropout", "act"}, cost=basic_cost,
               module=f"{_MODULES}:BasicBlock", residual_bn="bn2")
register_block("bottleneck", fields={"mid", "groups", "kernel", "shortcut", "stride_on", "dropout", "act"},
               cost=bottleneck_cost, module=f"{_MODULES}:Bottleneck", residual_bn="bn3")
register_block("preact", fields={"kernel", "shortcut", "dropout", "act"}, cost=preact_cost,
               module=f"{_MODULES}:PreActBlock")
register_block("mbconv", fields={"kernel", "expand", "se", "shortcut", "act"}, cost=mbconv_cost,
               module=f"{_MODULES}:MBConv", residual_bn="body.-1")
register_block("dwsep", fields={"kernel", "shortcut", "act"}, cost=dwsep_cost, module=f"{_MODULES}:DWSep")


def __getattr__(name: str) -> Any:
    """The nn.Module classes (BasicBlock, Stem, Head, ...) from `scalesearch.nets.modules`, loaded lazily."""
    if name.startswith("__"):
        raise AttributeError(name)
    modules = importlib.import_module(_MODULES)
    try:
        return getattr(modules, name)
    except AttributeError:
        raise AttributeError(f"module 'scalesearch.nets.blocks' has no attribute {name!r}") from None
