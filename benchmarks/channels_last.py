"""`fit` with channels_last against `fit` in NCHW, side by side, on the rediscovery experiments' networks.

Each measurement trains one warm-up epoch and one timed epoch of `--steps` steps of batch `--batch-size` on
device-resident synthetic data; the two layouts alternate A/B, B/A over `--repeats` rounds from the same initial
weights, so that drifting machine load hits both alike. Prints the median images/s of each and the ratio
channels_last / NCHW (> 1: channels_last is faster). `TrainConfig.channels_last` (default on) chooses the layout.

Usage:
    python benchmarks/channels_last.py [--threads 1] [--steps 12] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys

import torch

from scalesearch import nets as arch
from scalesearch.data.loader import load_dataset
from scalesearch.nets.build import build_model
from scalesearch.nets.cost import count
from scalesearch.train.loop import TrainConfig, fit, resolve_device

IO = {"in_channels": 1, "num_classes": 10}
NETWORKS = {  # name -> NetSpec: the networks the rediscovery experiments train (docs/rediscovery.md)
    "proxy B0, stem stride 1, 16px": arch.efficientnet(0.5, 0.5, resolution=16, stem_stride=1, drop_path=0.0, **IO),
    "ResNeXt-29 1x16d (stem 8), 16px": arch.cifar_resnext(29, cardinality=1, bottleneck_width=16, width=8,
                                                          resolution=16, **IO),
    "ResNeXt-29 8x4d (stem 8), 16px": arch.cifar_resnext(29, cardinality=8, bottleneck_width=4, width=8,
                                                         resolution=16, **IO),
    "ResNet-56 width 8, 16px": arch.cifar_resnet(56, width=8, resolution=16, **IO),
    "ResNet-20, 28px": arch.cifar_resnet(20, resolution=28, **IO),
}


def images_per_s(model: torch.nn.Module, data, steps: int, batch: int, device: str, channels_last: bool) -> float:
    cfg = TrainConfig(epochs=2, batch_size=batch, lr=0.01, warmup_epochs=0, device=device, augment=False,
                      eval_batch_size=batch, channels_last=channels_last)
    result = fit(model, data, cfg)
    assert result.epochs[1].steps - result.epochs[0].steps == steps
    return result.epochs[1].images_per_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: one trial per core)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="", help="time only the networks whose name contains this")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = str(resolve_device(args.device))
    print(f"fit, channels_last vs NCHW: device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"batch {args.batch_size}, {args.steps} timed steps after a warm-up epoch, {args.repeats} A/B rounds")
    print(f"{'network':<34} {'MACs':>8} {'NCHW img/s':>11} {'CL img/s':>9} {'CL/NCHW':>8}   per-round")
    ratios = []
    for name, spec in NETWORKS.items():
        if args.only not in name:
            continue
        r = spec.resolution
        data = load_dataset("synthetic", in_channels=1, image_size=r, num_train=(args.steps + 1) * args.batch_size,
                            num_test=args.batch_size, val_size=args.batch_size, device=device)
        torch.manual_seed(0)
        base = build_model(spec)
        runs: dict[bool, list[float]] = {False: [], True: []}
        for i in range(args.repeats):
            for cl in ((False, True) if i % 2 == 0 else (True, False)):
                runs[cl].append(images_per_s(copy.deepcopy(base), data, args.steps, args.batch_size, device, cl))
        nchw, cl = statistics.median(runs[False]), statistics.median(runs[True])
        ratios.append(cl / nchw)
        rounds = " ".join(f"{b / a:.2f}" for a, b in zip(runs[False], runs[True], strict=True))
        print(f"{name:<34} {count(spec).macs / 1e6:>7.2f}M {nchw:>11.0f} {cl:>9.0f} {cl / nchw:>8.2f}   {rounds}",
              flush=True)
    print(f"median ratio channels_last / NCHW over {len(ratios)} networks: {statistics.median(ratios):.2f}")
    load = " ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    print(f"load average after (1/5/15 min): {load} (more than ~{__import__('os').cpu_count()} means shared cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
