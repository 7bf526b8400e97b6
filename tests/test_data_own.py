"""A researcher's own data: image folders and npz files probed, decoded once into a cache,
searched on; CIFAR-100's pickles; and every bad input as one line naming the file, exit 2, nothing stored."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.images import write_folder
from support.search import cli, run_study_inprocess

from scalesearch.data import own as filedata
from scalesearch.data.catalog import DATASETS
from scalesearch.data.loader import load_dataset
from scalesearch.spec import SpecError, parse_spec

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HAVE_FASHION = (FASHION_DIR / "train-images-idx3-ubyte").exists() or \
    (FASHION_DIR / "train-images-idx3-ubyte.gz").exists()


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test decodes into its own cache folder (and starts with empty in-process caches)."""
    monkeypatch.setenv(filedata.CACHE_ENV, str(tmp_path / "cache"))
    filedata._probe_cached.cache_clear()
    filedata._decode_cached.cache_clear()


SPEC = """study: {study}
seed: 0
dataset: {{name: {name}, path: {path}, val_size: {val}{extra}}}
train: {{epochs: 1, batch_size: 32, warmup_epochs: 0}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w}}}}
parameters: {{w: {{grid: [4, 8]}}}}
search: {{sampler: grid, resources: {{cpus: 1, gpus: 0}}}}
"""


# --------------------------------------------------------------------------------------------------------------
# Probing and decoding


def test_a_flat_folder_gives_classes_channels_and_a_seeded_carved_test_split(tmp_path):
    root = write_folder(tmp_path / "imgs", {"cat": 14, "dog": 14, "fox": 14})
    info = filedata.probe("imagefolder", root)
    assert (info.in_channels, info.num_classes, info.resolution, info.classes) == (1, 3, 12, ("cat", "dog", "fox"))
    assert (info.train_size, info.test_size, info.carved_test) == (36, 6, True)  # 42 images, 1/7 carved for test
    d = load_dataset("imagefolder", path=root, val_size=6, resolution=8)
    assert (len(d.train), len(d.val), len(d.test)) == (30, 6, 6)
    assert d.train.x.shape[1:] == (1, 8, 8) and d.num_classes == 3
    # the pixels are Pillow's: the first training image's decode at 8 px, label from its folder
    _, y, tx, ty, _ = filedata.decode("imagefolder", root, resolution=8)
    assert sorted(np.bincount(np.concatenate([y, ty])).tolist()) == [14, 14, 14]
    again = filedata.decode("imagefolder", root, resolution=8)
    assert np.array_equal(again[2], tx)  # the carved test split does not move


def test_train_and_test_subfolders_rgb_and_declared_channels(tmp_path):
    root = tmp_path / "rgb"
    write_folder(root, {"a": 5, "b": 6}, mode="RGB", sub="train")
    write_folder(root, {"a": 2, "b": 3}, mode="RGB", sub="test", seed=1)
    info = filedata.probe("imagefolder", root)
    assert (info.in_channels, info.train_size, info.test_size, info.carved_test) == (3, 11, 5, False)
    grey = filedata.decode("imagefolder", root, channels=1)
    assert grey[0].shape == (11, 1, 12, 12) and grey[4].in_channels == 1
    with Image.open(root / "train" / "a" / "000.png") as im:
        expected = np.asarray(im.convert("L"))
    assert np.array_equal(grey[0][0, 0], expected)


def test_the_cache_is_used_and_notices_a_file_overwritten_in_place(tmp_path):
    root = write_folder(tmp_path / "imgs", {"a": 7, "b": 7})
    first = filedata.decode("imagefolder", root)
    cached = list((tmp_path / "cache").glob("imagefolder-*.npz"))
    assert len(cached) == 1
    filedata._decode_cached.cache_clear()  # a new process: read from the disk cache
    assert np.array_equal(filedata.decode("imagefolder", root)[0], first[0])
    target = root / "a" / "000.png"
    Image.fromarray(np.full((12, 12), 255, np.uint8), mode="L").save(target)  # same name, new pixels
    changed = filedata.decode("imagefolder", root)
    all_x = np.concatenate([changed[0], changed[2]])
    assert (all_x == 255).all(axis=(1, 2, 3)).sum() == 1  # the new image is there
    assert len(list((tmp_path / "cache").glob("imagefolder-*.npz"))) == 2


def test_npz_plain_and_medmnist_keys(tmp_path):
    rng = np.random.default_rng(0)
    plain = tmp_path / "p.npz"
    np.savez(plain, x_train=rng.integers(0, 255, (40, 10, 10, 3), dtype=np.uint8), y_train=np.arange(40) % 4,
             x_test=rng.integers(0, 255, (12, 10, 10, 3), dtype=np.uint8), y_test=np.arange(12) % 4)
    info = filedata.probe("npz", plain)
    assert (info.in_channels, info.num_classes, info.resolution, info.train_size, info.test_size) == (3, 4, 10, 40, 12)
    d = load_dataset("npz", path=plain, val_size=8)
    assert (len(d.train), len(d.val), len(d.test)) == (32, 8, 12) and d.train.x.shape[1:] == (3, 10, 10)
    med = tmp_path / "med.npz"  # MedMNIST: NHW grey, labels [N, 1], a val split that joins the training pool
    np.savez(med, train_images=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8),
             train_labels=(np.arange(30) % 3)[:, None], val_images=rng.integers(0, 255, (6, 8, 8), dtype=np.uint8),
             val_labels=(np.arange(6) % 3)[:, None], test_images=rng.integers(0, 255, (9, 8, 8), dtype=np.uint8),
             test_labels=(np.arange(9) % 3)[:, None])
    info = filedata.probe("npz", med)
    assert (info.in_channels, info.num_classes, info.train_size, info.test_size) == (1, 3, 36, 9)
    x, y, _, ty, _ = filedata.decode("npz", med, resolution=16)
    assert x.shape == (36, 1, 16, 16) and y.tolist()[:4] == [0, 1, 2, 0] and ty.dtype == np.int64


def test_cifar100_pickles(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 30), ("test", 10)):
        batch = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
                 b"fine_labels": [int(v) for v in rng.integers(0, 100, n)], b"coarse_labels": [0] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    d = load_dataset("cifar100", data_dir=tmp_path, val_size=5)
    assert (len(d.train), len(d.val), len(d.test), d.num_classes) == (25, 5, 10, 100)


def test_spec_validate_prints_the_files_facts(tmp_path):
    root = write_folder(tmp_path / "imgs", {"cat": 14, "dog": 14})
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(study="v", name="imagefolder", path=root, val=4, extra=""))
    r = cli("validate", str(spec))
    assert r.returncode == 0, r.stderr
    assert f"data         {root}: 24 training-pool images -> train 20, val 4; test 4; 1 channel; 2 classes: cat, dog" \
        in r.stdout
    assert "1x12x12, 2 classes" in r.stdout
    s = parse_spec(spec.read_text())
    assert s.dataset.classes == ("cat", "dog") and s.dataset.path == str(root)
    r = cli("datasets")
    assert r.returncode == 0 and all(f"\n{k}" in "\n" + r.stdout for k in ("imagefolder", "npz", "cifar100"))


# --------------------------------------------------------------------------------------------------------------
# Searches


@pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST idx files not installed in {FASHION_DIR}")
def test_a_real_search_on_fashion_mnist_images_saved_as_png(tmp_path, ray_session):
    from scalesearch.data.sources import read_fashion_mnist
    from scalesearch.results import load_trials

    x, y, _, _ = read_fashion_mnist(None)
    root = tmp_path / "fashion_png"
    names = [n.replace("/", "_") for n in DATASETS["fashion-mnist"].classes]
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(y.numpy() == c)[:30]):
            Image.fromarray(x[i, 0].numpy(), mode="L").save(root / name / f"{j:02d}.png")
    text = SPEC.format(study="png", name="imagefolder", path=root, val=60, extra=", resolution: 16")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run_study_inprocess(text, db, ray_session)
    t = load_trials(db, "png")
    assert t["state"].tolist() == ["COMPLETE", "COMPLETE"] and t["val_acc"].notna().all()
    spec = parse_spec(text)
    assert spec.dataset.classes == tuple(sorted(names)) and spec.dataset.in_channels == 1
    from scalesearch.store import Reader

    with Reader(db) as reader:  # the class names (the folder names, in label order) are stored with the study
        assert reader.study("png").classes == tuple(sorted(names))
    # the pixels trained on are Fashion-MNIST's: the decoded folder at 28 px is the idx data, class by class
    dx, _, tx, _, _ = filedata.decode("imagefolder", root)
    got = sorted(a.tobytes() for a in np.concatenate([dx, tx])[:, 0])
    want = sorted(x[i, 0].numpy().tobytes() for c in range(10) for i in np.flatnonzero(y.numpy() == c)[:30])
    assert got == want


def test_a_search_on_an_npz_file(tmp_path, ray_session):
    from scalesearch.results import load_trials

    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    y = np.arange(120) % 3
    x = np.clip(rng.normal(60 + 60 * y[:, None, None], 25, (120, 12, 12)), 0, 255).astype(np.uint8)
    np.savez(path, x_train=x[:96], y_train=y[:96], x_test=x[96:], y_test=y[96:])
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run_study_inprocess(SPEC.format(study="npz", name="npz", path=path, val=24, extra=""), db, ray_session)
    t = load_trials(db, "npz")
    assert t["state"].tolist() == ["COMPLETE", "COMPLETE"]


# --------------------------------------------------------------------------------------------------------------
# Bad input: one line naming the file, exit 2, nothing stored


def _bad_cases(tmp: Path) -> dict[str, tuple[str, str, str]]:
    """case -> (dataset name, path, the text the one-line error must hold)."""
    cases = {}
    root = write_folder(tmp / "undecodable", {"a": 3, "b": 3})
    (root / "a" / "broken.png").write_bytes(b"not a png at all")
    cases["undecodable"] = ("imagefolder", str(root), f"{root / 'a' / 'broken.png'}: not a decodable image")
    root = write_folder(tmp / "emptyclass", {"a": 3})
    (root / "b").mkdir()
    cases["empty class"] = ("imagefolder", str(root), f"{root / 'b'}: class folder with no images")
    root = write_folder(tmp / "mixed", {"a": 3})
    write_folder(root, {"b": 3}, size=10)
    cases["mixed sizes"] = ("imagefolder", str(root), "images of sizes 10x10, 12x12 and no dataset.resolution")
    cases["no such path"] = ("imagefolder", str(tmp / "nowhere"), f"{tmp / 'nowhere'}: no such folder")
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (20, 8, 8), dtype=np.uint8)
    p = tmp / "negative.npz"
    np.savez(p, x_train=img, y_train=np.r_[np.arange(19) % 3, -1], x_test=img[:5], y_test=np.arange(5) % 3)
    cases["label out of range"] = ("npz", str(p), f"{p}: y_train holds label -1")
    p = tmp / "unseen.npz"
    np.savez(p, x_train=img, y_train=np.arange(20) % 3, x_test=img[:5], y_test=np.array([0, 1, 2, 7, 1]))
    cases["test label unseen"] = ("npz", str(p), f"{p}: y_test holds labels [7] never seen in y_train")
    p = tmp / "keys.npz"
    np.savez(p, images=img, labels=np.arange(20) % 3)
    cases["missing keys"] = ("npz", str(p), f"{p}: missing keys; expected x_train, y_train, x_test, y_test")
    p = tmp / "lengths.npz"
    np.savez(p, x_train=img, y_train=np.arange(19) % 3, x_test=img[:5], y_test=np.arange(5) % 3)
    cases["mismatched lengths"] = ("npz", str(p), f"{p}: x_train has 20 images but y_train has 19 labels")
    return cases


CASE_NAMES = ["undecodable", "empty class", "mixed sizes", "no such path", "label out of range", "test label unseen",
              "missing keys", "mismatched lengths"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_each_bad_input_is_one_line_exit_2_and_nothing_stored(tmp_path, case):
    name, path, expected = _bad_cases(tmp_path)[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.format(study="bad", name=name, path=path, val=2, extra=""))
    db = tmp_path / "r.db"
    for command in (("validate", str(spec)), ("run", str(spec), "--db", f"sqlite:///{db}")):
        r = cli(*command)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (case, lines)
        assert f"{spec}:3:" in lines[0]  # the spec's line of the dataset path (or section)
        assert not db.exists()
    with pytest.raises(SpecError):
        parse_spec(spec.read_text(), str(spec))


def test_an_image_that_fails_only_when_decoded_stops_run_before_anything_is_stored(tmp_path):
    root = write_folder(tmp_path / "imgs", {"a": 7, "b": 7})
    whole = (root / "a" / "000.png").read_bytes()
    (root / "a" / "000.png").write_bytes(whole[:len(whole) // 2])  # a valid header, truncated pixel data
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC.format(study="trunc", name="imagefolder", path=root, val=2, extra=""))
    db = tmp_path / "r.db"
    r = cli("run", str(spec), "--db", f"sqlite:///{db}")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{root / 'a' / '000.png'}: not a decodable image" in lines[0]
    assert not db.exists()
