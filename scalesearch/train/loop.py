"""Training loop: `fit(model, data, cfg) -> TrainResult`, the ResNet recipe with a lean hot loop.

SGD with (Nesterov) momentum and weight decay, label smoothing, a per-step learning-rate schedule (cosine,
step, one-cycle or constant) after a linear warm-up, random crop + flip on the device, and per-epoch metrics
on the validation split. One typed `TrainConfig` holds every knob, with the reason for each default next to
it (as airbench's `hyp` dict does).

Speed: the data already live on the device as uint8 (`scalesearch.data.loader`), a batch is an index into them,
normalised in the loop. The loop never reads a value back from the device per step: loss and correct counts
are summed on the device and read once per epoch, and finiteness is checked every `nan_check_every` steps.
The learning rates are precomputed. channels_last memory format (CPU and CUDA); on CUDA bf16 autocast; optional
`torch.compile`.

Reproducibility: on CPU two runs with the same `seed` (and the same initial weights, which the caller fixes
by seeding before building the model) give identical metrics. `fit` draws from its own generators (shuffle,
augmentation) and restores torch's global RNG state when it returns.

Example:
    >>> import torch.nn as nn
    >>> from scalesearch.data.loader import load_dataset
    >>> data = load_dataset("synthetic", val_size=100, num_train=400, num_test=100, image_size=8)
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    >>> result = fit(model, data, TrainConfig(epochs=2, batch_size=50, device="cpu"))
    >>> [m.epoch for m in result.epochs], result.steps
    ([1, 2], 12)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scalesearch.data.loader import Dataset, Split, augment_batch
from scalesearch.errors import InputError, ScalesearchError
from scalesearch.train.config import SCHEDULES, TrainConfig
from scalesearch.util.checks import check_int
from scalesearch.util.text import json_ready

__all__ = [
    "SCHEDULES",
    "DivergenceError",
    "EpochMetrics",
    "TrainConfig",
    "TrainResult",
    "fit",
    "lr_schedule",
    "resolve_device",
    "steps_per_epoch",
    "training_state",
]

class DivergenceError(ScalesearchError, RuntimeError):
    """The training loss became NaN or infinite.

    Attributes:
        epoch: the epoch (1-based) in which it was detected.
        step: the global step count when it was detected (the loss went bad at or before this step).
    """

    def __init__(self, message: str, *, epoch: int, step: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


@dataclass
class EpochMetrics:
    """Metrics of one epoch. Losses are mean cross-entropy (train: with label smoothing, as optimised; val:
    without); accuracies are fractions in [0, 1]; train accuracy is measured on the augmented batches.

    Attributes:
        epoch: 1-based epoch number.
        steps: optimiser steps done so far (all epochs).
        lr: learning rate of the epoch's last step.
        seconds, images_per_s: training wall time of the epoch and its throughput (evaluation excluded).
        eval_seconds: wall time of the validation pass.
    """

    epoch: int
    steps: int
    lr: float
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    images_per_s: float
    eval_seconds: float = 0.0


@dataclass
class TrainResult:
    """Outcome of `fit`.

    Attributes:
        epochs: per-epoch metrics, in order.
        val_acc: validation accuracy after the last epoch; best_val_acc: the best over epochs.
        test_acc, test_loss: on the test split, only with `TrainConfig.eval_test` (else None).
        train_seconds: training wall time (evaluation excluded); images_per_s: mean training throughput.
        total_seconds: wall time of the whole `fit`, evaluation and set-up included.
        steps: optimiser steps done. stopped_early: `on_epoch` asked to stop.
        device: where it ran.
    """

    epochs: list[EpochMetrics]
    val_acc: float
    best_val_acc: float
    test_acc: float | None
    train_seconds: float
    images_per_s: float
    steps: int
    stopped_early: bool
    test_loss: float | None = None
    total_seconds: float = 0.0
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN, e.g. the accuracy of an empty val split, becomes None)."""
        return json_ready(asdict(self))


# ---------------------------------------------------------------------------------------------------------------
# Schedule


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """Optimiser steps in one epoch: full batches only (the last partial batch is dropped, as it would give
    BatchNorm a tiny, noisy batch); a training set smaller than a batch is one step over all of it."""
    if num_train < 1:
        raise InputError("the training split is empty")
    return max(1, num_train // batch_size)


def lr_schedule(cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> list[float]:
    """The learning rate of every step, `total_steps` values.

    Warm-up: the first W = min(round(warmup_epochs * steps_per_epoch), total_steps // 2) steps ramp linearly,
    step s (0-based) using lr * (s + 1) / W. After it, with q = (s - W) / (total_steps - W) in [0, 1):
    constant: lr; cosine: lr * (1 + cos(pi q)) / 2 (the last step is near 0, never exactly 0);
    onecycle: lr * (1 - q), a triangle with the warm-up (airbench's schedule); step: lr * gamma**k, where k
    counts the milestones m with s >= round(m * total_steps) (fractions of the whole run, the ResNet paper).

    Example:
        >>> cfg = TrainConfig(lr=1.0, warmup_epochs=1, schedule="onecycle")
        >>> lr_schedule(cfg, steps_per_epoch=2, total_steps=6)
        [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    check_int("steps_per_epoch", steps_per_epoch, 1)
    check_int("total_steps", total_steps, 1)
    warm = min(round(cfg.warmup_epochs * steps_per_epoch), total_steps // 2)
    main = total_steps - warm
    lrs = [cfg.lr * (s + 1) / warm for s in range(warm)]
    bounds = [round(m * total_steps) for m in cfg.milestones]
    for s in range(warm, total_steps):
        q = (s - warm) / main
        if cfg.schedule == "cosine":
            f = 0.5 * (1.0 + math.cos(math.pi * q))
        elif cfg.schedule == "onecycle":
            f = 1.0 - q
        elif cfg.schedule == "step":
            f = cfg.gamma ** sum(s >= b for b in bounds)
        else:
            f = 1.0
        lrs.append(cfg.lr * f)
    return lrs


# ---------------------------------------------------------------------------------------------------------------
# Training


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' -> CUDA if available else CPU; ValueError for CUDA when there is none."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={str(device)!r} but CUDA is not available here: use 'cpu' or 'auto'")
    return device


def fit(
    model: nn.Module,
    data: Dataset,
    cfg: TrainConfig | None = None,
    on_epoch: Callable[[EpochMetrics], bool | None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    resume: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train `model` on `data.train`, evaluating on `data.val` after every epoch.

    The model is moved to the training device (and to channels_last unless `cfg.channels_last` is off) in
    place; its weights at return are those after the last epoch run.

    Args:
        model: the network, as built (on any device); it must map normalised float images `[N, C, H, W]` to
            logits `[N, num_classes]`.
        data: the dataset (moved to the training device if it is elsewhere).
        cfg: the recipe (default: `TrainConfig()`).
        on_epoch: called with each epoch's metrics; returning a true value stops training after that epoch
            (`stopped_early`); an exception it raises propagates (that is how Ray Tune or Optuna prune).
        progress: called after every step with (batches done this epoch, batches this epoch), for a
            progress bar.
        checkpoint: with `cfg.checkpoint_every` = N > 0, called after every N-th epoch that is not the last, before
            `on_epoch`, with the whole training state (`training_state`: weights, optimizer, the shuffle,
            augmentation and torch RNGs, the epochs so far); the loader position is the epoch boundary.
        resume: such a state: training goes on from it (the epochs it holds are not run again, and are part of
            the result). On CPU the result equals an uninterrupted run's, metric for metric.

    Returns:
        The per-epoch metrics and summary numbers.

    Raises:
        DivergenceError: the training loss became NaN or infinite (checked every `cfg.nan_check_every` steps
            and at the end of each epoch).
        ValueError: CUDA requested but unavailable, an empty training split, or a model without parameters.

    Example:
        >>> from scalesearch.data.loader import load_dataset
        >>> data = load_dataset("synthetic", val_size=100, num_train=300, num_test=100, image_size=8)
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        >>> fit(model, data, TrainConfig(epochs=1, batch_size=100, device="cpu")).steps
        2
    """
    t_start = time.perf_counter()
    cfg = TrainConfig() if cfg is None else cfg
    device = resolve_device(cfg.device)
    cuda = device.type == "cuda"
    data = data.to(device)
    n = len(data.train)
    spe = steps_per_epoch(n, cfg.batch_size)
    batch = min(cfg.batch_size, n)
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * spe
    lrs = lr_schedule(cfg, spe, total)

    channels_last = cfg.channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = _make_optimizer(model, cfg)
    groups = optimizer.param_groups
    net: Callable[[torch.Tensor], torch.Tensor] = torch.compile(model) if cfg.compile else model
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda and cfg.bf16 else contextlib.nullcontext
    mean = torch.tensor(data.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    scale, shift = 1.0 / (255.0 * std), -mean / std  # x_norm = x_uint8 * scale + shift
    eval_batch = cfg.eval_batch_size or (1024 if cuda else 256)
    evaluate = lambda split: _evaluate(model, net, split, scale, shift, eval_batch,
                                       autocast, channels_last)

    s_torch, s_shuffle, s_aug = (int(s) for s in np.random.SeedSequence(cfg.seed).generate_state(3))
    shuffle_gen = torch.Generator(device=device).manual_seed(s_shuffle)
    aug_gen = torch.Generator(device=device).manual_seed(s_aug)
    train_x, train_y = data.train.x, data.train.y
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)

    history: list[EpochMetrics] = []
    stopped_early = False
    step = images = 0
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] if cuda else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(s_torch)
        epoch = 0
        gens = {"shuffle": shuffle_gen, "augment": aug_gen}
        if resume is not None:
            epoch, step, images = _restore(resume, model, optimizer, gens, history, device)
            groups = optimizer.param_groups  # load_state_dict replaced the group dicts the loop sets lr on
        while step < total:
            epoch += 1
            n_steps = min(spe, total - step)
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen, device=device)
            loss_sum = torch.zeros((), dtype=torch.float32, device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            checked = step
            sync()
            t0 = time.perf_counter()
            for i in range(n_steps):
                idx = perm[i * batch:(i + 1) * batch]
                x, y = train_x[idx], train_y[idx]
                if cfg.augment:
                    x = augment_batch(x, aug_gen, crop_padding=cfg.crop_padding, flip=cfg.flip,
                                      pad_mode=cfg.crop_pad_mode)
                x = _normalize(x, scale, shift, channels_last)
                lr = lrs[step]
                for g in groups:
                    g["lr"] = lr
                with autocast():
                    out = net(x)
                    loss = criterion(out, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()
                correct += (out.argmax(1) == y).sum()
                step += 1
                if step % cfg.nan_check_every == 0:
                    if not bool(torch.isfinite(loss_sum)):
                        raise _divergence(epoch, step, checked)
                    checked = step
                if progress is not None:
                    progress(i + 1, n_steps)
            sync()
            seconds = time.perf_counter() - t0
            images += n_steps * batch
            train_loss_sum, train_correct = loss_sum.item(), correct.item()
            if not math.isfinite(train_loss_sum):
                raise _divergence(epoch, step, checked)

            t1 = time.perf_counter()
            val_loss, val_acc = evaluate(data.val)
            if len(data.val) and not math.isfinite(val_loss):  # finite weights give a finite loss: they blew up
                raise DivergenceError(f"training diverged: non-finite validation loss after epoch {epoch} (step "
                                      f"{step}; lower the learning rate or check the model)", epoch=epoch, step=step)
            metrics = EpochMetrics(
                epoch=epoch, steps=step, lr=lrs[step - 1], train_loss=train_loss_sum / n_steps,
                train_acc=train_correct / (n_steps * batch), val_loss=val_loss, val_acc=val_acc,
                seconds=seconds, images_per_s=n_steps * batch / max(seconds, 1e-9),
                eval_seconds=time.perf_counter() - t1)
            history.append(metrics)
            if checkpoint is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0 and step < total:
                checkpoint(training_state(model, optimizer, gens, history, epoch, step, images, device))
            if on_epoch is not None and on_epoch(metrics):
                stopped_early = True
                break

        test_loss = test_acc = None
        if cfg.eval_test:
            test_loss, test_acc = evaluate(data.test)

    train_seconds = sum(m.seconds for m in history)
    val_accs = [m.val_acc for m in history if not math.isnan(m.val_acc)]
    return TrainResult(
        epochs=history, val_acc=history[-1].val_acc, best_val_acc=max(val_accs) if val_accs else math.nan,
        test_acc=test_acc, test_loss=test_loss, train_seconds=train_seconds,
        images_per_s=images / max(train_seconds, 1e-9), steps=step, stopped_early=stopped_early,
        total_seconds=time.perf_counter() - t_start, device=str(device))


def training_state(model: nn.Module, optimizer: torch.optim.Optimizer, gens: Mapping[str, torch.Generator],
                   history: list[EpochMetrics], epoch: int, step: int, images: int,
                   device: torch.device) -> dict[str, Any]:
    """Everything `fit` needs to go on after `epoch` exactly as if it had not stopped: the weights (BN statistics
    included), the optimizer's momentum, the shuffle and augmentation generators, torch's RNG (dropout, drop path;
    CUDA's too on a GPU), the step count (which fixes the learning rate) and the epochs' metrics. CPU tensors and
    plain data only: `torch.load(..., weights_only=True)` reads it back."""
    state: dict[str, Any] = {
        "format": 1, "epoch": epoch, "step": step, "images": images,
        "model": _to_cpu(model.state_dict()),
        "optimizer": _to_cpu(optimizer.state_dict()),
        "rng": {name: g.get_state().cpu() for name, g in gens.items()},
        "torch_rng": torch.get_rng_state(),
        "history": [asdict(m) for m in history]}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _restore(state: Mapping[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
             gens: Mapping[str, torch.Generator], history: list[EpochMetrics],
             device: torch.device) -> tuple[int, int, int]:
    """Put a `training_state` back (inside fit's forked RNG); returns (epoch, step, images)."""
    if state.get("format") != 1:
        raise InputError(f"a training checkpoint of format {state.get('format')!r}; expected format 1")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for name, g in gens.items():
        g.set_state(state["rng"][name])  # a generator's state is a CPU byte tensor, whatever its device
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    history.extend(EpochMetrics(**m) for m in state["history"])
    return int(state["epoch"]), int(state["step"]), int(state["images"])


def _normalize(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 batch -> float32 normalised with the train split's per-channel mean and std."""
    if channels_last:
        x = x.to(dtype=torch.float32, memory_format=torch.channels_last)
    else:
        x = x.float()
    return x.mul_(scale).add_(shift)


@torch.no_grad()
def _evaluate(model: nn.Module, net: Callable[[torch.Tensor], torch.Tensor], split: Split, scale: torch.Tensor,
              shift: torch.Tensor, batch_size: int, autocast: Callable[[], Any],
              channels_last: bool) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `net` (`model`, maybe compiled) on a split, leaving `model` in eval
    mode; NaN for an empty split. One device read."""
    n = len(split)
    if n == 0:
        return math.nan, math.nan
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float32, device=split.x.device)
    correct = torch.zeros((), dtype=torch.int64, device=split.x.device)
    for i in range(0, n, batch_size):
        x = _normalize(split.x[i:i + batch_size], scale, shift, channels_last)
        y = split.y[i:i + batch_size]
        with autocast():
            out = net(x)
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
    total_loss, total_correct = torch.stack([loss_sum.double(), correct.double()]).tolist()
    return total_loss / n, total_correct / n


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum (fused kernel); weight decay on conv/linear weights only unless `cfg.wd_on_bn_bias`."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("the model has no trainable parameters")
    if cfg.wd_on_bn_bias or cfg.weight_decay == 0:
        groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    else:  # BN scales/shifts and biases are the 1-d parameters
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        groups = [g for g in ({"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    # The fused kernel (CPU and CUDA) updates all tensors of a group in one pass: 2-3x faster than the
    # per-tensor default on CPU, which matters for small networks.
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           fused=True if fused else None)


def _divergence(epoch: int, step: int, last_ok: int) -> DivergenceError:
    """The error for a non-finite loss seen between steps `last_ok` and `step`."""
    return DivergenceError(
        f"training diverged: non-finite loss in epoch {epoch}, between steps {last_ok + 1} and {step} "
        "(lower the learning rate or check the model)", epoch=epoch, step=step)
