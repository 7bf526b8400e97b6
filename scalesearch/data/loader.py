"""Datasets held on the device as uint8 tensors, and batched augmentation.

The datasets (`scalesearch.data.catalog.DATASETS`): Fashion-MNIST (read from its idx files), CIFAR-10 and CIFAR-100
(from the official python pickle batches; no torchvision), `cluttered` (Fashion-MNIST's items at random scales and
positions on a larger canvas with clutter: `scalesearch.data.cluttered`), `synthetic` (seeded, learnable class patterns
for fast tests) and a researcher's own files (`imagefolder`, `npz`: `scalesearch.data.own`). Every split
is stored as uint8 `[N, C, H, W]` images and int64 labels on the training device; the training loop normalises
each batch with the per-channel `mean`/`std` of the train split, so a whole dataset costs one byte per pixel
of device memory and no host-to-device copy per step.

Splits: the validation split is carved from the official training set (searches select on it); the test split
is the official test set and is meant for final reports only. Subsets and the train/val carve are drawn from a
`torch.Generator` seeded with `seed`, so they are identical across runs and machines. `resolution` resizes
every split once (bilinear, antialiased when downsampling) and stores uint8 again.

Where the files are looked for, in order of precedence: the `data_dir` argument, the `SCALESEARCH_DATA`
environment variable, then `/usr/share/datasets` (where Debian's `dataset-fashion-mnist` package installs the
idx files). For a root folder `<dir>`, Fashion-MNIST is looked for in `<dir>` and `<dir>/fashion-mnist`, and
CIFAR-10 in `<dir>` and `<dir>/cifar-10-batches-py`.

Example:
    >>> data = load_dataset("synthetic", val_size=200, num_train=1000, num_test=200, image_size=16)
    >>> data.train.x.shape, data.train.x.dtype, data.num_classes
    (torch.Size([800, 3, 16, 16]), torch.uint8, 10)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from scalesearch.data.catalog import (
    DATASETS,
    MAX_DATA_RESOLUTION,
    MIN_DATA_RESOLUTION,
    ReadRequest,
    dataset_info,
)
from scalesearch.data.sources import DEFAULT_DATA_ROOT, ENV_DATA, DatasetNotFoundError
from scalesearch.errors import InputError
from scalesearch.util.checks import MAX_SEED, check_int

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_ROOT",
    "ENV_DATA",
    "Dataset",
    "DatasetNotFoundError",
    "Split",
    "augment_batch",
    "load_dataset",
    "resize_images",
]

@dataclass
class Split:
    """One split of a dataset, resident on the device.

    Attributes:
        x: uint8 images `[N, C, H, W]`.
        y: int64 labels `[N]`.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    """A dataset with train/val/test splits and the normalisation statistics of its train split.

    Attributes:
        name: one of `DATASETS`.
        train, val, test: the splits (val is carved from the official training set).
        num_classes: number of classes.
        in_channels: image channels (1 for Fashion-MNIST, 3 for CIFAR-10).
        resolution: image height and width after any resizing.
        mean, std: per-channel statistics of the train split on the [0, 1] scale.
    """

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    in_channels: int
    resolution: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def device(self) -> torch.device:
        """The device the splits live on."""
        return self.train.x.device

    def to(self, device: str | torch.device) -> Dataset:
        """This dataset with every split moved to `device` (itself if it is already there)."""
        device = torch.device(device)
        if self.train.x.device == device:
            return self
        move = lambda s: Split(s.x.to(device), s.y.to(device))
        return Dataset(self.name, move(self.train), move(self.val), move(self.test), self.num_classes,
                       self.in_channels, self.resolution, self.mean, self.std)

    def summary(self) -> str:
        """One line: name, split sizes and image shape."""
        return (f"{self.name}: train {len(self.train)} / val {len(self.val)} / test {len(self.test)}, "
                f"{self.in_channels}x{self.resolution}x{self.resolution}, {self.num_classes} classes")


# ---------------------------------------------------------------------------------------------------------------
# Public entry point


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    train_size: int | None = None,
    val_size: int = 5000,
    test_size: int | None = None,
    resolution: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    path: str | os.PathLike[str] | None = None,
    channels: int | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset onto `device` as uint8 tensors, with a validation split carved from the training set.

    Args:
        name: one of `DATASETS`: "fashion-mnist", "cifar10", "cifar100", "cluttered", "synthetic", "imagefolder"
            or "npz".
        data_dir: root folder of the files (default: $SCALESEARCH_DATA, else /usr/share/datasets); see the
            module docstring for the sub-folders searched. Unused by "synthetic".
        train_size: number of training images, drawn (by `seed`) from what is left after the validation
            split; default: all of it.
        val_size: number of images carved (by `seed`) from the official training set for validation; 0 for
            none. The same `seed` and `val_size` give the same validation set whatever `train_size` is.
        test_size: number of test images, a seeded subset of the official test set; default: all.
        resolution: resize every split to `resolution` x `resolution` once (bilinear, antialiased when
            downsampling); default: the native resolution (28 for Fashion-MNIST, 32 for CIFAR-10, the canvas of
            "cluttered").
        seed: seed of the subsets and of the train/val carve.
        device: where the tensors live (the training device, so that batches are never copied per step).
        path: only for "imagefolder" (a folder of class folders) and "npz" (a file): the data
            (`scalesearch.data.own`; decoded once into its cache).
        channels: only for "imagefolder" and "npz": 1 or 3 (default: detected from the images).
        **options: for "synthetic" its generator's: num_classes (10), in_channels (3), image_size (32),
            num_train (10000), num_test (2000), noise (0.5), max_shift (3), pattern_seed (0); for "cluttered" its
            construction's (`scalesearch.data.cluttered`): source ("fashion-mnist"), canvas (56), scale ((0.6, 1.4)),
            clutter (4), clutter_size (8), build_seed (0); none for the others.

    Returns:
        A `Dataset` whose splits are uint8 `[N, C, H, W]` / int64 `[N]` tensors on `device` and whose
        `mean`/`std` are the per-channel statistics of the train split on the [0, 1] scale.

    Raises:
        ValueError: an unknown name or an argument out of range (the message names the argument).
        DatasetNotFoundError: the dataset's files are missing (the message names the folders searched).

    Example:
        >>> data = load_dataset("synthetic", val_size=100, num_train=600, num_test=100, image_size=8)
        >>> len(data.train), len(data.val), len(data.test), data.resolution
        (500, 100, 100, 8)
    """
    info = dataset_info(name)
    check_int("val_size", val_size, 0)
    check_int("seed", seed, 0, MAX_SEED)
    for arg, value in (("train_size", train_size), ("test_size", test_size)):
        if value is not None:
            check_int(arg, value, 1)
    if resolution is not None:
        check_int("resolution", resolution, MIN_DATA_RESOLUTION, MAX_DATA_RESOLUTION)
    if options and not info.settings:
        names = sorted(repr(n) for n, d in DATASETS.items() if d.settings)
        takes = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        raise InputError(f"unexpected argument(s) {', '.join(sorted(options))} for dataset {name!r}: "
                         f"they apply to {takes} only")
    if not info.files and (path is not None or channels is not None):
        raise InputError(f"path and channels apply to the imagefolder and npz datasets, not to {name!r}")
    device = torch.device(device)

    request = ReadRequest(info, data_dir=data_dir, settings=options, path=path, channels=channels,
                          resolution=resolution if info.files else None)
    *splits, num_classes = info.read(request)
    train_x, train_y, test_x, test_y = (torch.as_tensor(a) for a in splits)

    n_train_all, n_test_all = train_x.shape[0], test_x.shape[0]
    if val_size >= n_train_all:
        raise InputError(f"val_size={val_size} must be smaller than the {n_train_all} images of {name}'s "
                         "training set (the validation split is carved from it)")
    available = n_train_all - val_size
    if train_size is not None and train_size > available:
        raise InputError(f"train_size={train_size} is larger than the {available} training images of {name} "
                         f"left after val_size={val_size}: expected at most {available}")
    if test_size is not None and test_size > n_test_all:
        raise InputError(f"test_size={test_size} is larger than the {n_test_all} test images of {name}: "
                         f"expected at most {n_test_all}")

    # One permutation of the official training set: the first val_size images are the validation split, the
    # next train_size the training split, so val does not depend on train_size.
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_train_all, generator=gen)
    val_idx = perm[:val_size].sort().values
    train_idx = perm[val_size:val_size + (available if train_size is None else train_size)].sort().values
    if test_size is None:
        test_idx = torch.arange(n_test_all)
    else:
        test_idx = torch.randperm(n_test_all, generator=torch.Generator().manual_seed(seed + 1))[:test_size]
        test_idx = test_idx.sort().values

    # Index on the host (copies, so the cached raw arrays are never aliased), then move to the device.
    splits = [Split(x[idx].to(device), y[idx].to(device))
              for x, y, idx in ((train_x, train_y, train_idx), (train_x, train_y, val_idx), (test_x, test_y, test_idx))]
    native = int(train_x.shape[-1])
    if resolution is not None and resolution != native:
        splits = [Split(resize_images(s.x, resolution), s.y) for s in splits]
    res = native if resolution is None else resolution
    mean, std = _channel_stats(splits[0].x)
    return Dataset(name=name, train=splits[0], val=splits[1], test=splits[2], num_classes=num_classes,
                   in_channels=int(train_x.shape[1]), resolution=res, mean=mean, std=std)


# ---------------------------------------------------------------------------------------------------------------
# Augmentation and resizing


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    crop_padding: int = 4,
    flip: bool = True,
    pad_mode: str = "reflect",
) -> torch.Tensor:
    """Random crop with padding and random horizontal flip of a batch, vectorised, on the batch's device.

    Each image is padded by `crop_padding` pixels on every side and cropped back to its size at a random
    offset (the ResNet-paper CIFAR augmentation), then flipped left-right with probability 1/2. Both are done
    in one gather, with no per-image Python loop; the dtype (uint8 or float) is kept.

    Args:
        x: images `[N, C, H, W]`.
        generator: source of the random offsets and flips (must be on `x`'s device); None uses torch's
            global generator.
        crop_padding: pixels of padding; 0 disables the crop. Must be smaller than H and W in reflect mode.
        flip: whether to flip half of the images.
        pad_mode: "reflect" (mirror without repeating the edge, as airbench) or "zeros" (the ResNet paper).

    Returns:
        A new tensor of the same shape, dtype and device.

    Example:
        >>> x = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).reshape(2, 1, 4, 4)
        >>> augment_batch(x, torch.Generator().manual_seed(0), crop_padding=1).shape
        torch.Size([2, 1, 4, 4])
    """
    if x.dim() != 4:
        raise InputError(f"x must be a batch [N, C, H, W], got shape {tuple(x.shape)}")
    if pad_mode not in ("reflect", "zeros"):
        raise InputError(f"pad_mode={pad_mode!r}: expected 'reflect' or 'zeros'")
    check_int("crop_padding", crop_padding, 0)
    n, c, h, w = x.shape
    p = crop_padding
    if pad_mode == "reflect" and p >= min(h, w):
        raise InputError(f"crop_padding={p} must be smaller than the image size {min(h, w)} in reflect mode")
    if n == 0 or (p == 0 and not flip):
        return x.clone()
    dev = x.device
    if p > 0:
        dy = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev) - p
        dx = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev) - p
    else:
        dy = dx = torch.zeros(n, dtype=torch.long, device=dev)
    cols = torch.arange(w, device=dev).expand(n, w)
    if flip:
        flipped = torch.rand(n, generator=generator, device=dev) < 0.5
        cols = torch.where(flipped[:, None], (w - 1) - cols, cols)
    rows = torch.arange(h, device=dev)[None, :] + dy[:, None]  # source row of each output row, [N, H]
    cols = cols + dx[:, None]  # source column of each output column, [N, W]
    valid = None
    if pad_mode == "reflect":
        rows = _reflect(rows, h)
        cols = _reflect(cols, w)
    elif p > 0:
        valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    index = (rows[:, :, None] * w + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    out = torch.gather(x.reshape(n, c, h * w), 2, index).reshape(n, c, h, w)
    if valid is not None:
        out = out * valid[:, None].to(out.dtype)
    return out


def resize_images(x: torch.Tensor, resolution: int, *, chunk: int = 2048) -> torch.Tensor:
    """Bilinear resize of uint8 images `[N, C, H, W]` to `resolution` (antialiased when downsampling), as uint8.

    Works in chunks of `chunk` images so that the float copy stays small.
    """
    check_int("resolution", resolution, 1)
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise InputError(f"x must be uint8 [N, C, H, W], got {x.dtype} {tuple(x.shape)}")
    n, c, h, w = x.shape
    if (h, w) == (resolution, resolution):
        return x.clone()
    antialias = resolution < min(h, w)
    out = torch.empty((n, c, resolution, resolution), dtype=torch.uint8, device=x.device)
    for i in range(0, n, chunk):
        y = F.interpolate(x[i:i + chunk].float(), size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=antialias)
        out[i:i + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _reflect(i: torch.Tensor, n: int) -> torch.Tensor:
    """Indices outside [0, n) mirrored back inside without repeating the edge (numpy's 'reflect')."""
    i = torch.where(i < 0, -i, i)
    return torch.where(i >= n, 2 * (n - 1) - i, i)


def _channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images on the [0, 1] scale, accumulated in float64."""
    c = x.shape[1]
    if x.shape[0] == 0:
        return (0.5,) * c, (0.25,) * c
    s = torch.zeros(c, dtype=torch.float64, device=x.device)
    s2 = torch.zeros(c, dtype=torch.float64, device=x.device)
    for i in range(0, x.shape[0], chunk):
        v = x[i:i + chunk].transpose(0, 1).reshape(c, -1).double()
        s += v.sum(1)
        s2 += (v * v).sum(1)
    count = x.numel() // c
    mean = s / count
    var = (s2 / count - mean * mean).clamp_min(0)
    mean, std = (mean / 255).tolist(), (var.sqrt() / 255).tolist()
    return tuple(mean), tuple(max(v, 1e-3) for v in std)  # a constant channel must not divide by zero
