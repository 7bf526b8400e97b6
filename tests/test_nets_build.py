"""build_model: the registry's modules, the papers' initialisation and zero-init of residual BNs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scalesearch.nets import anynet, preset
from scalesearch.nets.blocks import BLOCKS
from scalesearch.nets.build import build_model


def _residual_bns(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """(block kind, last BN of its residual branch) of every block that has a shortcut, found by walking the
    modules themselves (not the registry's paths)."""
    found = []
    for stage, blocks in zip(model.spec.stages, model.stages, strict=True):
        for block in blocks:
            if block.shortcut is None:
                continue
            bns = [m for name, m in block.named_modules() if isinstance(m, nn.BatchNorm2d)
                   and not name.startswith("shortcut")]
            found.append((stage.block, bns[-1]))
    return found


@pytest.mark.parametrize("name", ["cifar_resnet20", "resnext29_8x64d", "efficientnet_b0", "wrn_16_4"])
def test_zero_init_residual_zeroes_exactly_the_last_bn_of_each_residual_branch(name):
    torch.manual_seed(0)
    plain = build_model(preset(name, num_classes=10, resolution=32))
    torch.manual_seed(0)
    zeroed = build_model(preset(name, num_classes=10, resolution=32), zero_init_residual=True)
    pairs = list(zip(_residual_bns(plain), _residual_bns(zeroed), strict=True))
    assert pairs
    for (kind, bn_plain), (_, bn_zero) in pairs:
        if BLOCKS[kind].residual_bn is None:  # pre-activation blocks end in a conv: nothing to zero
            assert torch.equal(bn_plain.weight, bn_zero.weight)
        else:
            assert torch.count_nonzero(bn_zero.weight) == 0 and torch.all(bn_plain.weight == 1)
    zeroed_bns = {id(bn) for _, bn in _residual_bns(zeroed)}
    others = [m for m in zeroed.modules() if isinstance(m, nn.BatchNorm2d) and id(m) not in zeroed_bns]
    assert all(torch.all(m.weight == 1) for m in others)


def test_every_registered_block_builds_and_names_a_real_bn():
    for name, entry in BLOCKS.items():
        stage = {"basic": "basic_d2_w16", "bottleneck": "bottleneck_d2_w16_m8_g2", "preact": "preact_d2_w16",
                 "mbconv": "mbconv_d2_w16_e4_se0.25_scid", "dwsep": "dwsep_d2_w16_scid"}[name]
        model = build_model(anynet((stage,), stem_width=16, num_classes=10, resolution=16),
                            zero_init_residual=True)
        block = model.stages[0][1]
        assert isinstance(block, entry.module_class())
        if entry.residual_bn is not None:
            bn = block
            for part in entry.residual_bn.split("."):
                bn = bn[int(part)] if part.lstrip("-").isdigit() else getattr(bn, part)
            assert isinstance(bn, nn.BatchNorm2d) and torch.count_nonzero(bn.weight) == 0
        model(torch.zeros(2, 3, 16, 16))


def test_blocks_package_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, scalesearch.nets.blocks, scalesearch.nets.cost, scalesearch.nets; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
