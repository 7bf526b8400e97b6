"""Networks as data, their cost and their modules: specs, family generators, scaling rules, presets, the block registry,
analytic costs, the nn.Modules and the builder.

A network is a `NetSpec`: a stem, a tuple of `StageSpec`s and a head, plus its input shape and classes. Specs are
frozen and hashable, have a canonical JSON form and a stable `hash` (the dedupe key of a search), and are
changed only by deriving new ones (`dataclasses.replace`, `NetSpec.with_io`). Every generator below is a pure
function of a few numbers that returns a `NetSpec`; `build.build_model` turns one into a module and
`cost.count` costs it analytically without building anything.

Legend (as in pycls): w = width (output channels), d = depth (blocks in a stage), s = stride, g = groups
(ResNeXt cardinality C), m = mid width (a bottleneck's inner width; ResNeXt's C * d), k = kernel size,
e = expansion ratio (MBConv), se = squeeze-excitation ratio (of the block's input channels), r = resolution.

Blocks (the registry `scalesearch.nets.blocks.BLOCKS` says which StageSpec fields each reads): `basic` (two kxk
convs, post-activation), `bottleneck` (1x1, grouped kxk, 1x1),
`preact` (pre-activation basic block of Wide ResNets, dropout between the convs), `mbconv` (inverted residual
with optional SE), `dwsep` (MobileNet v1 depthwise-separable conv).

Shortcuts: `none` (plain network), `id` (identity where input and output shapes agree, none elsewhere:
MobileNetV2/EfficientNet), `A` (identity; where the shape changes, strided subsampling and zero-padded channels:
parameter-free), `B` (identity; 1x1 projection where the shape changes), `C` (1x1 projection on every block).

Example:
    >>> from scalesearch.nets import preset, resnet
    >>> preset("resnet50") == resnet(50)
    True
    >>> preset("cifar_resnet20").hash == preset("cifar_resnet20").hash
    True
"""

from scalesearch.nets.blocks import BLOCKS
from scalesearch.nets.families import (
                                       EFFICIENTNET_B0,
                                       EFFICIENTNET_COEFFICIENTS,
                                       GENERATORS,
                                       anynet,
                                       cifar_plain,
                                       cifar_resnet,
                                       cifar_resnext,
                                       compound_multipliers,
                                       efficientnet,
                                       efficientnet_compound,
                                       make_divisible,
                                       mobilenet_v1,
                                       mobilenet_v2,
                                       plain,
                                       resnet,
                                       resnext,
                                       round_filters,
                                       round_repeats,
                                       wide_resnet,
)
from scalesearch.nets.presets import PRESETS, is_preset, preset, preset_names
from scalesearch.nets.specs import (
                                       ACTIVATIONS,
                                       MAX_BLOCKS,
                                       MAX_CLASSES,
                                       MAX_INPUT_RESOLUTION,
                                       MAX_KERNEL,
                                       MAX_WIDTH,
                                       SHORTCUTS,
                                       STRIDE_ON,
                                       HeadSpec,
                                       NetSpec,
                                       StageSpec,
                                       StemSpec,
                                       format_stage,
                                       parse_stage,
)

__all__ = [
    "ACTIVATIONS", "BLOCKS", "EFFICIENTNET_B0", "EFFICIENTNET_COEFFICIENTS", "GENERATORS", "MAX_BLOCKS", "MAX_CLASSES",
    "MAX_INPUT_RESOLUTION", "MAX_KERNEL", "MAX_WIDTH", "PRESETS", "SHORTCUTS", "STRIDE_ON", "HeadSpec", "NetSpec",
    "StageSpec", "StemSpec", "anynet", "cifar_plain", "cifar_resnet", "cifar_resnext", "compound_multipliers",
    "efficientnet", "efficientnet_compound", "format_stage", "is_preset", "make_divisible", "mobilenet_v1",
    "mobilenet_v2", "parse_stage", "plain", "preset", "preset_names", "resnet", "resnext", "round_filters",
    "round_repeats", "wide_resnet",
]
