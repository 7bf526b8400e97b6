"""Training-free ("zero-cost") scores of an untrained network on one seeded mini-batch.

This module owns four scores and the batch they are computed on; params and MACs are not here (the caller has
them from `cost`). Each score works on its own `copy.deepcopy` of the model, so the caller's module is left
bit-for-bit as it was (parameters, buffers such as BN running stats, training flag, requires_grad, `.grad`),
and no global RNG state is read or set.

- `naswot`: Mellor et al. 2021, "Neural Architecture Search without Training" (ICML). log|det K_H| of the
  kernel K_H = N_A - d_H(c_i, c_j) of the inputs' binary activation codes.
- `synflow`: Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic
  flow" (NeurIPS), as computed by Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS" (ICLR),
  code SamsungLabs/zero-cost-nas `foresight/pruners/measures/synflow.py`.
- `snip`: Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity" (ICLR):
  sum of |dL/dw * w|, as zero-cost-nas `snip.py` (its gradient with respect to a mask of ones is dL/dw * w).
- `grad_norm`: sum over weight tensors of ||dL/dw||_2, as zero-cost-nas `grad_norm.py`.

Conventions shared by the scores:

- "Weights" are the `.weight` of every nn.Conv2d and nn.Linear, as the references' `get_layer_metric_array`;
  biases, BatchNorm affine parameters and any other parameter are not scored.
- Mode: the copy runs with its BatchNorm layers in training mode (batch statistics, as the references score
  networks as built, in train mode) and every other module in eval mode, so dropout and stochastic depth are
  off: the scores are deterministic and draw nothing from the global RNG.
- The loss of snip and grad_norm is F.cross_entropy with its default mean over the batch (the references').
- Non-finite values are returned, never raised: naswot is -inf when K_H is singular (two inputs with the same
  codes); synflow is inf when the float64 forward pass overflows (very deep or wide nets); nan passes through.

Legend: N the batch size, N_A the number of activation units summed over every hooked call, c_i the binary code
of input i, K_H the N x N NASWOT kernel, R the sum of the output on the all-ones input (SynFlow).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from scalesearch.errors import InputError
from scalesearch.strategies.names import TRAINING_FREE_SCORES

__all__ = [
    "CODED_ACTIVATIONS",
    "SCORES",
    "compute_scores",
    "grad_norm",
    "naswot",
    "score_batch",
    "score_candidate",
    "scores_for_job",
    "snip",
    "stored_form",
    "synflow",
    "synflow_per_layer",
]

SCORES = TRAINING_FREE_SCORES  # the names are the strategies table's; the functions are these

# Modules whose output gives NASWOT's binary code 1[x > 0]. For ReLU and ReLU6 that is the paper's code (the unit is
# active); SiLU and Hardswish have no on/off state, and their sign (x > 0 exactly where the input is > 0) stands in.
CODED_ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish)


def _weighted(net: nn.Module) -> list[nn.Module]:
    """The nn.Conv2d and nn.Linear modules of `net`, in module order: the layers whose weights are scored."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy with no gradients, BatchNorm in training mode and every other module in eval mode."""
    net = copy.deepcopy(model)
    for m in net.modules():
        m.training = isinstance(m, _BatchNorm)
    for p in net.parameters():
        p.grad = None
    return net


def _input(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`x` on the device of `net`'s parameters, and in their dtype when `x` is floating."""
    p = next(net.parameters(), None)
    if p is None:
        return x
    return x.to(device=p.device, dtype=p.dtype if x.is_floating_point() else x.dtype)


def _weight_grads(net: nn.Module, loss: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]:
    """d loss / d weight of each layer, zeros for a layer the loss does not reach."""
    weights = [m.weight for m in layers]
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads, strict=True)]


def _loss_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                codes: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor], float | None]:
    """(weights, d cross-entropy / d weights, NASWOT or None) on a copy of `model` for the batch (x, y).

    With `codes`, the same forward pass also collects NASWOT's kernel (`naswot` runs that pass without gradients;
    the activations, and so the codes, are the same): snip, grad_norm and naswot together cost one forward and one
    backward pass, not three forward and two backward."""
    if len(x) != len(y):
        raise InputError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    net = _copy(model)
    layers = _weighted(net)
    for m in layers:
        m.weight.requires_grad_(True)
    xs = _input(net, x)
    kernel = _CodeKernel(net, xs.shape[0]) if codes else None
    with torch.enable_grad():
        with kernel if kernel is not None else contextlib.nullcontext():
            out = net(xs)
        loss = F.cross_entropy(out, y.to(out.device))
        grads = _weight_grads(net, loss, layers)
    return [m.weight.detach() for m in layers], grads, None if kernel is None else kernel.logdet()


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """NASWOT (Mellor et al. 2021): log|det K_H| with K_H[i, j] = N_A - d_H(c_i, c_j), in float64.

    The code c_i of input i is 1[out > 0] of every CODED_ACTIVATIONS module's output, flattened and concatenated
    over the modules in call order (a module called twice counts twice, as the reference's hooks do). K_H is
    accumulated as c c^T + (1 - c)(1 - c)^T, which equals N_A - Hamming distance. Only nn.Module activations are
    seen: a functional call (F.relu, torch.relu, x.clamp(min=0)) has no module to hook and adds no code.

    Args:
        model: the network; left unchanged.
        x: a batch of N inputs.

    Returns:
        log|det K_H|; -inf when K_H is singular (e.g. two inputs with identical codes, or no hooked activation).
    """
    net = _copy(model)
    xs = _input(net, x)
    with _CodeKernel(net, xs.shape[0]) as kernel, torch.no_grad():
        net(xs)
    return kernel.logdet()


class _CodeKernel:
    """NASWOT's kernel K_H, accumulated by forward hooks on the CODED_ACTIVATIONS modules of `net` while a
    `with` block runs it on a batch of `n` inputs.

    Per hooked output with codes c (n x F, 0/1): c c^T + (1 - c)(1 - c)^T = 2 c c^T - s 1^T - 1 s^T + F, s the row
    sums of c, so one product per output. The product is taken in float32 where it is exact (every entry is an
    integer at most F < 2^24) and in float64 otherwise; the kernel is summed in float64 (integers, exact).
    """

    def __init__(self, net: nn.Module, n: int) -> None:
        self.net, self.n = net, n
        self.kernel = torch.zeros(n, n, dtype=torch.float64)
        self.handles: list[Any] = []

    def hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        codes = out.detach().reshape(self.n, -1) > 0
        width = codes.shape[1]
        c = codes.to(dtype=torch.float32 if width < 2 ** 24 else torch.float64)
        same = (c @ c.T).to(device="cpu", dtype=torch.float64)
        s = codes.sum(dim=1).to(device="cpu", dtype=torch.float64)
        self.kernel += 2.0 * same - s[:, None] - s[None, :] + float(width)

    def __enter__(self) -> Self:
        self.handles = [m.register_forward_hook(self.hook) for m in self.net.modules()
                        if isinstance(m, CODED_ACTIVATIONS)]
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def logdet(self) -> float:
        """log|det K_H| (-inf when K_H is singular)."""
        _sign, logabsdet = torch.linalg.slogdet(self.kernel)
        return float(logabsdet)


def _skip(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    """The forward of a bypassed BatchNorm: its input, unchanged."""
    return x


def synflow_per_layer(model: nn.Module, shape: Sequence[int]) -> list[float]:
    """SynFlow's per-layer sums sum |theta * dR/dtheta| over the weights of each Conv2d/Linear, in module order.

    As zero-cost-nas's `synflow` measure: on a float64 copy, every parameter is replaced by its absolute value,
    one all-ones input of shape [1, *shape] goes forward, and R = sum(output) is back-propagated. BatchNorm is
    bypassed (its forward returns its input), as that measure does (it is registered with bn=False, and the copy
    it scores has every BatchNorm's forward replaced by a no-op). Why: SynFlow assumes the network is a positive
    multilinear map of its weights, so that every layer's sum equals R (Tanaka et al.'s conservation). A BN in
    training mode normalises the one input by its own statistics (subtracting the mean makes activations negative
    and the ReLUs cut them, and a 1x1 map of batch 1 has no variance at all); one in eval mode would add its
    running statistics and shift, which is not homogeneous in the weights either. The data never enters: only the
    input's shape does.

    Args:
        model: the network; left unchanged.
        shape: the shape of one input without the batch dimension, e.g. (3, 32, 32).

    Returns:
        One float per scored layer; their sum is `synflow(model, shape)`.
    """
    net = _copy(model).double()
    for m in net.modules():
        if isinstance(m, _BatchNorm):
            m.forward = _skip
    layers = _weighted(net)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    for m in layers:
        m.weight.requires_grad_(True)
    p = next(net.parameters(), None)
    ones = torch.ones((1, *shape), dtype=torch.float64, device=None if p is None else p.device)
    with torch.enable_grad():
        out = net(ones)
        grads = _weight_grads(net, out.sum(), layers)
    return [float((m.weight.detach() * g).abs().sum()) for m, g in zip(layers, grads, strict=True)]


def synflow(model: nn.Module, shape: Sequence[int]) -> float:
    """SynFlow score: the sum of `synflow_per_layer(model, shape)` (see there for the definition and BN)."""
    return math.fsum(synflow_per_layer(model, shape))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP (Lee et al. 2019): sum over Conv2d/Linear weights of |dL/dw * w|, L the cross-entropy on (x, y)."""
    weights, grads, _ = _loss_grads(model, x, y)
    return _snip_sum(weights, grads)


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Gradient norm: sum over Conv2d/Linear weight tensors of ||dL/dw||_2, L the cross-entropy on (x, y)."""
    _weights, grads, _ = _loss_grads(model, x, y)
    return _grad_norm_sum(grads)


def _snip_sum(weights: list[torch.Tensor], grads: list[torch.Tensor]) -> float:
    return math.fsum(float((w * g).abs().sum()) for w, g in zip(weights, grads, strict=True))


def _grad_norm_sum(grads: list[torch.Tensor]) -> float:
    return math.fsum(float(g.norm()) for g in grads)


_SCORE_FNS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {
    "naswot": lambda model, x, y: naswot(model, x),
    "synflow": lambda model, x, y: synflow(model, tuple(x.shape[1:])),
    "snip": snip,
    "grad_norm": grad_norm,
}


def compute_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   names: Sequence[str] = SCORES) -> dict[str, float]:
    """Training-free scores of `model` on the batch (x, y); see the module docstring for the conventions.

    Args:
        model: an (untrained) network; left bit-for-bit unchanged, each score works on its own deep copy.
        x: a batch of N inputs, e.g. from `score_batch`; synflow uses only its shape.
        y: the N integer class labels (snip and grad_norm).
        names: the scores to compute, from SCORES.

    Returns:
        {name: score} in the order of `names`; a score may be -inf, inf or nan (module docstring), never raised.

    Raises:
        InputError (a ValueError): an unknown name, or x and y of different lengths.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
        >>> x, y = score_batch(torch.randn(100, 3, 8, 8), torch.arange(100) % 10, size=16)
        >>> sorted(compute_scores(net, x, y))
        ['grad_norm', 'naswot', 'snip', 'synflow']
    """
    unknown = [n for n in names if n not in _SCORE_FNS]
    if unknown:
        raise InputError(f"unknown score(s) {', '.join(map(repr, unknown))}; known: {', '.join(SCORES)}")
    shared: dict[str, float] = {}
    if "snip" in names or "grad_norm" in names:  # one forward and backward pass for the three that need the batch
        weights, grads, code_score = _loss_grads(model, x, y, codes="naswot" in names)
        shared = {"snip": _snip_sum(weights, grads), "grad_norm": _grad_norm_sum(grads)}
        if code_score is not None:
            shared["naswot"] = code_score
    return {name: shared[name] if name in shared else _SCORE_FNS[name](model, x, y) for name in names}


def score_batch(x_all: torch.Tensor, y_all: torch.Tensor, *, size: int = 64,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One mini-batch of `size` examples drawn without replacement, the same for the same seed.

    The draw uses its own torch.Generator seeded with `seed` (the global RNG is neither read nor set).

    Args:
        x_all: all inputs (first dimension: examples).
        y_all: their labels, as long as x_all.
        size: the batch size, 1 <= size <= len(x_all).
        seed: the seed of the draw.

    Returns:
        (x, y), the chosen rows in the order drawn.

    Raises:
        InputError (a ValueError): lengths that differ, or a size out of range.
    """
    n = len(x_all)
    if len(y_all) != n:
        raise InputError(f"x_all and y_all must have the same length, got {n} and {len(y_all)}")
    if not 1 <= size <= n:
        raise InputError(f"size must be between 1 and the number of examples ({n}), got {size}")
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(n, generator=generator)[:size]
    return x_all[index.to(x_all.device)], y_all[index.to(y_all.device)]


def stored_form(scores: dict[str, float]) -> dict[str, float | None]:
    """Scores as a database stores them: a value that is not finite becomes None (JSON has no infinity)."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in scores.items()}


def scores_for_job(netspec: Any, data: Any, *, seed: int, size: int = 64) -> dict[str, Any]:
    """What a search stores for a candidate: its scores (`stored_form`) on `size` images of `data`'s train split
    drawn with `seed`, its weights drawn from `seed` too; {"error": ...} when they cannot be computed."""
    try:
        x, y = score_batch(data.train.x, data.train.y, size=min(size, len(data.train.y)), seed=seed)
        return stored_form(score_candidate(netspec, x, y, data.mean, data.std, seed=seed))
    except Exception as e:  # noqa: BLE001 - a score that cannot be computed must not stop the training
        return {"error": " ".join(str(e).split())[:300] or type(e).__name__}


def score_candidate(netspec: Any, x: torch.Tensor, y: torch.Tensor, mean: Sequence[float], std: Sequence[float], *,
                    seed: int = 0, names: Sequence[str] = SCORES) -> dict[str, float]:
    """The scores of a candidate network as a search trains it: built from its NetSpec (or its dict) with its
    weights drawn from `seed` (inside `torch.random.fork_rng`: the caller's RNG is untouched), on the uint8 batch
    `x` normalised with the train split's `mean` and `std` (as training does), resized bilinearly to the net's
    resolution when it differs (a resolution-scaled candidate; the loader's own resize may differ slightly)."""
    from scalesearch.nets import NetSpec
    from scalesearch.nets.build import build_model

    spec = netspec if isinstance(netspec, NetSpec) else NetSpec.from_dict(netspec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    xf = (x.float() / 255.0 - m) / s
    res = int(spec.resolution)
    if xf.shape[-1] != res or xf.shape[-2] != res:
        xf = F.interpolate(xf, size=(res, res), mode="bilinear", align_corners=False, antialias=res < xf.shape[-1])
    return compute_scores(model, xf, y, names)
