"""`cluttered`: a proxy task with headroom in position, scale and resolution, built deterministically from the
items of a built-in dataset (Fashion-MNIST), and kept in the decode cache.

Each item of a split is resized to a random scale and pasted at a random position on a black `canvas` x `canvas`
image, over `clutter` pieces of `clutter_size` x `clutter_size` px, each a random crop of another random item of
the *same* split, pasted at a random position; pixels add and saturate at 255; the label is the item's. This is the
cluttered (translated) MNIST of

- Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014, Sec. 4 (cluttered
  translated MNIST): a digit at a random position of a 60x60 (100x100) canvas with 4 (8) pieces of 8x8 clutter,
  each cut from another random digit. Followed as its authors released it (google-deepmind/mnist-cluttered,
  `placeDistractors` and `placeSpriteRandomly`): a crop's offset is uniform inside its source item and a piece's
  position uniform inside the canvas; clutter first, then the item, added with saturation; the clutter is drawn
  from the same data file as the item (train from train, test from test).
- Jaderberg, Simonyan, Zisserman, Kavukcuoglu, "Spatial Transformer Networks", NIPS 2015, Sec. 4.1 (distorted
  MNIST): digits scaled by a random factor (in their rotated-translated-scaled set, between 0.7 and 1.2); `scale`
  takes that variation, uniform in the given range, and no rotation.

Where this differs, on purpose: the source is Fashion-MNIST (its 28x28 items are larger and more alike than
digits, so position and scale cost a network more); the item's side is round(28 * s) px, resized with Pillow-like
antialiased bilinear filtering (`torch.nn.functional.interpolate`, `antialias=True`), so that a small item keeps
its coarse shape and loses its detail, as a downsampled photograph does; clutter is never cut from the item itself;
and every draw is fixed by `build_seed` and the split, so the task is one dataset, not a stream.

Defaults (`scalesearch.data.catalog.CLUTTERED_DEFAULTS`) and why:
    canvas 56       twice the item's 28 px (4x its pixels), close to Mnih et al.'s 60 but divisible by 8, so that
                    stride-2 stages give 28, 14, 7: an item moves over half the canvas, a downsampled canvas (the
                    base below it) loses real detail, and a deeper net has room to grow its receptive field.
    scale [0.6, 1.4] centred on the source's native size (the average item keeps its pixels) and wider than an
                    octave (1.4 / 0.6 = 2.3), wider than the 0.7-1.2 of Jaderberg et al.: the smallest items (17 px)
                    lose detail when the canvas is downsampled, so resolution carries information; the largest
                    (39 px) still move over 17 px of the canvas.
    clutter 4, clutter_size 8   Mnih et al.'s 60x60 setting (4 pieces of 8x8, about 8% of a 56 px canvas): real
                    distractors with the item's own texture, few enough that the item stays the largest object.
    build_seed 0    the construction's seed: positions, scales and clutter (the study's data seed only picks
                    subsets, as for every dataset).

Legend: n the split's size, k = `clutter`, cs = `clutter_size`, S = the source's side (28), C = `canvas`.

Determinism: the draws of item i come from two numpy PCG64 streams seeded by (build_seed, split), item-major, so
item i of a split is the same image whatever `train_size`, `val_size`, `test_size` or the data seed pick, and the
same parameters give byte-identical images (the builder is integer arithmetic after one float resize per item).
`layout` returns every draw (the provenance: sizes, positions, the clutter's source indices and crops).

Cache: a split pair is built once per parameters and source files into `scalesearch.data.own.cache_dir()`
(`cluttered-<key>.npz`, key: the builder's format, the parameters and each source file's name, size and mtime);
a later load reads it and does not touch the source files. Building the full 60k + 10k at canvas 56 takes seconds
(vectorised with torch: one indexed add per clutter piece and per item size, in chunks).

Example:
    >>> p = cluttered_params({"canvas": 40, "scale": [0.5, 1.0]})
    >>> p["canvas"], p["scale"], p["clutter"]
    (40, (0.5, 1.0), 4)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.data.catalog import (
    CLUTTER_SOURCES,
    CLUTTERED_DEFAULTS,
    DATASETS,
    MAX_DATA_RESOLUTION,
    ReadRequest,
)
from scalesearch.errors import InputError
from scalesearch.util.checks import MAX_SEED, FieldError, check_choice, check_float, check_int

if TYPE_CHECKING:  # numpy and torch are imported by the builder only: `validate` checks a spec without them
    import numpy as np
    import torch

__all__ = ["FORMAT", "MAX_CLUTTER", "Layout", "build_split", "cluttered_params", "cluttered_splits", "layout",
           "make_cluttered"]

FORMAT = 1  # the builder's version, part of the cache key: bump it when the images a parameter set gives change
MAX_CLUTTER = 64  # pieces per image: 64 pieces of 28 px cover a 56 px canvas 16 times over, far past any use
_SPLITS = {"train": 0, "test": 1}
_CHUNK = 8192  # items pasted at once: a chunk's int16 canvas at C = 56 is 51 MB


def cluttered_params(options: Mapping[str, Any]) -> dict[str, Any]:
    """The construction's parameters: `CLUTTERED_DEFAULTS` overridden by `options`, checked, in canonical form
    (the defaults' order; `scale` a tuple of two floats).

    Raises:
        FieldError: an unknown option or a bad value; its `field` names the option and its message what is
            expected (the spec reader places it at the option's line).
    """
    unknown = sorted(set(options) - set(CLUTTERED_DEFAULTS))
    if unknown:
        raise FieldError(unknown[0], f"one of {', '.join(CLUTTERED_DEFAULTS)}",
                         problem=f"unknown option {unknown[0]!r} of the cluttered dataset")
    p = {**CLUTTERED_DEFAULTS, **options}
    source = check_choice("source", p["source"], CLUTTER_SOURCES)
    side = DATASETS[source].resolution  # the source item's side (28)
    canvas = check_int("canvas", p["canvas"])
    if not side <= canvas <= MAX_DATA_RESOLUTION:
        raise FieldError("canvas", f"an integer in [{side}, {MAX_DATA_RESOLUTION}]",
                         problem=f"a canvas of {canvas} px is smaller than the {side} px items of {source}"
                         if canvas < side else f"a canvas of {canvas} px is larger than the largest data resolution")
    scale = p["scale"]
    pair = "[low, high], two numbers > 0 with low <= high"
    try:
        if isinstance(scale, (str, bytes)) or not isinstance(scale, (list, tuple)) or len(scale) != 2:
            raise FieldError("scale", pair, scale)
        lo, hi = (check_float("scale", v, 0.0, low_open=True) for v in scale)
    except FieldError:
        raise FieldError("scale", pair, scale) from None
    if lo > hi:
        raise FieldError("scale", pair, problem=f"the range [{lo:g}, {hi:g}] is inverted")
    largest = _side(hi, side)
    if largest > canvas:
        top = math.floor((canvas + 0.5) / side * 1000) / 1000  # the largest scale whose item rounds to <= canvas
        problem = f"a scale of {hi:g} makes {largest} px items, larger than the canvas of {canvas} px"
        if "scale" in options:
            raise FieldError("scale", f"a largest scale of at most {top:g} on this canvas (or a larger canvas)",
                             problem=problem)
        raise FieldError("canvas", f"a canvas of at least {largest} px for the default scale (or a smaller scale)",
                         problem=problem)
    clutter = check_int("clutter", p["clutter"], 0, MAX_CLUTTER)
    size = check_int("clutter_size", p["clutter_size"])
    if not 1 <= size <= side:
        raise FieldError("clutter_size", f"an integer in [1, {side}]",
                         problem=f"pieces of {size} px are larger than the {side} px items they are cut from"
                         if size > side else f"pieces of {size} px")
    seed = check_int("build_seed", p["build_seed"], 0, MAX_SEED)
    return {"source": source, "canvas": canvas, "scale": (lo, hi), "clutter": clutter, "clutter_size": size,
            "build_seed": seed}


def _side(s: float, side: int) -> int:
    """The pasted item's side in pixels at scale `s`: round(side * s), at least 1."""
    return max(1, round(side * s))


@dataclass(frozen=True)
class Layout:
    """Every random draw of one split (the provenance of its images); arrays of numpy int64.

    Attributes:
        size: [n] the pasted item's side in pixels.
        y, x: [n] its top-left corner on the canvas.
        source: [n, k] the split index of each clutter piece's source item (never the item itself).
        crop_y, crop_x: [n, k] the crop's top-left corner inside its source item.
        at_y, at_x: [n, k] where the piece is pasted on the canvas.
    """

    size: np.ndarray
    y: np.ndarray
    x: np.ndarray
    source: np.ndarray
    crop_y: np.ndarray
    crop_x: np.ndarray
    at_y: np.ndarray
    at_x: np.ndarray


def layout(n: int, split: str, params: Mapping[str, Any], side: int | None = None) -> Layout:
    """The draws of a split of `n` items of `side` px (default: the source's) under `params`
    (`cluttered_params`' form). Item i's draws are row i of two item-major streams, so they do not depend on
    which items are later picked; a clutter source is uniform over the split's other n - 1 items.

    Raises:
        InputError: clutter asked of a split of fewer than 2 items (there is no other item to cut it from).
    """
    import numpy as np

    p = cluttered_params(params)
    side = DATASETS[p["source"]].resolution if side is None else side
    c, (lo, hi), k, cs = p["canvas"], p["scale"], p["clutter"], p["clutter_size"]
    if k and n < 2:
        raise InputError(f"the {split} split has {n} item(s): clutter is cut from the split's other items; "
                         "expected at least 2 items, or clutter: 0")
    if split not in _SPLITS:
        raise InputError(f"split {split!r}: expected one of {', '.join(_SPLITS)}")
    code = _SPLITS[split]
    u = np.random.default_rng([p["build_seed"], code, 0]).random((n, 3))
    v = np.random.default_rng([p["build_seed"], code, 1]).random((n, k, 5))
    size = np.maximum(1, np.rint(side * (lo + (hi - lo) * u[:, 0]))).astype(np.int64)
    size = np.minimum(size, c)
    y = np.floor(u[:, 1] * (c - size + 1)).astype(np.int64)
    x = np.floor(u[:, 2] * (c - size + 1)).astype(np.int64)
    other = np.floor(v[:, :, 0] * max(n - 1, 1)).astype(np.int64)
    source = other + (other >= np.arange(n)[:, None])  # skip the item itself
    crop_y, crop_x = (np.floor(v[:, :, i] * (side - cs + 1)).astype(np.int64) for i in (1, 2))
    at_y, at_x = (np.floor(v[:, :, i] * (c - cs + 1)).astype(np.int64) for i in (3, 4))
    return Layout(size, y, x, source, crop_y, crop_x, at_y, at_x)


def build_split(images: torch.Tensor, split: str, params: Mapping[str, Any]) -> tuple[torch.Tensor, Layout]:
    """The cluttered images of one split and their layout: uint8 `[n, ch, C, C]` from the split's uint8 items
    `[n, ch, S, S]`. Only this split's items are pasted or cut (the train and test splits never mix).

    Example:
        >>> import torch
        >>> items = torch.full((3, 1, 28, 28), 100, dtype=torch.uint8)  # three grey squares
        >>> x, lay = build_split(items, "test", {"canvas": 32, "scale": [0.5, 1.0], "clutter": 2})
        >>> tuple(x.shape), set(x.unique().tolist()) <= {0, 100, 200, 255}, lay.source.shape
        ((3, 1, 32, 32), True, (3, 2))
    """
    import torch
    import torch.nn.functional as F

    p = cluttered_params(params)
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[2] != images.shape[3]:
        raise InputError(f"items must be uint8 [N, C, S, S], got {images.dtype} {tuple(images.shape)}")
    n, ch, side = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    lay = layout(n, split, p, side)
    c, k, cs = p["canvas"], p["clutter"], p["clutter_size"]
    # Channels last and flat: every paste is one index_add_ of flat indices (integer sums: exact and deterministic).
    # int16 holds the largest sum, (1 + MAX_CLUTTER) * 255 = 16575.
    src = images.permute(0, 2, 3, 1).reshape(-1)
    out = torch.empty((n, ch, c, c), dtype=torch.uint8)
    t = {f: torch.from_numpy(getattr(lay, f)) for f in ("size", "y", "x", "source", "crop_y", "crop_x", "at_y",
                                                         "at_x")}
    chan = torch.arange(ch)

    def flat(item: torch.Tensor, y: torch.Tensor, x: torch.Tensor, s: int, width: int) -> torch.Tensor:
        """Flat indices [..., s, s, ch] of the s x s squares at (y, x) of items `item` of side `width`."""
        r = torch.arange(s)
        square = (r[:, None] * width + r[None, :])[:, :, None] * ch + chan  # [s, s, ch], one broadcast add below
        return (((item * width + y) * width + x) * ch)[..., None, None, None] + square

    # Each item resized once, grouped by its side (a few dozen sides): one antialiased resize per group.
    groups = []
    for s in torch.unique(t["size"]).tolist():
        members = torch.nonzero(t["size"] == s).flatten()  # sorted: a chunk's members are one slice
        item = images[members]
        if s != side:
            item = F.interpolate(item.float(), size=(s, s), mode="bilinear", align_corners=False,
                                 antialias=True).round_().clamp_(0, 255)
        groups.append((s, members, item.to(torch.int16).permute(0, 2, 3, 1)))
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        m = b - a
        canvas = torch.zeros(m * c * c * ch, dtype=torch.int16)
        if k:  # clutter first, as Mnih et al.'s generator
            take = flat(t["source"][a:b], t["crop_y"][a:b], t["crop_x"][a:b], cs, side)
            put = flat(torch.arange(m)[:, None].expand(m, k), t["at_y"][a:b], t["at_x"][a:b], cs, c)
            canvas.index_add_(0, put.reshape(-1), src[take.reshape(-1)].to(torch.int16))
        for s, members, item in groups:
            lo, hi = torch.searchsorted(members, torch.tensor([a, b])).tolist()
            if lo == hi:
                continue
            sel = members[lo:hi]
            put = flat(sel - a, t["y"][sel], t["x"][sel], s, c)
            canvas.index_add_(0, put.reshape(-1), item[lo:hi].reshape(-1))
        out[a:b] = canvas.clamp_(0, 255).to(torch.uint8).reshape(m, c, c, ch).permute(0, 3, 1, 2)
    return out, lay


def make_cluttered(data_dir: str | os.PathLike[str] | None, params: Mapping[str, Any]) -> tuple[torch.Tensor, ...]:
    """(train_x, train_y, test_x, test_y) of the cluttered task: x uint8 `[N, ch, C, C]`, y int64; read from the
    decode cache when these parameters were built from these source files before, else built and cached.

    Raises:
        FieldError: a bad parameter. DatasetNotFoundError: the source's files are missing.
    """
    import numpy as np
    import torch

    from scalesearch.data.own import cache_dir
    from scalesearch.data.sources import fashion_mnist_files, read_fashion_mnist

    p = cluttered_params(params)
    files = fashion_mnist_files(data_dir)  # the one source today (CLUTTER_SOURCES)
    stamp = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files.values()]
    canon = {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
    key = hashlib.sha256(json.dumps([FORMAT, canon, stamp], sort_keys=True).encode()).hexdigest()[:32]
    cached = cache_dir() / f"cluttered-{key}.npz"
    names = ("train_x", "train_y", "test_x", "test_y")
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                arrays = [z[k] for k in names]
            if _well_formed(arrays, p["canvas"]):
                return tuple(torch.from_numpy(a) for a in arrays)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged cache file is built again and replaced
    train_x, train_y, test_x, test_y = read_fashion_mnist(data_dir)
    train_c, _ = build_split(train_x, "train", p)
    test_c, _ = build_split(test_x, "test", p)
    _save_atomic(cached, train_x=train_c.numpy(), train_y=train_y.numpy(), test_x=test_c.numpy(),
                 test_y=test_y.numpy())
    return train_c, train_y, test_c, test_y


def _save_atomic(path: Path, **arrays: Any) -> None:
    """Write the cache file whole or not at all, as `scalesearch.data.own` writes its own (never fail a run for a
    cache that cannot be written: a read-only home builds again next time)."""
    import numpy as np

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _well_formed(arrays: list[Any], canvas: int) -> bool:
    """Whether a cache file's arrays are a cluttered split pair of this canvas."""
    tx, ty, sx, sy = arrays
    return all(x.dtype.name == "uint8" and x.ndim == 4 and x.shape[2:] == (canvas, canvas) and y.ndim == 1
               and y.shape[0] == x.shape[0] and y.dtype.name == "int64" for x, y in ((tx, ty), (sx, sy)))


def cluttered_splits(request: ReadRequest) -> tuple[Any, ...]:
    """The catalog row's reader: the cluttered task of the request's settings, and its number of classes."""
    return (*make_cluttered(request.data_dir, request.settings), request.info.num_classes)
