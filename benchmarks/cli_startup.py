"""Whole-process time of the commands that only read specs (`count`, `validate`, `presets`), side by side with a
baseline checkout of scalesearch run by the same interpreter, alternating A/B so that a drift of the machine's
speed hits both alike. Prints the median of each and the ratio.

    .venv/bin/python benchmarks/cli_startup.py --baseline /path/to/old/checkout [--runs 9]

Without --baseline it times the current tree alone. The baseline runs with its checkout as the working
directory, so `python -m scalesearch` imports that tree's package (the editable install's finder comes after
the working directory on sys.path).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("count resnet50", ["count", "resnet50"]),
            ("validate quickstart", ["validate", "spaces/quickstart.yaml"]),
            ("presets", ["presets"]))


def wall(cwd: Path, args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "scalesearch", *args], cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cwd}: scalesearch {' '.join(args)} failed: {r.stderr.decode()[-300:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of an older scalesearch")
    ap.add_argument("--runs", type=int, default=9)
    a = ap.parse_args()
    print(f"{'command':<22} {'this tree s':>11} {'baseline s':>11} {'ratio':>7}   (median of {a.runs} runs)")
    for name, args in COMMANDS:
        wall(ROOT, args)  # warm the page cache
        if a.baseline:
            wall(a.baseline, args)
        ours, base = [], []
        for _ in range(a.runs):
            ours.append(wall(ROOT, args))
            if a.baseline:
                base.append(wall(a.baseline, args))
        m = statistics.median(ours)
        if a.baseline:
            b = statistics.median(base)
            print(f"{name:<22} {m:>11.3f} {b:>11.3f} {m / b:>7.3f}")
        else:
            print(f"{name:<22} {m:>11.3f} {'-':>11} {'-':>7}")


if __name__ == "__main__":
    main()
