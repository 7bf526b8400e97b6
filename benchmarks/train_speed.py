"""Training throughput of `scalesearch.train.loop.fit` against a plain hand-written PyTorch loop, side by side.

For each candidate network, both loops train the same initial weights on the same device-resident uint8 data
with the same batch size, optimiser (SGD, Nesterov momentum, weight decay) and number of steps. Each
measurement runs one warm-up epoch (excluded: allocator and oneDNN/cuDNN set-up) and then one timed epoch of
`--steps` steps. Measurements alternate A/B, B/A over `--repeats` rounds so that drifting machine load hits
both alike; the median of each is reported with the ratio fit/plain, and the median ratio over networks.

fit does the extra work a real run needs (per-step learning rate, two parameter groups so that BN and biases
get no weight decay, on-device loss/accuracy sums, periodic NaN check) and evaluates a one-batch validation
split between its two epochs (outside the timed epoch). Like for like by default: the plain loop uses the same
fused SGD kernel and channels_last layout as fit and, on CUDA, the same bf16 autocast; `--no-plain-fused` gives it torch's
default SGD instead (a per-tensor loop on CPU). Augmentation is off in both unless `--augment`.
Each row also gives fit's achieved training compute, 6 x MACs per image (forward 2, backward 4 FLOPs per MAC),
and with `--peak-tflops` (e.g. 989 for an H100 SXM's dense bf16) the fraction of that peak.

Usage:
    python benchmarks/train_speed.py [--device cpu] [--steps 16] [--batch-size 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from scalesearch.data.loader import Dataset, augment_batch, load_dataset
from scalesearch.nets.cost import count_model
from scalesearch.train.loop import TrainConfig, fit, resolve_device

IN_CHANNELS, RESOLUTION, CLASSES = 1, 28, 10  # Fashion-MNIST's shape


class SmallCNN(nn.Module):
    """A VGG-ish conv net, used when scalesearch.nets is not available."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*block(IN_CHANNELS, w), *block(w, w), nn.MaxPool2d(2), *block(w, 2 * w),
                                  nn.MaxPool2d(2), *block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * w, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def candidates() -> dict[str, Callable[[], nn.Module]]:
    """Name -> builder of the networks to time: scalesearch presets when available, else small CNNs."""
    try:
        from scalesearch import nets as arch
        from scalesearch.nets.build import build_model
    except ImportError:
        return {"small_cnn_w32": lambda: SmallCNN(32), "small_cnn_w16": lambda: SmallCNN(16)}
    io = {"in_channels": IN_CHANNELS, "num_classes": CLASSES, "resolution": RESOLUTION}
    return {
        "cifar_resnet20": lambda: build_model(arch.preset("cifar_resnet20", **io)),
        "cifar_resnet20_w8": lambda: build_model(arch.cifar_resnet(20, width=8).with_io(**io)),
        "cifar_resnet8": lambda: build_model(arch.cifar_resnet(8).with_io(**io)),
    }


def plain_loop(model: nn.Module, data: Dataset, steps: int, batch_size: int, device: torch.device,
               augment: bool, fused: bool = False) -> float:
    """Images/s of a textbook loop: one warm-up epoch, then `steps` timed steps."""
    cuda = device.type == "cuda"
    model.to(device).train()
    model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4,
                          fused=fused or None)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    gen = torch.Generator(device=device).manual_seed(0)
    x_all, y_all = data.train.x, data.train.y
    seconds = 0.0
    for _epoch in range(2):
        perm = torch.randperm(len(y_all), generator=gen, device=device)
        _sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            x, y = x_all[idx], y_all[idx]
            if augment:
                x = augment_batch(x, gen, crop_padding=4, flip=True)
            x = ((x.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
            with autocast():
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        seconds = time.perf_counter() - t0
    return steps * batch_size / seconds


def fit_loop(model: nn.Module, data: Dataset, steps: int, batch_size: int, device: torch.device,
             augment: bool, fused: bool = False) -> float:
    """Images/s of `fit` in its second (timed) epoch of `steps` steps."""
    cfg = TrainConfig(epochs=2, batch_size=batch_size, lr=0.01, warmup_epochs=0, schedule="cosine",
                      augment=augment, device=str(device), eval_batch_size=batch_size)
    result = fit(model, data, cfg)
    assert result.epochs[1].steps - result.epochs[0].steps == steps, "one epoch must be exactly --steps steps"
    return result.epochs[1].images_per_s


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--steps", type=int, default=16, help="timed steps per measurement (default 16)")
    p.add_argument("--batch-size", type=int, default=128, help="default 128")
    p.add_argument("--repeats", type=int, default=5, help="A/B rounds per network (default 5)")
    p.add_argument("--augment", action="store_true", help="random crop + flip in both loops")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--only", default="", help="time only the networks whose name contains this")
    p.add_argument("--plain-fused", action=argparse.BooleanOptionalAction, default=True,
                   help="give the plain loop fit's fused SGD kernel too (default: like for like; --no-plain-fused "
                   "compares against torch's default SGD)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the device's dense peak (TFLOP/s) to report fit's achieved fraction of it")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    # One epoch = exactly --steps full batches; a one-batch validation split for fit's per-epoch eval.
    data = load_dataset("synthetic", in_channels=IN_CHANNELS, image_size=RESOLUTION,
                        num_train=args.steps * args.batch_size + args.batch_size, num_test=args.batch_size,
                        val_size=args.batch_size, device=device)
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(f"device {device}{threads}; torch {torch.__version__}; batch {args.batch_size}, {args.steps} timed steps "
          f"after a warm-up epoch, {args.repeats} interleaved A/B rounds, augment={args.augment}, "
          f"plain SGD {'fused' if args.plain_fused else 'default (for-loop on CPU)'}; "
          f"input {IN_CHANNELS}x{RESOLUTION}x{RESOLUTION}")
    peak_col = f"{'peak%':>7}" if args.peak_tflops else ""
    print(f"{'network':<20} {'params':>8} {'plain img/s':>12} {'fit img/s':>10} {'fit/plain':>9} {'TFLOP/s':>8}"
          f"{peak_col}   per-round ratios")
    ratios = []
    for name, build in candidates().items():
        if args.only not in name:
            continue
        torch.manual_seed(0)
        base = build()
        params = sum(p.numel() for p in base.parameters())
        macs = count_model(base, (IN_CHANNELS, RESOLUTION, RESOLUTION))["macs"]
        plain, fitted = [], []
        for r in range(args.repeats):
            order = ("plain", "fit") if r % 2 == 0 else ("fit", "plain")
            for which in order:
                model = copy.deepcopy(base)
                loop = plain_loop if which == "plain" else fit_loop
                (plain if which == "plain" else fitted).append(
                    loop(model, data, args.steps, args.batch_size, device, args.augment, args.plain_fused))
        per_round = [f / q for f, q in zip(fitted, plain, strict=True)]
        ratio = statistics.median(fitted) / statistics.median(plain)
        ratios.append(ratio)
        tflops = 6 * macs * statistics.median(fitted) / 1e12
        peak = f"{100 * tflops / args.peak_tflops:>6.2f}%" if args.peak_tflops else ""  # 7 wide, as peak_col
        print(f"{name:<20} {params:>8,} {statistics.median(plain):>12.0f} {statistics.median(fitted):>10.0f} "
              f"{ratio:>9.3f} {tflops:>8.4f}{peak}   {' '.join(f'{x:.3f}' for x in per_round)}", flush=True)
    print(f"median fit/plain ratio over {len(ratios)} networks: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
