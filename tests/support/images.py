"""Image folders for the own-data tests: class sub-folders of seeded PNG images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_folder(root: Path, classes: dict[str, int], *, size: int = 12, mode: str = "L", seed: int = 0,
                 sub: str = "") -> Path:
    """ROOT/SUB/<class>/NNN.png: per class `n` seeded grey ("L") or colour ("RGB") images of `size` pixels, one
    brightness per class; returns ROOT."""
    rng = np.random.default_rng(seed)
    for i, (name, n) in enumerate(classes.items()):
        d = root / sub / name
        d.mkdir(parents=True, exist_ok=True)
        for j in range(n):
            shape = (size, size) if mode == "L" else (size, size, 3)
            a = np.clip(rng.normal(40 + 60 * i, 20, shape), 0, 255).astype(np.uint8)
            Image.fromarray(a, mode=mode).save(d / f"{j:03d}.png")
    return root
