"""Reading the datasets' files into uint8 tensors: Fashion-MNIST's idx files, CIFAR-10's pickle batches, and the
seeded synthetic patterns; where the files are looked for (`data_dir`, `$SCALESEARCH_DATA`, /usr/share/datasets).

`scalesearch.data.loader.load_dataset` turns what these return into on-device splits; nothing here is fetched from the
network, and a decoded file is cached by its path, size and modification time.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from scalesearch.data.catalog import SYNTHETIC_DEFAULTS, ReadRequest
from scalesearch.errors import InputError, ScalesearchError
from scalesearch.util.checks import MAX_SEED, check_float, check_int

__all__ = [
    "DEFAULT_DATA_ROOT",
    "ENV_DATA",
    "DatasetNotFoundError",
    "cifar10_splits",
    "cifar100_splits",
    "fashion_mnist_files",
    "fashion_mnist_splits",
    "make_synthetic",
    "read_cifar10",
    "read_cifar100",
    "read_fashion_mnist",
    "synthetic_params",
    "synthetic_splits",
]

DEFAULT_DATA_ROOT = "/usr/share/datasets"
ENV_DATA = "SCALESEARCH_DATA"

_FASHION_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = "test_batch"

class DatasetNotFoundError(ScalesearchError, FileNotFoundError):
    """The files of a dataset are not where they were looked for."""


# ---------------------------------------------------------------------------------------------------------------
# Finding files


def _data_roots(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The root folder to search and where it came from (for error messages)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir"
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser(), f"${ENV_DATA}"
    return Path(DEFAULT_DATA_ROOT), "the default root"


def _find_file(folder: Path, stem: str) -> Path | None:
    """`folder/stem` or `folder/stem.gz`, whichever exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def fashion_mnist_files(data_dir: str | os.PathLike[str] | None) -> dict[str, Path]:
    """The paths of Fashion-MNIST's four idx files (keys train_x, train_y, test_x, test_y), as they are found.

    Raises:
        DatasetNotFoundError: naming the folders searched.
    """
    root, origin = _data_roots(data_dir)
    searched = [root, root / "fashion-mnist"]
    for folder in searched:
        paths = {k: _find_file(folder, stem) for k, stem in _FASHION_FILES.items()}
        if all(paths.values()):
            return {k: p for k, p in paths.items() if p is not None}
    raise DatasetNotFoundError(
        f"Fashion-MNIST idx files ({', '.join(s + '[.gz]' for s in _FASHION_FILES.values())}) not found in "
        f"{' or '.join(str(f) for f in searched)} (searched {origin}); install them with "
        f"`apt-get install dataset-fashion-mnist`, or set {ENV_DATA} or --data-dir to a folder holding them")


def read_fashion_mnist(data_dir: str | os.PathLike[str] | None) -> tuple[torch.Tensor, ...]:
    """Raw (train_x, train_y, test_x, test_y) of Fashion-MNIST; x uint8 [N, 1, 28, 28], y int64."""
    paths = fashion_mnist_files(data_dir)
    train_x, train_y = _read_idx(paths["train_x"]), _read_idx(paths["train_y"])
    test_x, test_y = _read_idx(paths["test_x"]), _read_idx(paths["test_y"])
    for x, y, px, py in ((train_x, train_y, paths["train_x"], paths["train_y"]),
                         (test_x, test_y, paths["test_x"], paths["test_y"])):
        if x.dim() != 3 or x.shape[1:] != (28, 28):
            raise InputError(f"{px}: expected 28x28 images (idx rank 3), got shape {tuple(x.shape)}")
        if y.dim() != 1:
            raise InputError(f"{py}: expected labels (idx rank 1), got shape {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"{px} has {x.shape[0]} images but {py} has {y.shape[0]} labels")
        if y.numel() and int(y.max()) > 9:
            raise InputError(f"{py}: labels must be in 0..9, found {int(y.max())}")
    return train_x[:, None], train_y.long(), test_x[:, None], test_y.long()


def _read_idx(path: Path) -> torch.Tensor:
    """Decoded contents of an idx file (gzip or not), cached per process by path, size and mtime."""
    st = path.stat()
    return _read_idx_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _read_idx_cached(path: str, size: int, mtime_ns: int) -> torch.Tensor:
    """Read and validate an idx file of unsigned bytes (the only type the MNIST-style files use)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip raises BadGzipFile (an OSError) or EOFError on a truncated file
        raise InputError(f"{path}: cannot read idx file: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path}: not an idx file (bad magic number {raw[:4].hex() or 'empty'})")
    if raw[2] != 0x08:
        raise InputError(f"{path}: idx data type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise InputError(f"{path}: truncated idx header (rank {ndim}, {len(raw)} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise InputError(f"{path}: idx header says shape {dims} ({expected} bytes) but the file has "
                         f"{len(raw)} bytes")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays: a CIFAR batch is a dict of arrays, lists, bytes and ints."""

    _ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a CIFAR batch")
        return super().find_class(module, name)


def read_cifar10(data_dir: str | os.PathLike[str] | None) -> tuple[torch.Tensor, ...]:
    """Raw (train_x, train_y, test_x, test_y) of CIFAR-10; x uint8 [N, 3, 32, 32], y int64."""
    root, origin = _data_roots(data_dir)
    searched = [root, root / "cifar-10-batches-py"]
    for folder in searched:
        if all((folder / f).is_file() for f in (*_CIFAR_TRAIN, _CIFAR_TEST)):
            break
    else:
        raise DatasetNotFoundError(
            f"CIFAR-10 python batches ({', '.join(_CIFAR_TRAIN)}, {_CIFAR_TEST}) not found in "
            f"{' or '.join(str(f) for f in searched)} (searched {origin}); download cifar-10-python.tar.gz "
            f"from https://www.cs.toronto.edu/~kriz/cifar.html, extract it there, or set {ENV_DATA} or "
            "--data-dir to the folder holding cifar-10-batches-py")
    train = [_read_cifar_batch(folder / f) for f in _CIFAR_TRAIN]
    test_x, test_y = _read_cifar_batch(folder / _CIFAR_TEST)
    return torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]), test_x, test_y


def read_cifar100(data_dir: str | os.PathLike[str] | None) -> tuple[torch.Tensor, ...]:
    """Raw (train_x, train_y, test_x, test_y) of CIFAR-100 (the 100 fine labels); x uint8 [N, 3, 32, 32]."""
    root, origin = _data_roots(data_dir)
    searched = [root, root / "cifar-100-python"]
    for folder in searched:
        if all((folder / f).is_file() for f in ("train", "test")):
            break
    else:
        raise DatasetNotFoundError(
            f"CIFAR-100 python files (train, test) not found in {' or '.join(str(f) for f in searched)} (searched "
            f"{origin}); download cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
            f"extract it there, or set {ENV_DATA} or --data-dir to the folder holding cifar-100-python")
    train_x, train_y = _read_cifar_batch(folder / "train", "fine_labels", 100)
    test_x, test_y = _read_cifar_batch(folder / "test", "fine_labels", 100)
    return train_x, train_y, test_x, test_y


def _read_cifar_batch(path: Path, labels_key: str = "labels", classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one CIFAR batch file, cached per process by path, size and mtime."""
    st = path.stat()
    return _read_cifar_batch_cached(str(path.resolve()), st.st_size, st.st_mtime_ns, labels_key, classes)


@functools.lru_cache(maxsize=8)
def _read_cifar_batch_cached(path: str, size: int, mtime_ns: int, labels_key: str = "labels",
                             classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and validate one pickle batch: b'data' uint8 [N, 3072] (R, G, B planes of 32x32), the labels."""
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, IndexError) as e:
        raise InputError(f"{path}: not a CIFAR-10 python batch ({e})") from e
    if not isinstance(batch, dict):
        raise InputError(f"{path}: not a CIFAR-10 python batch (a {type(batch).__name__}, not a dict)")
    get = lambda k: batch.get(k.encode(), batch.get(k))
    data, labels = get("data"), get(labels_key)
    if data is None or labels is None:
        raise InputError(f"{path}: CIFAR batch without 'data' and {labels_key!r} (keys: {sorted(map(str, batch))})")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(f"{path}: 'data' must be uint8 [N, 3072], got {data.dtype} {data.shape}")
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise InputError(f"{path}: {labels.shape} labels for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() > classes - 1):
        raise InputError(f"{path}: labels must be in 0..{classes - 1}, found {labels.min()}..{labels.max()}")
    x = torch.from_numpy(np.ascontiguousarray(data).reshape(-1, 3, 32, 32).copy())
    return x, torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Synthetic data


def synthetic_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The synthetic generator's parameters: defaults overridden by `kwargs`, validated."""
    unknown = sorted(set(kwargs) - set(SYNTHETIC_DEFAULTS))
    if unknown:
        raise InputError(f"unknown synthetic argument(s) {', '.join(unknown)}: expected "
                         f"{', '.join(SYNTHETIC_DEFAULTS)}")
    params = {**SYNTHETIC_DEFAULTS, **kwargs}
    for arg in ("num_classes", "in_channels", "image_size", "num_train", "num_test"):
        params[arg] = check_int(arg, params[arg], 2 if arg == "num_classes" else 1)
    params["max_shift"] = check_int("max_shift", params["max_shift"], 0)
    params["pattern_seed"] = check_int("pattern_seed", params["pattern_seed"], 0, MAX_SEED)
    params["noise"] = check_float("noise", params["noise"], 0.0)
    return params


@functools.lru_cache(maxsize=8)
def make_synthetic(num_classes: int, in_channels: int, image_size: int, num_train: int, num_test: int,
                    noise: float, max_shift: int, pattern_seed: int) -> tuple[torch.Tensor, ...]:
    """Seeded class patterns plus noise: (train_x, train_y, test_x, test_y), x uint8 [N, C, S, S].

    Each class has one smooth random pattern per channel (a 4x4 Gaussian field upsampled bicubically, unit
    std). A sample is its class pattern circularly shifted by up to `max_shift` pixels, scaled by a random
    contrast in [0.6, 1.4], plus Gaussian noise of std `noise`, mapped to pixels as 128 + 40 * value. The
    labels are balanced (round robin, then shuffled).
    """
    gen = torch.Generator().manual_seed(pattern_seed)
    s = image_size
    coarse = torch.randn(num_classes, in_channels, 4, 4, generator=gen)
    patterns = F.interpolate(coarse, size=(s, s), mode="bicubic", align_corners=False)
    patterns = patterns - patterns.mean(dim=(2, 3), keepdim=True)
    patterns = patterns / patterns.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % num_classes
        y = y[torch.randperm(n, generator=gen)]
        shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=gen)
        rows = (torch.arange(s)[None, :] - shifts[:, :1]) % s  # circular shift, vectorised as a gather
        cols = (torch.arange(s)[None, :] - shifts[:, 1:]) % s
        base = patterns[y]  # [n, C, S, S]
        index = (rows[:, :, None] * s + cols[:, None, :]).reshape(n, 1, s * s).expand(n, in_channels, s * s)
        shifted = torch.gather(base.reshape(n, in_channels, s * s), 2, index).reshape(base.shape)
        contrast = torch.empty(n, 1, 1, 1).uniform_(0.6, 1.4, generator=gen)
        value = shifted.mul_(contrast).add_(torch.randn(base.shape, generator=gen), alpha=noise)
        x = value.mul_(40).add_(128).round_().clamp_(0, 255).to(torch.uint8)
        return x, y

    train_x, train_y = sample(num_train)
    test_x, test_y = sample(num_test)
    return train_x, train_y, test_x, test_y


# ---------------------------------------------------------------------------------------------------------------
# The readers of the catalog's rows (`scalesearch.data.catalog.DatasetInfo.reader`)


def fashion_mnist_splits(request: ReadRequest) -> tuple[Any, ...]:
    """Fashion-MNIST's official splits and its number of classes."""
    return (*read_fashion_mnist(request.data_dir), request.info.num_classes)


def cifar10_splits(request: ReadRequest) -> tuple[Any, ...]:
    """CIFAR-10's official splits and its number of classes."""
    return (*read_cifar10(request.data_dir), request.info.num_classes)


def cifar100_splits(request: ReadRequest) -> tuple[Any, ...]:
    """CIFAR-100's official splits (fine labels) and its number of classes."""
    return (*read_cifar100(request.data_dir), request.info.num_classes)


def synthetic_splits(request: ReadRequest) -> tuple[Any, ...]:
    """The synthetic patterns of the request's settings (checked), and their number of classes."""
    params = synthetic_params(dict(request.settings))
    return (*make_synthetic(**params), params["num_classes"])
