"""The training recipe as data: `TrainConfig`, every knob of `scalesearch.train.loop.fit` with the reason for its
default beside it (as airbench's `hyp` dict does).

Torch-free, so that spec files are checked (`scalesearch validate`) and help texts are written without
importing torch; `scalesearch.train.loop` re-exports `TrainConfig`. Its fields and defaults are the one home of the
training defaults: the spec reader takes the field types from here and the CLI its help texts.

Example:
    >>> TrainConfig(epochs=2).lr
    0.1
    >>> TrainConfig(epochs=0)
    Traceback (most recent call last):
    ...
    scalesearch.util.checks.FieldError: epochs: expected an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

from scalesearch.util.checks import MAX_SEED, FieldError, check_bool, check_choice, check_float, check_int

__all__ = ["KEY_IF_SET", "OUTCOME_NEUTRAL", "PAD_MODES", "SCHEDULES", "TrainConfig"]

SCHEDULES: tuple[str, ...] = ("cosine", "step", "onecycle", "constant")
PAD_MODES: tuple[str, ...] = ("reflect", "zeros")
# TrainConfig fields that do not change a trial's outcome (how often its state is saved): left out of the trial
# key, so a study made before such a field existed, or run with another value of it, resumes without retraining.
OUTCOME_NEUTRAL: tuple[str, ...] = ("checkpoint_every",)
# TrainConfig fields added after the first release that change the outcome: in the trial key only when set away
# from their default, so the keys of every trial made before they existed stay the same.
KEY_IF_SET: tuple[str, ...] = ("zero_init_residual",)


@dataclass(frozen=True)
class TrainConfig:
    """How to train one network. Every default says why it is what it is.

    `epochs` or, when set, `max_steps` fixes the length; the schedule spans exactly that many steps.
    """

    # Short by default: a search ranks architectures on a budget (ASHA stops the bad ones earlier still);
    # final numbers need the long recipe (the ResNet paper trains CIFAR for ~182 epochs).
    epochs: int = 10
    # Step budget that overrides `epochs` when set (the last epoch may then be partial); lets trials of
    # different batch sizes get the same number of updates.
    max_steps: int | None = None
    # 128: the ResNet paper's CIFAR batch; small enough for good generalisation, large enough to use a GPU.
    batch_size: int = 128
    # 0.1 at batch 128: the ResNet paper. Scale it linearly with the batch size (Goyal et al. 2017).
    lr: float = 0.1
    # 0.9: the ResNet paper and every CIFAR recipe since.
    momentum: float = 0.9
    # Nesterov momentum: same cost, slightly better and more stable early on (airbench, Wide ResNet).
    nesterov: bool = True
    # 5e-4: the Wide ResNet value; the ResNet paper's 1e-4 suits its 182 epochs, short runs need more.
    weight_decay: float = 5e-4
    # False: no decay on BatchNorm scales/shifts and biases (Goyal et al. 2017; timm's default); shrinking
    # BN's gamma fights the normalisation instead of regularising the weights.
    wd_on_bn_bias: bool = False
    # 0: the ResNet recipe. 0.1 (Szegedy et al.) helps on ImageNet; at 10 classes the gain is small.
    label_smoothing: float = 0.0
    # Cosine needs no milestones tuned to the epoch count, so it suits runs of any length (SGDR; timm).
    schedule: str = "cosine"
    # For schedule="step": the ResNet paper divides by 10 at 32k and 48k of 64k iterations (1/2 and 3/4).
    milestones: tuple[float, ...] = (0.5, 0.75)
    # For schedule="step": the ResNet paper's divide-by-10.
    gamma: float = 0.1
    # Linear warm-up from lr/W to lr over this many epochs (Goyal et al. 2017: lr 0.1 is unstable for the
    # first few hundred steps of deep nets). Capped at half of training, so that short runs still decay.
    warmup_epochs: float = 1.0
    # Random crop + flip: the ResNet paper's CIFAR augmentation; worth several points even on short runs.
    augment: bool = True
    # 4 pixels at 32px (the ResNet paper); use about 1/8 of the resolution at other sizes.
    crop_padding: int = 4
    # Reflect: padding with image content instead of black borders (airbench); "zeros" is the ResNet paper.
    crop_pad_mode: str = "reflect"
    # Horizontal flip: classes of CIFAR-10 and Fashion-MNIST are mirror-symmetric.
    flip: bool = True
    # Seeds shuffling, augmentation and torch's RNG inside fit (dropout); the initial weights are the caller's.
    seed: int = 0
    # "auto": CUDA when there is one, else CPU.
    device: str = "auto"
    # None: 1024 on CUDA (no gradients, so big batches just amortise launches) and 256 on CPU, where bigger
    # batches fall out of cache (ResNet-20 at 28px evaluates 3x slower at 1024 than at 256).
    eval_batch_size: int | None = None
    # The test split is for final reports; searches select on val and leave it untouched.
    eval_test: bool = False
    # bf16 autocast on CUDA (ignored on CPU, where it is slower): ~2x throughput, no loss scaling needed.
    bf16: bool = True
    # channels_last memory format, on CPU and CUDA: the layout tensor cores want, and on this project's 2-core CPU
    # (one thread, batch 128) 1.19-1.23x faster steps for ResNet, ResNeXt and MBConv nets (docs/rediscovery.md).
    channels_last: bool = True
    # torch.compile the model: faster steps after a compile of tens of seconds; pays off on long runs only.
    compile: bool = False
    # Read the summed loss back every this many steps to stop a diverged run early; once per ~100 steps the
    # device sync costs nothing measurable.
    nan_check_every: int = 100
    # 0: no checkpoints. N: after every N-th epoch the worker sends the whole training state (weights, optimizer,
    # every RNG, the epoch reached) to the driver, which keeps the last one, so that a trial killed mid-training
    # resumes from it on `scalesearch resume` with exactly the metrics of an uninterrupted run. It does not change
    # the outcome, so it is not part of the trial key (OUTCOME_NEUTRAL).
    checkpoint_every: int = 0
    # Start each residual branch's last BatchNorm at zero, so that every block begins as the identity (Goyal et al.
    # 2017; timm's ResNets). Off by default for every family, each for its paper's reason: He et al. (ResNet, plain
    # nets: a plain net has no shortcut to carry the signal past a zeroed branch), Xie et al. (ResNeXt), Zagoruyko &
    # Komodakis (WRN), Howard et al. / Sandler et al. (MobileNets) and Tan & Le's reference code (EfficientNet)
    # initialise BN to 1. An experiment that trains deep nets briefly may turn it on (the EfficientNet redesign
    # measures it in its pilot). Added after the first release: in the trial key only when on (KEY_IF_SET).
    zero_init_residual: bool = False

    def __post_init__(self) -> None:
        _set = functools.partial(object.__setattr__, self)
        _set("milestones", tuple(self.milestones))
        _set("epochs", check_int("epochs", self.epochs, 1))
        if self.max_steps is not None:
            _set("max_steps", check_int("max_steps", self.max_steps, 1))
        _set("batch_size", check_int("batch_size", self.batch_size, 1))
        if self.eval_batch_size is not None:
            _set("eval_batch_size", check_int("eval_batch_size", self.eval_batch_size, 1))
        _set("crop_padding", check_int("crop_padding", self.crop_padding, 0))
        _set("nan_check_every", check_int("nan_check_every", self.nan_check_every, 1))
        _set("checkpoint_every", check_int("checkpoint_every", self.checkpoint_every, 0))
        _set("seed", check_int("seed", self.seed, 0, MAX_SEED))
        check_float("lr", self.lr, 0.0, math.inf, low_open=True, high_open=True)
        check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_float("weight_decay", self.weight_decay, 0.0, math.inf, high_open=True)
        check_float("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        check_float("gamma", self.gamma, 0.0, 1.0, low_open=True)
        check_float("warmup_epochs", self.warmup_epochs, 0.0, math.inf, high_open=True)
        for name in ("nesterov", "wd_on_bn_bias", "augment", "flip", "eval_test", "bf16", "channels_last",
                     "compile", "zero_init_residual"):
            check_bool(name, getattr(self, name))
        if self.nesterov and self.momentum == 0:
            raise FieldError("nesterov", "momentum > 0", problem="Nesterov momentum needs momentum > 0")
        check_choice("schedule", self.schedule, SCHEDULES)
        for m in self.milestones:
            check_float("milestones", m, 0.0, 1.0, low_open=True, high_open=True)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise FieldError("milestones", "strictly increasing fractions of training", self.milestones)
        check_choice("crop_pad_mode", self.crop_pad_mode, PAD_MODES)
        if not isinstance(self.device, str) or not (
                self.device in ("cpu", "cuda", "auto") or
                (self.device.startswith("cuda:") and self.device[5:].isdigit())):
            raise FieldError("device", "'cpu', 'cuda', 'cuda:N' or 'auto'", self.device)

    @classmethod
    def field_defaults(cls) -> dict[str, Any]:
        """Every field's default: the one home of the training defaults (spec files and CLI help read it)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}
