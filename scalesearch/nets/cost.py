"""Analytic cost of a NetSpec (params, MACs, activations) without building the model, and cross-checks.

`count(spec)` walks stem, stages and head with the cost functions registered beside each block (blocks.BLOCKS).
Blocks 2..d of a stage are identical in shape, so a stage costs two block evaluations whatever its depth: costing
is microseconds per spec, fast enough to screen thousands of candidates before training.

MACs are the papers' "FLOPs": conv and linear multiply-accumulates (see blocks.py for the exact conventions).
`count_model` counts the same quantities on a built module with forward hooks, `thop_count` with thop (BatchNorm
and pooling as zero ops, on a deep copy so the caller's model is left as it was); tests require all three agree.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from scalesearch.nets import HeadSpec, NetSpec, StageSpec, StemSpec, format_stage, preset, preset_names
from scalesearch.nets.blocks import BLOCKS, Cx, head_cost, stem_cost
from scalesearch.util.text import human, table  # human is re-exported too: callers format costs with cost.human


@dataclass(frozen=True)
class PartCost:
    """Cost of one part of a network (the stem, a stage or the head) and its output shape.

    `layout` is the part's spec (a StemSpec, StageSpec or HeadSpec); `desc` renders it for tables, on demand, so
    that screening candidates never pays for string formatting.
    """

    name: str
    params: int
    macs: int
    acts: int
    channels: int
    resolution: int
    layout: Any = None

    @property
    def desc(self) -> str:
        if isinstance(self.layout, StageSpec):
            return format_stage(self.layout)
        if isinstance(self.layout, StemSpec):
            st = self.layout
            return f"conv{st.kernel}x{st.kernel}/{st.stride}" + (" + maxpool/2" if st.pool else "")
        if isinstance(self.layout, HeadSpec):
            return (f"conv1x1 {self.layout.width} + " if self.layout.width else "") + f"pool + fc {self.channels}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "macs": self.macs, "acts": self.acts,
                "channels": self.channels, "resolution": self.resolution, "desc": self.desc}


@dataclass(frozen=True)
class Cost:
    """Analytic cost of a whole network; `parts` is stem, each stage, head."""

    params: int
    macs: int
    acts: int
    parts: tuple[PartCost, ...]

    @property
    def stages(self) -> tuple[PartCost, ...]:
        """The per-stage parts (without stem and head)."""
        return self.parts[1:-1]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "macs": self.macs, "acts": self.acts,
                "parts": [p.to_dict() for p in self.parts]}


def count(spec: NetSpec) -> Cost:
    """Params, MACs and activations of the network `spec` describes, per part and in total.

    Example:
        >>> from scalesearch.nets import preset
        >>> c = count(preset("resnet50"))
        >>> c.params, c.macs
        (25557032, 4089184256)
    """
    parts = []
    cx = Cx(spec.resolution, spec.resolution)
    stem_cost(cx, spec.in_channels, spec.stem)
    parts.append(PartCost("stem", cx.params, cx.macs, cx.acts, spec.stem.width, cx.h, spec.stem))
    w_in = spec.stem.width
    for i, stage in enumerate(spec.stages):
        cost_fn = BLOCKS[stage.block].cost
        sx = Cx(cx.h, cx.w)
        cost_fn(sx, w_in, stage.width, stage.stride, stage)
        if stage.depth > 1:  # the other blocks are all alike: cost one and multiply
            rx = Cx(sx.h, sx.w)
            cost_fn(rx, stage.width, stage.width, 1, stage)
            n = stage.depth - 1
            sx.params += n * rx.params
            sx.macs += n * rx.macs
            sx.acts += n * rx.acts
        parts.append(PartCost(f"stage{i + 1}", sx.params, sx.macs, sx.acts, stage.width, sx.h, stage))
        cx.h, cx.w = sx.h, sx.w
        w_in = stage.width
    hx = Cx(cx.h, cx.w)
    head_cost(hx, w_in, spec.num_classes, spec.head)
    parts.append(PartCost("head", hx.params, hx.macs, hx.acts, spec.num_classes, 1, spec.head))
    return Cost(sum(p.params for p in parts), sum(p.macs for p in parts), sum(p.acts for p in parts), tuple(parts))


def count_model(model: Any, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Params, conv+linear MACs and activations of a built module, counted with forward hooks on one sample.

    Args:
        model: an nn.Module (on any device, "meta" included: the sample is made where its parameters are, so a
            network built under `torch.device("meta")` is counted without allocating its weights).
        input_shape: (C, H, W) of one input.
    Returns:
        {"params", "macs", "acts"}.
    """
    import torch
    from torch import nn

    totals = {"macs": 0, "acts": 0}

    def hook(m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            totals["macs"] += k * out[0].numel()
        else:
            totals["macs"] += m.in_features * out[0].numel()
        totals["acts"] += out[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {"params": sum(p.numel() for p in model.parameters()), **totals}


def thop_count(model: Any, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(MACs, params) by thop on a deep copy of `model` (BatchNorm and pooling count as zero ops).

    Requires the `thop` module (the ultralytics-thop package)."""
    import thop
    import torch
    from torch import nn

    def zero(m: nn.Module, x: Any, y: Any) -> None:
        m.total_ops += torch.zeros(1, dtype=torch.float64)

    zero_ops = {nn.BatchNorm2d: zero, nn.MaxPool2d: zero, nn.AdaptiveAvgPool2d: zero, nn.AvgPool2d: zero,
                nn.Dropout: zero, nn.ReLU: zero, nn.ReLU6: zero, nn.SiLU: zero, nn.Identity: zero}
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        macs, params = thop.profile(m, inputs=(torch.zeros(1, *input_shape),), custom_ops=zero_ops, verbose=False)
    return round(float(macs)), round(float(params))


def measure_latency(model: Any, input_shape: tuple[int, ...], *, batch_size: int = 1, device: str = "cpu",
                    warmup: int = 3, repeats: int = 10) -> float:
    """Median forward latency in milliseconds of `model` in eval mode on a batch of `batch_size`."""
    import torch

    m = copy.deepcopy(model).to(device).eval()
    x = torch.zeros(batch_size, *input_shape, device=device)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            t0 = time.perf_counter()
            m(x)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    times.sort()
    return 1000.0 * times[len(times) // 2]


def format_table(spec: NetSpec, cost: Cost | None = None) -> str:
    """A per-part table of params, MACs, activations and output shapes, with totals."""
    cost = cost or count(spec)
    rows = [("part", "output", "params", "MACs", "acts", "layout")]
    for p in cost.parts:
        shape = f"{p.channels}" if p.name == "head" else f"{p.channels}x{p.resolution}x{p.resolution}"
        rows.append((p.name, shape, f"{p.params:,}", f"{p.macs:,}", f"{p.acts:,}", p.desc))
    rows.append(("total", "", f"{cost.params:,}", f"{cost.macs:,}", f"{cost.acts:,}",
                 f"{human(cost.params)} params, {human(cost.macs)} MACs"))
    return table(rows, align="<<>>><", total=True, full_rule=True)


def presets_table() -> str:
    """One line per preset architecture: input shape, classes, params and MACs (what `scalesearch presets` prints)."""
    lines = [f"{'preset':<20} {'input':>10} {'classes':>7} {'params':>8} {'MACs':>8}"]
    for name in preset_names():
        spec = preset(name)
        c = count(spec)
        shape = f"{spec.in_channels}x{spec.resolution}x{spec.resolution}"
        lines.append(f"{name:<20} {shape:>10} {spec.num_classes:>7} {human(c.params):>8} {human(c.macs):>8}")
    lines.append("(also any wrn_<depth>_<k> with depth = 6n+4)")
    return "\n".join(lines)
