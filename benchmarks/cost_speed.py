"""Specs costed per second: analytic `cost.count` vs thop on the same specs, side by side, and the ratio.

A search screens thousands of candidates against a MACs budget before training any, so costing must be cheap.
thop needs a built model and a forward pass; `count` walks the NetSpec alone. Both are timed here on the same
specs (a deterministic sample of the proxy design spaces the searches use: CIFAR-style ResNets/ResNeXts/WRNs and
scaled EfficientNets at 28-64 px, or ImageNet presets with --space imagenet); their counts are also checked to agree.

    python benchmarks/cost_speed.py [--space proxy|imagenet] [--n 24] [--min-seconds 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings

from scalesearch import nets as arch
from scalesearch.nets.build import build_model
from scalesearch.nets.cost import count, thop_count


def proxy_specs(n: int, seed: int = 0) -> list[arch.NetSpec]:
    """n deterministic candidates of the proxy design spaces (1 input channel, 10 classes, 28-64 px)."""
    rng = random.Random(seed)
    makers = [
        lambda: arch.cifar_resnet(rng.choice([20, 32, 44, 56]), width=rng.choice([8, 16, 24]),
                                  shortcut=rng.choice("ABC"), in_channels=1, resolution=rng.choice([28, 32])),
        lambda: arch.cifar_resnext(rng.choice([11, 20, 29]), cardinality=rng.choice([1, 2, 4, 8]),
                                   bottleneck_width=rng.choice([4, 8, 16]), width=16, in_channels=1, resolution=28),
        lambda: arch.wide_resnet(rng.choice([10, 16, 22]), rng.choice([1, 2, 4]), in_channels=1, resolution=28),
        lambda: arch.efficientnet_compound(rng.uniform(0, 3), alpha=rng.uniform(1, 1.4), beta=rng.uniform(1, 1.3),
                                           gamma=rng.uniform(1, 1.3), base_resolution=32, in_channels=1,
                                           num_classes=10),
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def imagenet_specs(n: int) -> list[arch.NetSpec]:
    names = ["resnet18", "resnet50", "resnext50_32x4d", "efficientnet_b0", "mobilenet_v2", "efficientnet_b2"]
    return [arch.preset(names[i % len(names)]) for i in range(n)]


def rate(fn, items: list, min_seconds: float) -> tuple[float, int]:
    """Items processed per second over repeated passes lasting at least min_seconds."""
    done, t0 = 0, time.perf_counter()
    while True:
        for it in items:
            fn(it)
        done += len(items)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done / elapsed, done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", choices=["proxy", "imagenet"], default="proxy")
    p.add_argument("--n", type=int, default=24, help="number of distinct specs")
    p.add_argument("--min-seconds", type=float, default=2.0, help="minimum timing window of each side")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)  # thop's forward pass on one thread: the same budget as the analytic loop
    specs = proxy_specs(args.n) if args.space == "proxy" else imagenet_specs(args.n)
    shape = lambda s: (s.in_channels, s.resolution, s.resolution)

    for s in specs:  # the two counters agree on every spec, or the timing is meaningless
        c = count(s)
        if thop_count(build_model(s), shape(s)) != (c.macs, c.params):
            print(f"MISMATCH on {s.hash}", file=sys.stderr)
            return 1

    analytic, _ = rate(count, specs, args.min_seconds)
    thop_full, _ = rate(lambda s: thop_count(build_model(s), shape(s)), specs, args.min_seconds)
    models = [build_model(s) for s in specs]
    pairs = list(zip(models, specs, strict=True))
    thop_only, _ = rate(lambda ms: thop_count(ms[0], shape(ms[1])), pairs, args.min_seconds)

    macs = [count(s).macs for s in specs]
    print(f"space: {args.space}, {len(specs)} distinct specs, MACs {min(macs) / 1e6:.1f}M..{max(macs) / 1e6:.1f}M, "
          f"torch threads 1; counts agree on every spec")
    print(f"{'method':<34}{'specs/s':>14}{'ms/spec':>12}")
    print(f"{'analytic cost.count':<34}{analytic:>14,.0f}{1000 / analytic:>12.4f}")
    print(f"{'thop (build + profile)':<34}{thop_full:>14,.2f}{1000 / thop_full:>12.2f}")
    print(f"{'thop (profile a built model)':<34}{thop_only:>14,.2f}{1000 / thop_only:>12.2f}")
    print(f"ratio analytic / thop (build + profile): {analytic / thop_full:,.0f}x")
    print(f"ratio analytic / thop (profile only):    {analytic / thop_only:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
