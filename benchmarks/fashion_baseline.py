"""Baseline: CIFAR-style ResNet-20 on full Fashion-MNIST (55k train / 5k val / 10k test), target >= 92% test.

The recipe is the ResNet paper's CIFAR one shortened to fit a CPU budget: SGD with Nesterov momentum 0.9,
lr 0.1 at batch 128 after a one-epoch linear warm-up, cosine decay to ~0, weight decay 5e-4 on conv/linear
weights only, label smoothing 0.1, random crop (zero padding 2 px: Fashion-MNIST's background is black, and its
objects are centred, so 4 px shifts at 28 px cut into them) and horizontal flip.

The default epoch count is sized for about 30-35 minutes on a 2-core CPU: ResNet-20 (1x28x28 input) trains at
~1100 images/s there when the machine is otherwise idle (measured with `fit`, batch 128, augmentation on), so
one epoch is ~50 s plus ~2 s of validation, and 35 epochs take ~31 minutes; expect longer when other jobs share
the cores. Per-epoch lines are printed as they come (flushed), and the JSON at --out is rewritten after every
epoch ("finished": false until the end), so a long run can be watched and a killed one still leaves its curve.

Usage:
    python benchmarks/fashion_baseline.py [--epochs 35] [--device auto] [--data-dir D] [--out results/...json]
    python benchmarks/fashion_baseline.py --epochs 1 --train-size 2048 --out /tmp/fb.json   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from scalesearch.data.loader import load_dataset
from scalesearch.nets import preset
from scalesearch.nets.build import build_model
from scalesearch.nets.cost import count
from scalesearch.train.loop import EpochMetrics, TrainConfig, fit, resolve_device

TARGET_TEST_ACC = 0.92


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=35, help="default 35 (~31 min on an idle 2-core CPU)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    p.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST idx files "
                   "(default: $SCALESEARCH_DATA, else /usr/share/datasets)")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on a seeded subset (for a quick end-to-end check; default: all 55000)")
    p.add_argument("--batch-size", type=int, default=128, help="default 128")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--out", default="results/fashion_baseline.json", help="where to write the JSON result")
    args = p.parse_args(argv)

    device = resolve_device(args.device)
    data = load_dataset("fashion-mnist", data_dir=args.data_dir, train_size=args.train_size, val_size=5000,
                        seed=0, device=device)
    spec = preset("cifar_resnet20", in_channels=data.in_channels, num_classes=data.num_classes,
                  resolution=data.resolution)
    cost = count(spec)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=0.9, nesterov=True,
                      weight_decay=5e-4, label_smoothing=0.1, schedule="cosine", warmup_epochs=1.0, augment=True,
                      crop_padding=2, crop_pad_mode="zeros", flip=True, seed=args.seed, device=str(device),
                      eval_test=True)
    torch.manual_seed(cfg.seed)
    model = build_model(spec)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "fashion_baseline", "model": "cifar_resnet20", "hash": spec.hash, "params": cost.params,
        "macs": cost.macs, "dataset": {"name": data.name, "train": len(data.train), "val": len(data.val),
                                       "test": len(data.test), "resolution": data.resolution},
        "config": dataclasses.asdict(cfg), "target_test_acc": TARGET_TEST_ACC,
        "environment": {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                        "cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None},
        "finished": False, "epochs": [],
    }
    print(f"cifar_resnet20 on {data.summary()}; {cost.params:,} params, {cost.macs / 1e6:.1f}M MACs; "
          f"device {device} ({torch.get_num_threads()} threads); {cfg.epochs} epochs, batch {cfg.batch_size}, "
          f"lr {cfg.lr:g} cosine, wd {cfg.weight_decay:g}, label smoothing {cfg.label_smoothing:g}", flush=True)
    print(f"{'epoch':>5} {'lr':>8} {'train_loss':>10} {'train_acc':>9} {'val_loss':>8} {'val_acc':>7} {'s':>6} "
          f"{'img/s':>6} {'elapsed':>8}", flush=True)
    t0 = time.perf_counter()

    def on_epoch(m: EpochMetrics) -> None:
        elapsed = time.perf_counter() - t0
        print(f"{m.epoch:>5} {m.lr:>8.4g} {m.train_loss:>10.4f} {m.train_acc:>9.4f} {m.val_loss:>8.4f} "
              f"{m.val_acc:>7.4f} {m.seconds:>6.1f} {m.images_per_s:>6.0f} {elapsed / 60:>7.1f}m", flush=True)
        record["epochs"].append(dataclasses.asdict(m))
        record["wall_seconds"] = elapsed
        _write_json(out, record)

    result = fit(model, data, cfg, on_epoch=on_epoch)
    wall = time.perf_counter() - t0
    record.update(result.to_dict())
    record.update({"finished": True, "wall_seconds": wall, "target_met": result.test_acc >= TARGET_TEST_ACC})
    _write_json(out, record)
    print(f"test acc {result.test_acc:.4f} (target {TARGET_TEST_ACC}: {'met' if record['target_met'] else 'NOT met'}), "
          f"val acc {result.val_acc:.4f}, {result.images_per_s:.0f} img/s training, wall {wall / 60:.1f} min; "
          f"wrote {out}", flush=True)
    return 0


def _write_json(path: Path, record: dict) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
