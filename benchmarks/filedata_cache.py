"""Decoding an image folder (Pillow, every PNG) against loading the same data from scalesearch's decode cache, in
fresh processes (what a trial pays), alternating A/B so that a drift of the machine's speed hits both alike. The
folder is written here from Fashion-MNIST (the Debian package's idx files): N images per class as grey PNGs.

    .venv/bin/python benchmarks/filedata_cache.py [--per-class 600] [--runs 5] [--resolution 28]

Prints the median wall time of each (seconds) and the ratio decode / cached.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = ("import sys; from scalesearch.data.loader import load_dataset; "
        "d = load_dataset('imagefolder', path=sys.argv[1], val_size=1000, resolution=int(sys.argv[2])); "
        "print(len(d.train))")


def write_folder(root: Path, per_class: int) -> int:
    import numpy as np
    from PIL import Image

    from scalesearch.data.catalog import DATASETS
    from scalesearch.data.sources import read_fashion_mnist

    x, y, _, _ = read_fashion_mnist(None)
    n = 0
    for c, name in enumerate(DATASETS["fashion-mnist"].classes):
        d = root / name.replace("/", "_")
        d.mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(y.numpy() == c)[:per_class]):
            Image.fromarray(x[i, 0].numpy(), mode="L").save(d / f"{j:05d}.png")
            n += 1
    return n


def timed(folder: Path, cache: Path, resolution: int, clear: bool) -> float:
    if clear:
        for f in cache.glob("*.npz"):
            f.unlink()
    env = {**os.environ, "SCALESEARCH_CACHE": str(cache)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", LOAD, str(folder), str(resolution)], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=600)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--resolution", type=int, default=28)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp) / "images", Path(tmp) / "cache"
        n = write_folder(folder, a.per_class)
        timed(folder, cache, a.resolution, clear=True)  # warm the page cache of the PNGs and the imports
        decode, cached = [], []
        for _ in range(a.runs):
            decode.append(timed(folder, cache, a.resolution, clear=True))
            cached.append(timed(folder, cache, a.resolution, clear=False))
    d, c = statistics.median(decode), statistics.median(cached)
    print(f"image folder of {n} grey PNGs (Fashion-MNIST, {a.per_class} per class) at {a.resolution} px, "
          f"fresh process each, median of {a.runs}:")
    print(f"  decode (Pillow, no cache)  {d:7.2f} s   (min {min(decode):.2f}, max {max(decode):.2f})")
    print(f"  cached (decode cache hit)  {c:7.2f} s   (min {min(cached):.2f}, max {max(cached):.2f})")
    print(f"  ratio decode / cached      {d / c:7.2f}x")


if __name__ == "__main__":
    main()
