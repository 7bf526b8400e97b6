"""A researcher's own data: a folder of images (`imagefolder`) or one `.npz` file (`npz`), probed and decoded
without torch, and decoded once into a cache.

imagefolder  DIR holds one sub-folder per class of PNG/JPEG files, either directly (the test split is then carved
             from them, seeded: `FLAT_TEST_FRACTION` of the images) or under DIR/train/ and DIR/test/. The class
             names are the folder names, sorted; label i is the i-th name. Channels: declared (`channels: 1|3`) or
             detected (1 when every image is grey, else 3); grey PNGs (mode L) are 1 channel. Images are resized to
             the spec's resolution with Pillow (bilinear); without one they must all be square and of one size.
npz          one file with x_train, y_train, x_test, y_test (uint8 images NHW or NHWC, integer labels); MedMNIST's
             keys (train_images, train_labels, val_images, val_labels, test_images, test_labels) load as they
             are, their val split joining the training pool (scalesearch carves its own validation split).

`probe(...)` reads only file names, sizes and image headers (npz: the arrays' headers and the labels) and returns
a `FileInfo`: what `validate` prints and what the spec's sizes are checked against. `decode(...)` returns uint8
NCHW arrays, cached on disk (`$SCALESEARCH_CACHE`, default ~/.cache/scalesearch/decoded) under a key of every
file's name, size and modification time plus the channels and resolution, so trials never decode again and a file
overwritten in place is noticed. Every bad input is an `InputError` of one line naming the file, an image of more
than `MAX_IMAGE_PIXELS` pixels too (probed or decoded). Nothing is fetched from the network.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalesearch.data.catalog import ReadRequest
from scalesearch.errors import InputError, MissingFileError

__all__ = ["CACHE_ENV", "FILE_KINDS", "FLAT_TEST_FRACTION", "IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS", "FileInfo",
           "cache_dir", "content_id", "decode", "own_splits", "probe"]

FILE_KINDS = ("imagefolder", "npz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FLAT_TEST_FRACTION = 1 / 7  # a flat folder's test split: Fashion-MNIST's 10,000 of 70,000
CACHE_ENV = "SCALESEARCH_CACHE"
# The most pixels (width x height) an image may have: Pillow's default decompression-bomb limit, where it starts to
# warn (it refuses only at twice this). Every image above it is refused, warned-about or not, so the rule is one
# number whatever Pillow's own setting; a network's input is far smaller (an ImageNet-sized image is 0.2 MP).
MAX_IMAGE_PIXELS = 89_478_485
_NPZ_KEYS = {"plain": ("x_train", "y_train", "x_test", "y_test"),
             "medmnist": ("train_images", "train_labels", "test_images", "test_labels")}
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclass(frozen=True)
class FileInfo:
    """What a dataset's files hold: channels, classes (names), the native side in pixels (after the spec's
    resize), the sizes of the training pool and of the test split, and whether the test split is carved."""

    in_channels: int
    num_classes: int
    resolution: int
    train_size: int
    test_size: int
    classes: tuple[str, ...]
    carved_test: bool = False


def cache_dir() -> Path:
    """Where decoded datasets are kept: $SCALESEARCH_CACHE, else ~/.cache/scalesearch/decoded."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scalesearch" / "decoded"


def _exists(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingFileError(f"{p}: no such {what}; expected the dataset's {what} (dataset.path)")
    return p


# ---------------------------------------------------------------------------------------------------------------
# imagefolder


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """class name -> its image files (sorted), for the class sub-folders of `folder`."""
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise InputError(f"{folder}: no class folders; expected one sub-folder of PNG/JPEG images per class "
                         "(or train/ and test/ holding them)")
    out = {}
    for d in classes:
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{d}: class folder with no images; expected PNG or JPEG files "
                             f"({', '.join(IMAGE_SUFFIXES)})")
        out[d.name] = files
    return out


def _layout(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]] | None]:
    """(train classes, test classes or None when the test split is carved from a flat folder)."""
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; an imagefolder dataset is a folder of class folders")
    if (root / "train").is_dir():
        if not (root / "test").is_dir():
            raise InputError(f"{root}: has train/ but no test/; expected both, or class folders directly")
        train, test = _class_files(root / "train"), _class_files(root / "test")
        if set(test) - set(train):
            raise InputError(f"{root / 'test'}: classes {', '.join(sorted(set(test) - set(train)))} are not in "
                             f"{root / 'train'}; expected the same class folders")
        return train, test
    return _class_files(root), None


def _signature(files: list[Path]) -> list[tuple[str, int, int]]:
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return out


def _too_large(f: Path, pixels: str) -> InputError:
    """The error of an image over MAX_IMAGE_PIXELS."""
    return InputError(f"{f}: image of {pixels} pixels; expected at most {MAX_IMAGE_PIXELS:,} pixels (width x "
                      "height; Pillow's decompression-bomb limit)")


@contextlib.contextmanager
def _open_image(f: Path) -> Iterator[Any]:
    """`PIL.Image.open(f)`, refusing an image of more than MAX_IMAGE_PIXELS pixels with an InputError (instead of
    Pillow's DecompressionBombWarning below twice its limit and DecompressionBombError above)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, at the same limit
        try:
            im = Image.open(f)
        except Image.DecompressionBombError as e:
            n = re.search(r"\((\d+) pixels\)", str(e))  # Pillow says "Image size (N pixels) exceeds ..."
            raise _too_large(f, f"{int(n[1]):,}" if n else f"more than {MAX_IMAGE_PIXELS:,}") from None
    with im:
        w, h = im.size
        if w * h > MAX_IMAGE_PIXELS:
            raise _too_large(f, f"{w}x{h} = {w * h:,}")
        yield im


def _headers(files: list[Path]) -> tuple[set[tuple[int, int]], bool]:
    """The image sizes seen and whether every image is grey, from headers only."""
    from PIL import UnidentifiedImageError

    sizes, grey = set(), True
    for f in files:
        try:
            with _open_image(f) as im:
                sizes.add(im.size)
                grey = grey and im.mode in _GREY_MODES
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(f"{f}: not a decodable image ({type(e).__name__}); expected a PNG or JPEG") from None
    return sizes, grey


def _probe_folder(root: Path, channels: int | None, resolution: int | None) -> tuple[FileInfo, list[Path], Any]:
    train, test = _layout(root)
    classes = tuple(train)
    files = [f for fs in train.values() for f in fs] + ([f for fs in test.values() for f in fs] if test else [])
    sizes, grey = _headers(files)
    if resolution is None:
        if len(sizes) != 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
            shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
            raise InputError(f"{root}: images of sizes {shown}{' ...' if len(sizes) > 4 else ''} and no "
                             "dataset.resolution; expected square images of one size, or a resolution to resize to")
        resolution = next(iter(sizes))[0]
    ch = channels if channels is not None else (1 if grey else 3)
    n_train = sum(len(v) for v in train.values())
    if test is None:
        n_test = max(1, round(n_train * FLAT_TEST_FRACTION))
        n_train -= n_test
    else:
        n_test = sum(len(v) for v in test.values())
    info = FileInfo(ch, len(classes), int(resolution), n_train, n_test, classes, carved_test=test is None)
    return info, files, (train, test)


# ---------------------------------------------------------------------------------------------------------------
# npz


def _npz_header(zf: zipfile.ZipFile, key: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    with zf.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(f))
    return tuple(shape), dtype


def _npz_keys(path: Path) -> tuple[str, tuple[str, ...], zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{path}: not an .npz file ({e})") from None
    names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
    for kind, keys in _NPZ_KEYS.items():
        if set(keys) <= names:
            return kind, keys, zf
    zf.close()
    raise InputError(f"{path}: missing keys; expected {', '.join(_NPZ_KEYS['plain'])} (or MedMNIST's "
                     f"{', '.join(_NPZ_KEYS['medmnist'])}), found {', '.join(sorted(names)) or 'none'}")


def _npz_labels(path: Path) -> dict[str, np.ndarray]:
    kind, keys, zf = _npz_keys(path)
    zf.close()
    with np.load(path, allow_pickle=False) as z:
        labels = {k: np.asarray(z[k]).reshape(len(z[k]), -1)[:, 0] if np.asarray(z[k]).ndim > 1 else np.asarray(z[k])
                  for k in (keys[1], keys[3], *(("val_labels",) if kind == "medmnist" and "val_labels" in z else ()))}
    return labels


def _probe_npz(path: Path, resolution: int | None) -> FileInfo:
    kind, keys, zf = _npz_keys(path)
    with zf:
        shapes = {}
        for k in list(keys) + (["val_images", "val_labels"] if kind == "medmnist" and "val_images.npy" in
                               zf.namelist() else []):
            shape, dtype = _npz_header(zf, k, path)
            shapes[k] = shape
            if k.startswith(("x_", "train_images", "test_images", "val_images")) and dtype != np.uint8:
                raise InputError(f"{path}: {k} is {dtype}; expected uint8 images")
            if not k.startswith(("x_", "train_images", "test_images", "val_images")) and dtype.kind not in "iu":
                raise InputError(f"{path}: {k} is {dtype}; expected integer labels")
    img_keys = [k for k in shapes if k.startswith(("x_", "train_images", "test_images", "val_images"))]
    for k in img_keys:
        s = shapes[k]
        if len(s) not in (3, 4) or (len(s) == 4 and s[3] not in (1, 3)) or s[1] != s[2]:
            raise InputError(f"{path}: {k} has shape {s}; expected square images NHW or NHWC with 1 or 3 channels")
        lab = k.replace("x_", "y_").replace("_images", "_labels")
        if shapes[lab][0] != s[0]:
            raise InputError(f"{path}: {k} has {s[0]} images but {lab} has {shapes[lab][0]} labels; expected "
                             "equal lengths")
    chans = {1 if len(shapes[k]) == 3 else shapes[k][3] for k in img_keys}
    sides = {shapes[k][1] for k in img_keys}
    if len(chans) != 1 or len(sides) != 1:
        raise InputError(f"{path}: the splits' images differ in shape ({', '.join(str(shapes[k]) for k in img_keys)})"
                         "; expected one image shape")
    labels = _npz_labels(path)
    k_train = int(max(int(v.max()) for v in labels.values() if v.size) + 1) if any(v.size for v in labels.values()) \
        else 0
    for k, v in labels.items():
        if v.size and int(v.min()) < 0:
            raise InputError(f"{path}: {k} holds label {int(v.min())}; expected labels in 0..{k_train - 1}")
    train_lab = labels[keys[1]]
    if train_lab.size and set(np.unique(labels[keys[3]]).tolist()) - set(np.unique(train_lab).tolist()):
        extra = sorted(set(np.unique(labels[keys[3]]).tolist()) - set(np.unique(train_lab).tolist()))
        raise InputError(f"{path}: {keys[3]} holds labels {extra[:5]} never seen in {keys[1]}; expected labels in "
                         f"0..{int(train_lab.max())}")
    n_train = shapes[keys[0]][0] + (shapes["val_images"][0] if "val_images" in shapes else 0)
    side = next(iter(sides))
    classes = tuple(str(i) for i in range(k_train))
    return FileInfo(next(iter(chans)), k_train, int(resolution or side), n_train, shapes[keys[2]][0], classes)


# ---------------------------------------------------------------------------------------------------------------
# Public entry points


def probe(kind: str, path: str | os.PathLike[str], *, channels: int | None = None,
          resolution: int | None = None) -> FileInfo:
    """What the files of an `imagefolder` or `npz` dataset hold, from names, sizes and headers (cached per
    file signature).

    Raises:
        MissingFileError: the path does not exist. InputError: bad files (one line naming the file).
    """
    if kind not in FILE_KINDS:
        raise InputError(f"dataset {kind!r}: expected one of {', '.join(FILE_KINDS)}")
    p = _exists(path, "folder" if kind == "imagefolder" else "file").resolve()
    if channels is not None and channels not in (1, 3):
        raise InputError(f"dataset.channels: expected 1 or 3, got {channels}")
    return _probe_cached(kind, str(p), channels, resolution, _tree_stamp(p))


def _tree_stamp(p: Path) -> tuple[Any, ...]:
    """A cheap signature of a file or folder tree: every entry's name, size and mtime."""
    if p.is_file():
        st = p.stat()
        return ((str(p), st.st_size, st.st_mtime_ns),)
    out = []
    for dirpath, dirnames, filenames in os.walk(p):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            out.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=32)
def _probe_cached(kind: str, path: str, channels: int | None, resolution: int | None,
                  stamp: tuple[Any, ...]) -> FileInfo:
    """The probe, kept on disk beside the decoded arrays (a fresh process reads no image header again)."""
    key = hashlib.sha256(json.dumps([kind, path, channels, resolution, stamp]).encode()).hexdigest()[:32]
    saved = cache_dir() / f"probe-{key}.json"
    try:
        d = json.loads(saved.read_text(encoding="utf-8"))
        return FileInfo(**{**d, "classes": tuple(d["classes"])})
    except (OSError, ValueError, TypeError, KeyError):
        pass
    info = _probe_files(kind, path, channels, resolution)
    _write_atomic(saved, json.dumps(info.__dict__).encode())
    return info


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (never fail a run for a cache that cannot be written)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def _probe_files(kind: str, path: str, channels: int | None, resolution: int | None) -> FileInfo:
    if kind == "imagefolder":
        return _probe_folder(Path(path), channels, resolution)[0]
    if channels is not None:
        info = _probe_npz(Path(path), resolution)
        if channels != info.in_channels:
            raise InputError(f"{path}: images have {info.in_channels} channel(s) but dataset.channels is {channels}")
        return info
    return _probe_npz(Path(path), resolution)


def content_id(kind: str, path: str | os.PathLike[str]) -> str:
    """The identity of a dataset's files by their content: sha256 (hex) of the class names, the labels and the
    image bytes in the order the files are read (imagefolder), or of the arrays' `.npy` members (npz, so that the
    zip's own time stamps do not count), independent of where the files are and of their modification times.

    The same images copied or moved to another path have the same identity, which is what a trial key holds for
    own data (`scalesearch.trial.job.data_config`), the path being provenance only. Cached per file signature (names,
    sizes, times: `probe`'s), so the bytes are read once per change.

    Raises:
        MissingFileError, InputError: as `probe`.
    """
    if kind not in FILE_KINDS:
        raise InputError(f"dataset {kind!r}: expected one of {', '.join(FILE_KINDS)}")
    p = _exists(path, "folder" if kind == "imagefolder" else "file").resolve()
    return _content_cached(kind, str(p), _tree_stamp(p))


@functools.lru_cache(maxsize=32)
def _content_cached(kind: str, path: str, stamp: tuple[Any, ...]) -> str:
    key = hashlib.sha256(json.dumps(["content", kind, path, stamp]).encode()).hexdigest()[:32]
    saved = cache_dir() / f"content-{key}.txt"
    try:
        text = saved.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{64}", text):
            return text
    except (OSError, UnicodeDecodeError):
        pass
    h = hashlib.sha256(f"scalesearch-content:{kind}\n".encode())
    if kind == "imagefolder":
        train, test = _layout(Path(path))
        for split, groups in (("train", train), ("test", test)):
            if groups is None:
                h.update(b"split:none\n")
                continue
            names = sorted(train)  # labels follow the training classes' sorted names
            h.update(json.dumps([split, names]).encode())
            for c, files in groups.items():
                for f in files:
                    h.update(json.dumps([names.index(c), f.stat().st_size]).encode())
                    with open(f, "rb") as fh:
                        for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                            h.update(chunk)
    else:
        _, _, zf = _npz_keys(Path(path))
        with zf:
            for member in sorted(n for n in zf.namelist() if n.endswith(".npy")):  # MedMNIST's val_* too
                h.update(json.dumps(member).encode())
                with zf.open(member) as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(chunk)
    digest = h.hexdigest()
    _write_atomic(saved, digest.encode("ascii"))
    return digest


def decode(kind: str, path: str | os.PathLike[str], *, channels: int | None = None,
           resolution: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, FileInfo]:
    """(train_x, train_y, test_x, test_y, info): uint8 [N, C, S, S] images and int64 labels, from the disk cache
    when the files are unchanged. A flat folder's test split is carved with a fixed generator, so it never depends
    on a study's seed (the validation split is carved from the training pool by `load_dataset`, seeded).

    Raises:
        MissingFileError, InputError: as `probe`, and a file that does not decode.
    """
    info = probe(kind, path, channels=channels, resolution=resolution)
    p = Path(path).expanduser().resolve()
    stamp = _tree_stamp(p)
    key = hashlib.sha256(json.dumps([kind, str(p), info.in_channels, info.resolution, stamp]).encode()).hexdigest()[:32]
    return (*_decode_cached(kind, str(p), info, key), info)


@functools.lru_cache(maxsize=4)
def _decode_cached(kind: str, path: str, info: FileInfo, key: str) -> tuple[np.ndarray, ...]:
    cached = cache_dir() / f"{kind}-{key}.npz"
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                return z["train_x"], z["train_y"], z["test_x"], z["test_y"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged cache file is decoded again and replaced
    arrays = _decode_folder(Path(path), info) if kind == "imagefolder" else _decode_npz(Path(path), info)
    buf = io.BytesIO()
    np.savez(buf, train_x=arrays[0], train_y=arrays[1], test_x=arrays[2], test_y=arrays[3])
    _write_atomic(cached, buf.getvalue())  # no cache (a read-only home): decode again next time
    return arrays


def _load_image(f: Path, channels: int, resolution: int) -> np.ndarray:
    from PIL import Image

    try:
        with _open_image(f) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            if im.size != (resolution, resolution):
                im = im.resize((resolution, resolution), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{f}: not a decodable image ({e}); expected a PNG or JPEG") from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _decode_folder(root: Path, info: FileInfo) -> tuple[np.ndarray, ...]:
    _, _, (train, test) = _probe_folder(root, info.in_channels, info.resolution)
    index = {name: i for i, name in enumerate(info.classes)}

    def stack(groups: dict[str, list[Path]]) -> tuple[np.ndarray, np.ndarray]:
        files = [(f, index[c]) for c, fs in groups.items() for f in fs]
        x = np.empty((len(files), info.in_channels, info.resolution, info.resolution), dtype=np.uint8)
        for i, (f, _) in enumerate(files):
            x[i] = _load_image(f, info.in_channels, info.resolution)
        return x, np.array([c for _, c in files], dtype=np.int64)

    x, y = stack(train)
    if test is not None:
        tx, ty = stack(test)
        return x, y, tx, ty
    order = np.random.default_rng(0).permutation(len(y))  # fixed: the test split never depends on a study seed
    test_idx, train_idx = np.sort(order[:info.test_size]), np.sort(order[info.test_size:])
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def _decode_npz(path: Path, info: FileInfo) -> tuple[np.ndarray, ...]:
    kind, keys, zf = _npz_keys(path)
    zf.close()
    with np.load(path, allow_pickle=False) as z:
        def images(k: str) -> np.ndarray:
            a = np.asarray(z[k], dtype=np.uint8)
            return a[:, None] if a.ndim == 3 else a.transpose(0, 3, 1, 2)

        def labels(k: str) -> np.ndarray:
            a = np.asarray(z[k])
            return (a.reshape(len(a), -1)[:, 0] if a.ndim > 1 else a).astype(np.int64)

        x, y, tx, ty = images(keys[0]), labels(keys[1]), images(keys[2]), labels(keys[3])
        if kind == "medmnist" and "val_images" in z:
            x, y = np.concatenate([x, images("val_images")]), np.concatenate([y, labels("val_labels")])
    if x.shape[-1] != info.resolution:
        x, tx = _resize(x, info.resolution), _resize(tx, info.resolution)
    return np.ascontiguousarray(x), y, np.ascontiguousarray(tx), ty


def _resize(x: np.ndarray, resolution: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((*x.shape[:2], resolution, resolution), dtype=np.uint8)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[i, c] = np.asarray(Image.fromarray(x[i, c]).resize((resolution, resolution),
                                                                   Image.Resampling.BILINEAR))
    return out


def own_splits(request: ReadRequest) -> tuple[Any, ...]:
    """The catalog row's reader of `imagefolder` and `npz`: the decoded splits (numpy) and the classes found."""
    if request.path is None:
        raise InputError(f"dataset {request.info.name!r} needs a path: {request.info.expects}")
    *arrays, info = decode(request.info.name, request.path, channels=request.channels,
                           resolution=request.resolution)
    return (*arrays, info.num_classes)
