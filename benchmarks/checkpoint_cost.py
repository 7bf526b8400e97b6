"""The cost of training checkpoints (`train: {checkpoint_every: 1}`): `trial.run` of one job with a checkpoint
after every epoch (the whole training state serialised with torch.save and base64-encoded, as a worker sends it to
the driver) against the same job without, alternating A/B in this process so that a drift of the machine's speed
hits both alike. The job: a CIFAR ResNet (depth 20, width 16) on Fashion-MNIST at 16 px, 2,000 training images.

    .venv/bin/python benchmarks/checkpoint_cost.py [--runs 5] [--epochs 4] [--depth 20] [--width 16]

Prints the median wall time of each, the ratio with / without and the checkpoint's size.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=16)
    a = ap.parse_args()
    import torch

    from scalesearch import nets as arch
    from scalesearch.train.config import TrainConfig
    from scalesearch.trial.job import DATA_SEED, Job, run

    torch.set_num_threads(1)
    net = arch.cifar_resnet(a.depth, width=a.width, in_channels=1, num_classes=10, resolution=16)
    data = {"name": "fashion-mnist", "train_size": 2000, "val_size": 1000, "resolution": 16, "seed": DATA_SEED}

    def job(every: int) -> Job:
        cfg = TrainConfig(epochs=a.epochs, batch_size=128, device="cpu", checkpoint_every=every)
        return Job(netspec=net.to_dict(), train=dataclasses.asdict(cfg), data=data, seed=1)

    sizes: list[int] = []

    def timed(every: int) -> float:
        def on_checkpoint(epoch: int, state: str) -> None:
            sizes.append(len(state))

        t0 = time.perf_counter()
        r = run(job(every), on_checkpoint=on_checkpoint if every else None, catch=False)
        assert r["state"] == "completed"
        return time.perf_counter() - t0

    timed(0)  # warm: the dataset is loaded and cached, the kernels are warm
    without, with_ = [], []
    for _ in range(a.runs):
        without.append(timed(0))
        with_.append(timed(1))
    w0, w1 = statistics.median(without), statistics.median(with_)
    print(f"trial.run: cifar_resnet depth {a.depth} width {a.width}, Fashion-MNIST 16 px, 2,000 training images, "
          f"{a.epochs} epochs, 1 thread, median of {a.runs} (A/B alternating):")
    print(f"  without checkpoints            {w0:7.2f} s   (min {min(without):.2f}, max {max(without):.2f})")
    print(f"  checkpoint_every: 1            {w1:7.2f} s   (min {min(with_):.2f}, max {max(with_):.2f})")
    print(f"  ratio with / without           {w1 / w0:7.3f}x   ({a.epochs - 1} checkpoints per run: none after the "
          "last epoch)")
    print(f"  checkpoint size (base64)       {statistics.median(sizes) / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
