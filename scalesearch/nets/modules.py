"""The nn.Modules of the registered blocks, the stem and the head (torch).

Every block takes one signature, `Block(w_in, w_out, stride, stage, drop_path=0.0)`; its cost function and its
registry entry live in `scalesearch.nets.blocks`, which names each class here by import path.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from scalesearch.nets import HeadSpec, StageSpec, StemSpec
from scalesearch.nets.blocks import mbconv_widths, shortcut_kind

_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
}


def activation(name: str) -> nn.Module:
    """The activation module of an activation name (arch.ACTIVATIONS)."""
    return _ACTS[name]()


def conv(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """A kxk conv with 'same' padding k//2."""
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop whole residual branches per sample with probability p, rescaling the kept ones."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask.div_(keep)


# ---------------------------------------------------------------------------------------------------------------
# Shortcuts

class PadShortcut(nn.Module):
    """Option A: strided subsampling and zero-padded channels (parameter-free)."""

    def __init__(self, w_in: int, w_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_front = (w_out - w_in) // 2
        self.pad_back = w_out - w_in - self.pad_front

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad_front or self.pad_back:
            x = F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))
        return x


def make_shortcut(kind: str, w_in: int, w_out: int, stride: int, norm: bool) -> nn.Module | None:
    """The shortcut module (None when the block has no shortcut); projections are 1x1 convs (+ BN if `norm`)."""
    what = shortcut_kind(kind, w_in, w_out, stride)
    if what == "none":
        return None
    if what == "identity":
        return nn.Identity()
    if what == "pad":
        return PadShortcut(w_in, w_out, stride)
    layers: list[nn.Module] = [conv(w_in, w_out, 1, stride)]
    if norm:
        layers.append(nn.BatchNorm2d(w_out))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------------
# Blocks

class BasicBlock(nn.Module):
    """Post-activation basic block: kxk conv (stride) - BN - act - [dropout] - kxk conv - BN, + shortcut, act."""

    def __init__(self, w_in: int, w_out: int, stride: int, stage: StageSpec, drop_path: float = 0.0) -> None:
        super().__init__()
        k = stage.kernel
        self.conv1, self.bn1, self.act1 = conv(w_in, w_out, k, stride), nn.BatchNorm2d(w_out), activation(stage.act)
        self.drop = nn.Dropout(stage.dropout) if stage.dropout else nn.Identity()
        self.conv2, self.bn2 = conv(w_out, w_out, k), nn.BatchNorm2d(w_out)
        self.shortcut = make_shortcut(stage.shortcut, w_in, w_out, stride, norm=True)
        self.act2 = activation(stage.act)
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.drop(self.act1(self.bn1(self.conv1(x))))))
        if self.shortcut is not None:
            out = drop_path(out, self.drop_path, self.training) + self.shortcut(x)
        return self.act2(out)


class Bottleneck(nn.Module):
    """Bottleneck (ResNet/ResNeXt): 1x1 to m - BN - act - kxk grouped conv - BN - act - [dropout] - 1x1 to w_out
    - BN, + shortcut, act. The stride sits on the 1x1 (stride_on='1x1', paper v1) or on the kxk (v1.5)."""

    def __init__(self, w_in: int, w_out: int, stride: int, stage: StageSpec, drop_path: float = 0.0) -> None:
        super().__init__()
        m, g, k = stage.mid, stage.groups, stage.kernel
        s1, s3 = (stride, 1) if stage.stride_on == "1x1" else (1, stride)
        self.conv1, self.bn1, self.act1 = conv(w_in, m, 1, s1), nn.BatchNorm2d(m), activation(stage.act)
        self.conv2, self.bn2, self.act2 = conv(m, m, k, s3, groups=g), nn.BatchNorm2d(m), activation(stage.act)
        self.drop = nn.Dropout(stage.dropout) if stage.dropout else nn.Identity()
        self.conv3, self.bn3 = conv(m, w_out, 1), nn.BatchNorm2d(w_out)
        self.shortcut = make_shortcut(stage.shortcut, w_in, w_out, stride, norm=True)
        self.act3 = activation(stage.act)
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.drop(self.act2(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            out = drop_path(out, self.drop_path, self.training) + self.shortcut(x)
        return self.act3(out)


class PreActBlock(nn.Module):
    """Pre-activation basic block (Wide ResNet): BN - act - kxk conv (stride) - BN - act - [dropout] - kxk conv,
    + shortcut. Projection shortcuts (1x1 conv, no BN) take the pre-activated input, identity ones the raw input."""

    def __init__(self, w_in: int, w_out: int, stride: int, stage: StageSpec, drop_path: float = 0.0) -> None:
        super().__init__()
        k = stage.kernel
        self.bn1, self.act1 = nn.BatchNorm2d(w_in), activation(stage.act)
        self.conv1 = conv(w_in, w_out, k, stride)
        self.bn2, self.act2 = nn.BatchNorm2d(w_out), activation(stage.act)
        self.drop = nn.Dropout(stage.dropout) if stage.dropout else nn.Identity()
        self.conv2 = conv(w_out, w_out, k)
        self.shortcut = make_shortcut(stage.shortcut, w_in, w_out, stride, norm=False)
        self.proj = shortcut_kind(stage.shortcut, w_in, w_out, stride) == "proj"
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))  # bn1 returns a new tensor: the in-place act leaves x intact
        out = self.conv2(self.drop(self.act2(self.bn2(self.conv1(pre)))))
        if self.shortcut is not None:
            out = drop_path(out, self.drop_path, self.training) + self.shortcut(pre if self.proj else x)
        return out


class SqueezeExcite(nn.Module):
    """Squeeze-excitation: global pool - 1x1 conv to s (bias) - act - 1x1 conv back (bias) - sigmoid gate."""

    def __init__(self, c: int, s: int, act: str) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Conv2d(c, s, 1), activation(act), nn.Conv2d(s, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class _BodyBlock(nn.Module):
    """A block whose residual branch is one nn.Sequential `body`, plus an optional shortcut and no activation
    after the addition (MBConv, DWSep)."""

    def __init__(self, body: list[nn.Module], w_in: int, w_out: int, stride: int, stage: StageSpec,
                 drop_path: float) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = make_shortcut(stage.shortcut, w_in, w_out, stride, norm=True)
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = drop_path(out, self.drop_path, self.training) + self.shortcut(x)
        return out


class MBConv(_BodyBlock):
    """Inverted residual (MobileNetV2 / EfficientNet): [1x1 expand to m - BN - act] - kxk depthwise (stride) - BN -
    act - [SE] - 1x1 project to w_out - BN (linear), + shortcut (identity where the shapes agree by default)."""

    def __init__(self, w_in: int, w_out: int, stride: int, stage: StageSpec, drop_path: float = 0.0) -> None:
        m, s = mbconv_widths(w_in, stage)
        layers: list[nn.Module] = []
        if m != w_in:
            layers += [conv(w_in, m, 1), nn.BatchNorm2d(m), activation(stage.act)]
        layers += [conv(m, m, stage.kernel, stride, groups=m), nn.BatchNorm2d(m), activation(stage.act)]
        if s:
            layers.append(SqueezeExcite(m, s, stage.act))
        layers += [conv(m, w_out, 1), nn.BatchNorm2d(w_out)]
        super().__init__(layers, w_in, w_out, stride, stage, drop_path)


class DWSep(_BodyBlock):
    """Depthwise-separable conv (MobileNet v1): kxk depthwise (stride) - BN - act - 1x1 pointwise - BN - act."""

    def __init__(self, w_in: int, w_out: int, stride: int, stage: StageSpec, drop_path: float = 0.0) -> None:
        body = [conv(w_in, w_in, stage.kernel, stride, groups=w_in), nn.BatchNorm2d(w_in), activation(stage.act),
                conv(w_in, w_out, 1), nn.BatchNorm2d(w_out), activation(stage.act)]
        super().__init__(body, w_in, w_out, stride, stage, drop_path)


# ---------------------------------------------------------------------------------------------------------------
# Stem and head

class Stem(nn.Module):
    """kxk conv (stride) [- BN - act] [- 3x3/2 max-pool]."""

    def __init__(self, in_channels: int, stem: StemSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv(in_channels, stem.width, stem.kernel, stem.stride)]
        if stem.norm_act:
            layers += [nn.BatchNorm2d(stem.width), activation(stem.act)]
        if stem.pool:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Head(nn.Module):
    """[1x1 conv - BN - act | BN - act (pre-activation)] - global average pool - [dropout] - linear."""

    def __init__(self, w_in: int, num_classes: int, head: HeadSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if head.width:
            layers += [conv(w_in, head.width, 1), nn.BatchNorm2d(head.width), activation(head.act)]
            w_in = head.width
        elif head.preact:
            layers += [nn.BatchNorm2d(w_in), activation(head.act)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(head.dropout) if head.dropout else nn.Identity()
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))


