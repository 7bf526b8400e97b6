"""The datasets, one registry row each: what scalesearch knows of a dataset without loading it (channels, classes
and their names, resolution, split sizes, the settings it takes) and its reader, named by import path and loaded on
first use (pycls' dataset catalog, like this project's block registry). Read by `scalesearch.data.loader` (which
calls the reader), the spec reader (which checks a spec's sizes and shapes) and the CLI (its `--dataset` choices).

Torch-free, so that `scalesearch validate` checks a spec without importing torch. Adding a dataset is one row here
and its reader: a function `read(request: ReadRequest) -> (train_x, train_y, test_x, test_y, num_classes)` of
uint8 `[N, C, H, W]` images and int64 labels (torch tensors), anywhere importable.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import InputError

__all__ = ["CLUTTERED_DEFAULTS", "CLUTTER_SOURCES", "DATASETS", "MAX_DATA_RESOLUTION", "MIN_DATA_RESOLUTION",
           "SYNTHETIC_DEFAULTS", "DatasetInfo", "ReadRequest", "dataset_info"]

MIN_DATA_RESOLUTION = 4  # resizing a dataset below this leaves nothing to crop or pool
MAX_DATA_RESOLUTION = 1024  # a dataset is held resized in memory: 70k images at 1024 px are 73 GB of uint8 already


@dataclass(frozen=True)
class DatasetInfo:
    """The facts of one dataset.

    Attributes:
        name: its name in specs and on the command line.
        in_channels, num_classes, resolution: the images' channels, the classes and the native side in pixels.
        train_size, test_size: the official split sizes (the validation split is carved from train).
        description: one line for help texts.
        files: True for the datasets whose facts come from the user's files (`imagefolder`, `npz`): their row
            holds placeholders and `scalesearch.data.own.probe` gives the facts.
        expects: what the dataset needs (files, keys, spec settings), for `scalesearch datasets`.
        reader: "module:function", the function that reads its splits (`ReadRequest` in, `(train_x, train_y,
            test_x, test_y, num_classes)` out); imported on the first `read`, so that the row stays torch-free.
        classes: the classes' names in label order ("" for none: an image folder's are its sub-folders' names).
        settings: the spec settings the dataset takes beyond the common ones, with their defaults (synthetic's
            generator, cluttered's construction); every one of them is part of a trial's key.
    """

    name: str
    in_channels: int
    num_classes: int
    resolution: int
    train_size: int
    test_size: int
    description: str
    files: bool = False
    expects: str = ""
    reader: str = ""
    classes: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def read(self, request: ReadRequest) -> tuple[Any, Any, Any, Any, int]:
        """The dataset's splits as its reader returns them: (train_x, train_y, test_x, test_y, num_classes)."""
        return reader_function(self.reader)(request)


@dataclass(frozen=True)
class ReadRequest:
    """What a reader is given: the dataset's row, the folder of built-in files (None: $SCALESEARCH_DATA, else
    /usr/share/datasets), the dataset's settings (`DatasetInfo.settings`, as a spec gave them), and for own data its
    path, channels and the resolution to decode at."""

    info: DatasetInfo
    data_dir: str | os.PathLike[str] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    path: str | os.PathLike[str] | None = None
    channels: int | None = None
    resolution: int | None = None


def reader_function(path: str) -> Callable[[ReadRequest], tuple[Any, Any, Any, Any, int]]:
    """The function a row's `reader` names ("package.module:function")."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# Defaults of the synthetic generator (override with load_dataset("synthetic", **kwargs), or in a spec's
# `dataset:` section); the synthetic row of DATASETS is derived from them.
SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "num_classes": 10,  # like the real datasets, so code paths are the same
    "in_channels": 3,
    "image_size": 32,
    "num_train": 10_000,  # the default val_size=5000 leaves 5000 for training
    "num_test": 2_000,
    "noise": 0.5,  # per-pixel Gaussian noise, relative to the pattern's unit std: visible but learnable
    "max_shift": 3,  # random circular translation in pixels, so a net has to learn shift-tolerant features
    "pattern_seed": 0,  # fixes the class patterns and the samples; `seed` only picks subsets, as for real data
}

# Parameters of the `cluttered` task (scalesearch.data.cluttered: each item at a random scale and position on a larger
# canvas, with clutter cut from other items of its split); its module docstring says why each default is what it is.
# In a spec's `dataset:` section; every one of them is part of a trial's key.
CLUTTERED_DEFAULTS: dict[str, Any] = {
    "source": "fashion-mnist",  # the built-in dataset whose items are pasted (CLUTTER_SOURCES)
    "canvas": 56,  # the side of the canvas in pixels: the task's native resolution
    "scale": (0.6, 1.4),  # [low, high] of the uniform random scale of an item (1: its native 28 px)
    "clutter": 4,  # pieces of clutter per image
    "clutter_size": 8,  # the side of a piece in pixels
    "build_seed": 0,  # fixes every position, scale and piece; the data seed only picks subsets
}
CLUTTER_SOURCES = ("fashion-mnist",)

DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("fashion-mnist", 1, 10, 28, 60_000, 10_000,
                "Zalando's Fashion-MNIST, 28x28 grey (Debian package dataset-fashion-mnist)",
                expects="the idx files (train-images-idx3-ubyte[.gz], ...) in $SCALESEARCH_DATA or "
                        "/usr/share/datasets[/fashion-mnist]",
                reader="scalesearch.data.sources:fashion_mnist_splits",
                classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")),
    DatasetInfo("cifar10", 3, 10, 32, 50_000, 10_000, "CIFAR-10, 32x32 colour (the python pickle batches)",
                expects="cifar-10-batches-py/ (data_batch_1..5, test_batch) in $SCALESEARCH_DATA",
                reader="scalesearch.data.sources:cifar10_splits",
                classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
    DatasetInfo("cifar100", 3, 100, 32, 50_000, 10_000,
                "CIFAR-100, 32x32 colour, 100 fine classes (the python pickle files)",
                expects="cifar-100-python/ (train, test) in $SCALESEARCH_DATA",
                reader="scalesearch.data.sources:cifar100_splits"),
    DatasetInfo("imagefolder", 0, 0, 0, 0, 0, "your images: one sub-folder of PNG/JPEG files per class",
                files=True,
                expects="path: DIR with DIR/<class>/*.png|jpg (test carved, 1/7) or DIR/train/<class>/ and "
                        "DIR/test/<class>/; channels: 1|3 (default: detected); resolution: N (required when the "
                        "images are not square and of one size)",
                reader="scalesearch.data.own:own_splits"),
    DatasetInfo("npz", 0, 0, 0, 0, 0, "your arrays: one .npz file of uint8 images and integer labels",
                files=True,
                expects="path: FILE.npz with x_train, y_train, x_test, y_test (images NHW or NHWC), or "
                        "MedMNIST's train_/val_/test_images and _labels; resolution: N (optional resize)",
                reader="scalesearch.data.own:own_splits"),
    DatasetInfo("synthetic", SYNTHETIC_DEFAULTS["in_channels"], SYNTHETIC_DEFAULTS["num_classes"],
                SYNTHETIC_DEFAULTS["image_size"], SYNTHETIC_DEFAULTS["num_train"], SYNTHETIC_DEFAULTS["num_test"],
                "seeded learnable class patterns, for tests (no files)",
                expects="nothing: num_classes, in_channels, image_size, num_train, num_test, noise, max_shift, "
                        "pattern_seed are spec settings",
                reader="scalesearch.data.sources:synthetic_splits", settings=SYNTHETIC_DEFAULTS),
    DatasetInfo("cluttered", 1, 10, CLUTTERED_DEFAULTS["canvas"], 60_000, 10_000,
                "a source's items at random scales and positions on a larger canvas, with clutter cut from other "
                "items of the same split (cluttered MNIST, Mnih et al. 2014), built once into the decode cache",
                expects="the source's files (fashion-mnist: its idx files); source, canvas, scale, clutter, "
                        "clutter_size, build_seed are spec settings (default: "
                        + ", ".join(f"{k} {list(v) if isinstance(v, tuple) else v}"
                                    for k, v in CLUTTERED_DEFAULTS.items()) + ")",
                reader="scalesearch.data.cluttered:cluttered_splits", settings=CLUTTERED_DEFAULTS),
)}


def dataset_info(name: str) -> DatasetInfo:
    """The row of `name`; ValueError naming the known datasets otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}") from None
