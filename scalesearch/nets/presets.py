"""Presets, named like torchvision's models, plus the CIFAR models of the papers."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable

from scalesearch.errors import InputError
from scalesearch.nets.families import (
    EFFICIENTNET_COEFFICIENTS,
    cifar_plain,
    cifar_resnet,
    cifar_resnext,
    efficientnet,
    mobilenet_v1,
    mobilenet_v2,
    plain,
    resnet,
    resnext,
    wide_resnet,
)
from scalesearch.nets.specs import NetSpec

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
        raise InputError(f"unknown preset {name!r}{hint}")
    return spec.with_io(in_channels, num_classes, resolution)
