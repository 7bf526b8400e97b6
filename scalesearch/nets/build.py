"""build_model(NetSpec) -> nn.Module: pure, deterministic in structure, no device or dtype work (that is train's).

The network is `stem -> stages (nn.Sequential of blocks from blocks.BLOCKS) -> head`. Weights are initialised as
in the papers' reference code: convs He-normal (fan_out), BatchNorm weight 1 / bias 0, the classifier N(0, 0.01)
with zero bias; `zero_init_residual` zeroes the last BN of each residual branch (Goyal et al.), an option
torchvision and pycls also offer.
"""

from __future__ import annotations

import torch
from torch import nn

from scalesearch.errors import InputError
from scalesearch.nets import NetSpec
from scalesearch.nets.blocks import BLOCKS, stage_block_args
from scalesearch.nets.modules import Head, Stem


class Net(nn.Module):
    """A network built from a NetSpec; `net.spec` keeps the spec it was built from."""

    def __init__(self, spec: NetSpec, zero_init_residual: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.stem = Stem(spec.in_channels, spec.stem)
        total = spec.depth
        index = 0
        stages = []
        w_in = spec.stem.width
        for stage in spec.stages:
            block = BLOCKS[stage.block].module_class()
            blocks = []
            for b_in, b_out, stride in stage_block_args(w_in, stage):
                # stochastic depth grows linearly with the block index, from 0 (torchvision's EfficientNet rule)
                blocks.append(block(b_in, b_out, stride, stage, drop_path=spec.drop_path * index / total))
                index += 1
            stages.append(nn.Sequential(*blocks))
            w_in = stage.width
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, spec.num_classes, spec.head)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for stage, blocks in zip(self.spec.stages, self.stages, strict=True):
                path = BLOCKS[stage.block].residual_bn
                for block in blocks:
                    if path is not None and block.shortcut is not None:
                        nn.init.zeros_(_attr(block, path).weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _attr(module: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted path; integer parts index a Sequential ("body.-1")."""
    for part in path.split("."):
        module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)
    return module


def build_model(spec: NetSpec, *, zero_init_residual: bool = False) -> Net:
    """Build the network a NetSpec describes (on the CPU, float32, in training mode).

    Example:
        >>> from scalesearch.nets import preset
        >>> model = build_model(preset("cifar_resnet20"))
        >>> sum(p.numel() for p in model.parameters())
        269722
    """
    if not isinstance(spec, NetSpec):
        raise InputError(f"build_model: expected a NetSpec, got {type(spec).__name__}")
    return Net(spec, zero_init_residual=zero_init_residual)
