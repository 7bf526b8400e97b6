"""Tests of scalesearch.data.loader: loaders (real Fashion-MNIST when installed, CIFAR-10 batches written here,
synthetic), splits, resizing, augmentation and error messages."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scalesearch.data import loader as data_mod
from scalesearch.data.loader import (
    DATASETS,
    DatasetNotFoundError,
    augment_batch,
    load_dataset,
    resize_images,
)

FASHION_DIR = Path(data_mod.DEFAULT_DATA_ROOT) / "fashion-mnist"
HAVE_FASHION = any((FASHION_DIR / f).is_file() for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))
SMALL_SYN = {"num_train": 600, "num_test": 100, "image_size": 8}


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch):
    """Tests control SCALESEARCH_DATA themselves."""
    monkeypatch.delenv(data_mod.ENV_DATA, raising=False)


# ---------------------------------------------------------------------------------------------------------------
# Fashion-MNIST


@pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST idx files not installed in {FASHION_DIR}")
def test_fashion_mnist_real_files():
    d = load_dataset("fashion-mnist", val_size=0)
    assert (len(d.train), len(d.val), len(d.test)) == (60000, 0, 10000)
    assert d.train.x.shape == (60000, 1, 28, 28) and d.train.x.dtype == torch.uint8
    assert d.train.y.dtype == torch.int64
    assert torch.bincount(d.train.y).tolist() == [6000] * 10
    assert torch.bincount(d.test.y).tolist() == [1000] * 10
    assert int(d.train.y.min()) == 0 and int(d.train.y.max()) == 9
    assert abs(d.train.x.double().mean().item() / 255 - 0.2860) < 1e-4
    assert abs(d.mean[0] - 0.2860) < 1e-4 and abs(d.std[0] - 0.3530) < 1e-4
    assert (d.in_channels, d.resolution, d.num_classes) == (1, 28, 10)

    split = load_dataset("fashion-mnist")  # the default carve: 55k / 5k, from the cached raw arrays
    assert (len(split.train), len(split.val), len(split.test)) == (55000, 5000, 10000)


@pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST idx files not installed in {FASHION_DIR}")
def test_fashion_mnist_resolution_and_subsets():
    d = load_dataset("fashion-mnist", train_size=1000, val_size=500, test_size=300, resolution=32, seed=3)
    assert d.train.x.shape == (1000, 1, 32, 32) and d.train.x.dtype == torch.uint8
    assert (len(d.val), len(d.test), d.resolution) == (500, 300, 32)
    assert abs(d.mean[0] - d.train.x.double().mean().item() / 255) < 1e-9


def _write_idx(path: Path, array: np.ndarray, *, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _write_fake_fashion(folder: Path, n_train: int = 40, n_test: int = 20, *, gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), gz=gz)
    _write_idx(folder / "train-labels-idx1-ubyte", np.arange(n_train) % 10, gz=gz)
    _write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), gz=gz)
    _write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10, gz=gz)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_idx_found_through_env_var_subfolder(tmp_path, monkeypatch, gz):
    _write_fake_fashion(tmp_path / "fashion-mnist", gz=gz)
    monkeypatch.setenv(data_mod.ENV_DATA, str(tmp_path))
    d = load_dataset("fashion-mnist", val_size=10)
    assert (len(d.train), len(d.val), len(d.test)) == (30, 10, 20)
    raw = np.frombuffer(gzip.decompress((tmp_path / "fashion-mnist/t10k-images-idx3-ubyte.gz").read_bytes())
                        if gz else (tmp_path / "fashion-mnist/t10k-images-idx3-ubyte").read_bytes(),
                        dtype=np.uint8, offset=16).reshape(20, 1, 28, 28)
    assert torch.equal(d.test.x, torch.from_numpy(raw.copy()))  # the full test set keeps its order
    assert d.test.y.tolist() == [i % 10 for i in range(20)]


def test_fashion_data_dir_argument_wins_over_env(tmp_path, monkeypatch):
    _write_fake_fashion(tmp_path / "a", n_train=30)
    monkeypatch.setenv(data_mod.ENV_DATA, str(tmp_path / "missing"))
    d = load_dataset("fashion-mnist", data_dir=tmp_path / "a", val_size=5)
    assert len(d.train) == 25


def test_fashion_missing_names_folders_and_how_to_get_them(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "\n" not in msg
    assert str(tmp_path) in msg and str(tmp_path / "fashion-mnist") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "SCALESEARCH_DATA" in msg and "--data-dir" in msg


def test_fashion_missing_from_env_names_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(data_mod.ENV_DATA, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError, match="nowhere"):
        load_dataset("fashion-mnist")


@pytest.mark.parametrize("corrupt, match", [
    (lambda b: b"\x01\x02" + b[2:], "bad magic"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "not unsigned byte"),
    (lambda b: b[:-7], "bytes"),
    (lambda b: b[:6], "truncated"),
])
def test_corrupt_idx_file_is_a_value_error_naming_it(tmp_path, corrupt, match):
    folder = tmp_path / "fm"
    _write_fake_fashion(folder, gz=False)
    target = folder / "train-images-idx3-ubyte"
    target.write_bytes(corrupt(target.read_bytes()))
    with pytest.raises(ValueError, match=match) as info:
        load_dataset("fashion-mnist", data_dir=folder, val_size=5)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_corrupt_gzip_is_a_value_error_naming_it(tmp_path):
    folder = tmp_path / "fm"
    _write_fake_fashion(folder)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:15])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("fashion-mnist", data_dir=folder, val_size=5)


def test_label_count_mismatch_is_reported(tmp_path):
    folder = tmp_path / "fm"
    _write_fake_fashion(folder)
    _write_idx(folder / "train-labels-idx1-ubyte", np.zeros(39), gz=True)
    with pytest.raises(ValueError, match="40 images but .* 39 labels"):
        load_dataset("fashion-mnist", data_dir=folder, val_size=5)


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10


def _write_cifar(folder: Path, per_batch: int = 20, n_test: int = 30) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Official-format python batches: dicts with bytes keys, b'data' uint8 [N, 3072], b'labels' a list."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n)]
        batch = {b"batch_label": name.encode(), b"labels": y, b"data": x,
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        written[name] = (x, y)
    return written


def test_cifar10_from_official_batches(tmp_path):
    written = _write_cifar(tmp_path / "cifar-10-batches-py")
    d = load_dataset("cifar10", data_dir=tmp_path, val_size=0)
    assert (len(d.train), len(d.val), len(d.test)) == (100, 0, 30)
    assert d.train.x.shape == (100, 3, 32, 32) and d.train.x.dtype == torch.uint8
    assert (d.in_channels, d.resolution, d.num_classes) == (3, 32, 10)
    # Rows are R, G, B planes of 32x32 in row-major order; batches concatenate in order 1..5.
    x1, _ = written["data_batch_1"]
    assert d.train.x[0, 1, 2, 3].item() == x1[0, 1024 + 2 * 32 + 3]
    assert d.train.x[0, 2, 31, 0].item() == x1[0, 2048 + 31 * 32]
    x5, _ = written["data_batch_5"]
    assert torch.equal(d.train.x[80:], torch.from_numpy(x5.reshape(-1, 3, 32, 32)))
    assert d.train.y.tolist() == [y for i in range(1, 6) for y in written[f"data_batch_{i}"][1]]
    xt, yt = written["test_batch"]
    assert torch.equal(d.test.x, torch.from_numpy(xt.reshape(-1, 3, 32, 32))) and d.test.y.tolist() == yt
    all_px = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)]).reshape(-1, 3, 1024)
    assert np.allclose(d.mean, all_px.mean(axis=(0, 2)) / 255, atol=1e-9)

    # The folder itself is also accepted, and the val carve works.
    d2 = load_dataset("cifar10", data_dir=tmp_path / "cifar-10-batches-py", val_size=20, train_size=50, seed=1)
    assert (len(d2.train), len(d2.val)) == (50, 20)


def test_cifar10_missing_and_hostile_pickles(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py") as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)

    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(ValueError, match="data_batch_3.*refusing to load"):
        load_dataset("cifar10", data_dir=tmp_path, val_size=10)


def test_cifar10_wrong_shape_is_reported(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 1000), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(ValueError, match=r"test_batch.*uint8 \[N, 3072\]"):
        load_dataset("cifar10", data_dir=tmp_path, val_size=10)


# ---------------------------------------------------------------------------------------------------------------
# Synthetic, splits, arguments


def test_synthetic_is_seeded_balanced_and_configurable():
    a = load_dataset("synthetic", val_size=100, in_channels=2, num_classes=4, **SMALL_SYN)
    b = load_dataset("synthetic", val_size=100, in_channels=2, num_classes=4, **SMALL_SYN)
    assert a.train.x.shape == (500, 2, 8, 8) and a.test.x.shape == (100, 2, 8, 8)
    assert (a.num_classes, a.in_channels, a.resolution) == (4, 2, 8)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    counts = torch.bincount(torch.cat([a.train.y, a.val.y]), minlength=4)
    assert counts.tolist() == [150] * 4
    c = load_dataset("synthetic", val_size=100, in_channels=2, num_classes=4, pattern_seed=1, **SMALL_SYN)
    assert not torch.equal(a.test.x, c.test.x)


def _image_ids(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.reshape(x.shape[0], -1)}


def test_splits_are_disjoint_seeded_and_val_independent_of_train_size():
    d = load_dataset("synthetic", val_size=100, seed=5, **SMALL_SYN)
    ids_train, ids_val = _image_ids(d.train.x), _image_ids(d.val.x)
    assert len(ids_train) == 500 and len(ids_val) == 100 and not ids_train & ids_val
    same = load_dataset("synthetic", val_size=100, seed=5, **SMALL_SYN)
    assert torch.equal(d.train.x, same.train.x) and torch.equal(d.val.y, same.val.y)
    other = load_dataset("synthetic", val_size=100, seed=6, **SMALL_SYN)
    assert not torch.equal(d.val.x, other.val.x)
    sub = load_dataset("synthetic", val_size=100, seed=5, train_size=200, test_size=50, **SMALL_SYN)
    assert torch.equal(sub.val.x, d.val.x)  # same validation images whatever train_size is
    assert len(sub.train) == 200 and _image_ids(sub.train.x) <= ids_train
    assert len(sub.test) == 50 and _image_ids(sub.test.x) <= _image_ids(d.test.x)


def test_channel_stats_are_those_of_the_train_split():
    d = load_dataset("synthetic", val_size=100, in_channels=3, **SMALL_SYN)
    x = d.train.x.double() / 255
    assert np.allclose(d.mean, x.mean(dim=(0, 2, 3)).numpy(), atol=1e-9)
    assert np.allclose(d.std, x.std(dim=(0, 2, 3), unbiased=False).numpy(), atol=1e-7)


def test_resolution_resizes_every_split_once_as_uint8():
    d = load_dataset("synthetic", val_size=100, resolution=12, **SMALL_SYN)
    for split in (d.train, d.val, d.test):
        assert split.x.shape[1:] == (3, 12, 12) and split.x.dtype == torch.uint8
    assert d.resolution == 12


def test_resize_images_antialiases_when_downsampling():
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 255).to(torch.uint8)
    x = checker.expand(2, 1, 16, 16).contiguous()
    down = resize_images(x, 4)
    assert down.shape == (2, 1, 4, 4) and down.dtype == torch.uint8
    assert (down.int() - 128).abs().max() <= 1  # averaged to grey, not aliased to black/white stripes
    const = torch.full((1, 3, 5, 5), 77, dtype=torch.uint8)
    assert torch.equal(resize_images(const, 9), torch.full((1, 3, 9, 9), 77, dtype=torch.uint8))


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mnist"}, "unknown dataset 'mnist'.*fashion-mnist, cifar10, cifar100, imagefolder, npz, synthetic"),
    ({"val_size": 600}, "val_size=600"),
    ({"val_size": -1}, r"val_size: expected an integer >= 0, got -1"),
    ({"train_size": 501}, "train_size=501.*at most 500"),
    ({"train_size": 0}, r"train_size: expected an integer >= 1, got 0"),
    ({"test_size": 101}, "test_size=101.*at most 100"),
    ({"resolution": 0}, r"resolution: expected an integer in \[4, 1024\], got 0"),
    ({"seed": -1}, r"seed: expected an integer in \[0, 4294967295\], got -1"),
    ({"seed": 1.5}, r"seed: expected an integer in \[0, 4294967295\], got 1.5"),
    ({"colour": True}, "unknown synthetic argument.*colour"),
    ({"noise": -1.0}, r"noise: expected a number >= 0.0, got -1.0"),
    ({"num_classes": 1}, r"num_classes: expected an integer >= 2, got 1"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    args = {"name": "synthetic", "val_size": 100, **SMALL_SYN, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_dataset(args.pop("name"), **args)


def test_synthetic_kwargs_rejected_for_real_datasets(tmp_path):
    with pytest.raises(ValueError, match="image_size.*'synthetic' only"):
        load_dataset("fashion-mnist", data_dir=tmp_path, image_size=8)


def test_dataset_to_device_is_identity_on_same_device():
    d = load_dataset("synthetic", val_size=100, **SMALL_SYN)
    assert d.to("cpu") is d and d.device == torch.device("cpu")


def test_cli_dataset_choices_match_datasets():
    from scalesearch.cli import build_parser

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    dataset = next(a for a in train._actions if a.dest == "dataset")
    assert tuple(dataset.choices) == tuple(DATASETS)


# ---------------------------------------------------------------------------------------------------------------
# Augmentation


def _reference_crops(img: torch.Tensor, p: int, mode: str) -> list[torch.Tensor]:
    """Every crop (and its mirror) augment_batch may produce for one image, computed the obvious way."""
    h, w = img.shape[-2:]
    padded = F.pad(img[None].float(), (p, p, p, p), mode="reflect" if mode == "reflect" else "constant")[0]
    out = []
    for dy in range(2 * p + 1):
        for dx in range(2 * p + 1):
            crop = padded[:, dy:dy + h, dx:dx + w].to(img.dtype)
            out += [crop, crop.flip(-1)]
    return out


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
def test_crop_flip_matches_pad_then_crop_reference(mode):
    x = torch.randint(0, 256, (12, 3, 10, 10), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = augment_batch(x, torch.Generator().manual_seed(1), crop_padding=3, pad_mode=mode)
    assert out.shape == x.shape and out.dtype == torch.uint8
    for img, res in zip(x, out, strict=True):
        assert any(torch.equal(res, ref) for ref in _reference_crops(img, 3, mode))
    assert not torch.equal(out, x)


def test_augmentation_is_deterministic_under_a_seed_and_keeps_float_dtype():
    x = torch.rand(64, 1, 8, 8)
    a = augment_batch(x, torch.Generator().manual_seed(7), crop_padding=2)
    b = augment_batch(x, torch.Generator().manual_seed(7), crop_padding=2)
    c = augment_batch(x, torch.Generator().manual_seed(8), crop_padding=2)
    assert a.dtype == torch.float32 and torch.equal(a, b) and not torch.equal(a, c)


def test_flip_really_flips_about_half_of_the_images():
    x = torch.arange(400 * 2 * 4 * 5, dtype=torch.float32).reshape(400, 2, 4, 5)  # no image is symmetric
    out = augment_batch(x, torch.Generator().manual_seed(0), crop_padding=0, flip=True)
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped ^ kept).all())  # each image is either mirrored or untouched
    assert 150 < int(flipped.sum()) < 250
    assert torch.equal(augment_batch(x, crop_padding=0, flip=False), x)


def test_augment_rejects_bad_arguments():
    x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="crop_padding=4"):
        augment_batch(x, crop_padding=4)
    with pytest.raises(ValueError, match="pad_mode"):
        augment_batch(x, pad_mode="wrap")
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        augment_batch(x[0])
