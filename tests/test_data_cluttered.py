"""Tests of the `cluttered` dataset kind (scalesearch.data.cluttered): parameters, determinism, the trial key, bad
parameters, the decode cache, clutter from the same split only, items inside the canvas, and a real training.

The builder builds whole splits, so every test that loads data uses a small source folder written here (the first
items of the installed Fashion-MNIST where it is installed, else seeded noise) and its own cache folder."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scalesearch.data import cluttered
from scalesearch.data.catalog import CLUTTERED_DEFAULTS, DATASETS
from scalesearch.data.cluttered import build_split, cluttered_params, layout, make_cluttered
from scalesearch.data.loader import load_dataset
from scalesearch.data.own import CACHE_ENV
from scalesearch.data.sources import ENV_DATA, read_fashion_mnist
from scalesearch.spec import SpecError, format_spec, parse_spec
from scalesearch.util.checks import FieldError

ROOT = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HAVE_FASHION = (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file()
SMALL = {"canvas": 36, "scale": [0.6, 1.2]}  # a small canvas keeps every build in milliseconds
SPEC = """# a cluttered task on a few hundred images
study: clut
dataset: {{name: cluttered, train_size: 200, val_size: 100, test_size: 50{extra}}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 8}}}}
train: {{epochs: 1, batch_size: 50}}
search: {{sampler: grid}}
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Every test builds into its own cache and reads no data folder it did not choose."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(ENV_DATA, raising=False)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_source(folder: Path, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                  test_y: np.ndarray) -> Path:
    """A Fashion-MNIST folder of these items (x [N, 28, 28])."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, a in (("train-images-idx3-ubyte", train_x), ("train-labels-idx1-ubyte", train_y),
                    ("t10k-images-idx3-ubyte", test_x), ("t10k-labels-idx1-ubyte", test_y)):
        _write_idx(folder / stem, a)
    return folder


def _small_source(folder: Path, n_train: int = 400, n_test: int = 100) -> Path:
    """The first items of the installed Fashion-MNIST (seeded noise where it is not installed)."""
    if HAVE_FASHION:
        tx, ty, sx, sy = (t.numpy() for t in read_fashion_mnist(FASHION_DIR))
        return _write_source(folder, tx[:n_train, 0], ty[:n_train], sx[:n_test, 0], sy[:n_test])
    rng = np.random.default_rng(0)
    return _write_source(folder, rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10,
                         rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test) % 10)


def _items(n: int = 64) -> torch.Tensor:
    """n source items of one split: real Fashion-MNIST test items where installed."""
    if HAVE_FASHION:
        return read_fashion_mnist(FASHION_DIR)[2][:n]
    return torch.from_numpy(np.random.default_rng(1).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------------------------
# Parameters


def test_defaults_are_the_row_and_canonical() -> None:
    p = cluttered_params({})
    assert p == {"source": "fashion-mnist", "canvas": 56, "scale": (0.6, 1.4), "clutter": 4, "clutter_size": 8,
                 "build_seed": 0}
    assert list(p) == list(CLUTTERED_DEFAULTS)
    row = DATASETS["cluttered"]
    assert (row.in_channels, row.num_classes, row.resolution, row.train_size, row.test_size) == (1, 10, 56, 60000,
                                                                                                  10000)
    assert cluttered_params({"scale": [1, 2], "canvas": 60})["scale"] == (1.0, 2.0)  # floats: one key per value


@pytest.mark.parametrize("options, field, words", [
    ({"canvas": 20}, "canvas", "smaller than the 28 px items"),
    ({"canvas": 30}, "canvas", "larger than the canvas of 30 px"),  # the default scale's 39 px items
    ({"scale": [1.4, 0.6]}, "scale", "inverted"),
    ({"scale": [0, 1.2]}, "scale", "got [0, 1.2]"),
    ({"scale": [-0.5, 1.0]}, "scale", "got [-0.5, 1.0]"),
    ({"scale": 1.0}, "scale", "got 1.0"),
    ({"canvas": 40, "scale": [0.6, 1.6]}, "scale", "45 px items, larger than the canvas of 40 px"),
    ({"clutter_size": 40}, "clutter_size", "larger than the 28 px items"),
    ({"clutter_size": 0}, "clutter_size", "pieces of 0 px"),
    ({"clutter": -1}, "clutter", "got -1"),
    ({"source": "mnist"}, "source", "got 'mnist'"),
    ({"build_seed": -1}, "build_seed", "got -1"),
    ({"canvass": 56}, "canvass", "unknown option"),
])
def test_bad_parameters_are_one_line_naming_the_field(options, field, words) -> None:
    with pytest.raises(FieldError) as e:
        cluttered_params(options)
    assert e.value.field == field and words in str(e.value) and "expected" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(FieldError, match=field):  # load_dataset says the same before reading any file
        load_dataset("cluttered", **options)


@pytest.mark.parametrize("extra, field, words", [
    (", canvas: 20", "dataset.canvas", "smaller than the 28 px items of fashion-mnist; expected an integer in"),
    (", scale: [1.4, 0.6]", "dataset.scale", "inverted; expected [low, high]"),
    (", scale: [0, 1.2]", "dataset.scale[0]", "out of range; expected a number > 0"),
    (", clutter_size: 40", "dataset.clutter_size", "larger than the 28 px items they are cut from; expected"),
    (", source: mnist", "dataset.source", "unknown value 'mnist'; expected one of fashion-mnist"),
    (", canvas: 40, scale: [0.6, 1.6]", "dataset.scale", "larger than the canvas of 40 px; expected a largest"),
])
def test_bad_parameters_in_a_spec_are_located(extra, field, words) -> None:
    text = SPEC.format(extra=extra)
    with pytest.raises(SpecError) as e:
        parse_spec(text, "c.yaml")
    assert e.value.line == 3 and e.value.field == field and words in e.value.message, str(e.value)


def test_options_of_cluttered_are_refused_elsewhere() -> None:
    with pytest.raises(SpecError, match="'canvas' applies to the cluttered dataset only"):
        parse_spec(SPEC.replace("cluttered", "fashion-mnist").format(extra=", canvas: 56"), "c.yaml")
    with pytest.raises(ValueError, match="canvas"):
        load_dataset("synthetic", canvas=56)


def test_a_bad_spec_is_one_line_exit_2(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text(SPEC.format(extra=", scale: [1.4, 0.6]"))
    r = _cli("validate", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [("scalesearch: error: bad.yaml:3:82: dataset.scale: the range [1.4, 0.6] is "
                                      "inverted; expected [low, high], two numbers > 0 with low <= high")]


# ---------------------------------------------------------------------------------------------------------------
# The spec and the key


def test_spec_holds_every_parameter_and_round_trips() -> None:
    s = parse_spec(SPEC.format(extra=", canvas: 40, scale: [0.5, 1], clutter: 6"), "c.yaml")
    assert s.dataset.options == (("source", "fashion-mnist"), ("canvas", 40), ("scale", (0.5, 1.0)), ("clutter", 6),
                                 ("clutter_size", 8), ("build_seed", 0))
    assert (s.dataset.input_resolution, s.dataset.in_channels, s.dataset.num_classes) == (40, 1, 10)
    assert s.dataset.classes[0] == "T-shirt/top"
    text = format_spec(s)
    assert "scale: [0.5, 1.0]" in text
    again = parse_spec(text, "formatted.yaml")
    assert again == s and format_spec(again) == text
    # no option written is the defaults written out: one dataset, one spec, one key
    assert parse_spec(SPEC.format(extra=""), "a.yaml").dataset == parse_spec(
        SPEC.format(extra=", source: fashion-mnist, canvas: 56, scale: [0.6, 1.4], clutter: 4, clutter_size: 8, "
                          "build_seed: 0"), "b.yaml").dataset


def _key(tmp_path: Path, extra: str) -> str:
    from scalesearch.trial.standalone import standalone_job

    f = tmp_path / f"s{abs(hash(extra))}.yaml"
    f.write_text(SPEC.format(extra=extra))
    return standalone_job(str(f)).job.key


@pytest.mark.parametrize("extra", [", source: fashion-mnist", ", canvas: 56", ", scale: [0.6, 1.4]", ", clutter: 4",
                                   ", clutter_size: 8", ", build_seed: 0"])
def test_each_parameter_is_in_the_key(tmp_path, extra) -> None:
    base = _key(tmp_path, "")
    assert _key(tmp_path, extra) == base  # a default written out is the same trial
    changed = {", canvas: 56": ", canvas: 64", ", scale: [0.6, 1.4]": ", scale: [0.6, 1.3]",
               ", clutter: 4": ", clutter: 5", ", clutter_size: 8": ", clutter_size: 6",
               ", build_seed: 0": ", build_seed: 1"}.get(extra)
    if changed is not None:  # fashion-mnist is the only source today
        assert _key(tmp_path, changed) != base
    assert _key(tmp_path, ", resolution: 40") != base  # a downsampled canvas is another trial too


def test_the_jobs_data_holds_the_construction(tmp_path) -> None:
    from scalesearch.trial.standalone import standalone_job

    f = tmp_path / "s.yaml"
    f.write_text(SPEC.format(extra=", canvas: 40"))
    data = standalone_job(str(f)).job.data
    assert {k: data[k] for k in CLUTTERED_DEFAULTS} == {"source": "fashion-mnist", "canvas": 40, "scale": [0.6, 1.4],
                                                        "clutter": 4, "clutter_size": 8, "build_seed": 0}


# ---------------------------------------------------------------------------------------------------------------
# The construction


def test_same_parameters_give_byte_identical_images_and_others_differ() -> None:
    items = _items()
    a, la = build_split(items, "train", SMALL)
    b, lb = build_split(items.clone(), "train", dict(SMALL))
    assert a.dtype == torch.uint8 and a.shape == (64, 1, 36, 36)
    assert a.numpy().tobytes() == b.numpy().tobytes()
    assert all(np.array_equal(getattr(la, f), getattr(lb, f)) for f in la.__dataclass_fields__)
    for other in ({"build_seed": 1}, {"clutter": 2}, {"clutter_size": 6}, {"scale": [0.7, 1.2]}):
        c, _ = build_split(items, "train", {**SMALL, **other})
        assert not torch.equal(a, c), other
    assert build_split(items, "train", {**SMALL, "canvas": 40})[0].shape == (64, 1, 40, 40)
    assert not torch.equal(a, build_split(items, "test", SMALL)[0])  # each split has its own draws


def test_item_i_does_not_depend_on_which_items_are_picked(tmp_path) -> None:
    src = _small_source(tmp_path / "src")
    full = make_cluttered(src, SMALL)
    small = load_dataset("cluttered", data_dir=src, train_size=50, val_size=100, test_size=20, **SMALL)
    big = load_dataset("cluttered", data_dir=src, train_size=250, val_size=100, test_size=60, **SMALL)
    assert torch.equal(small.val.x, big.val.x)
    rows = {bytes(x.numpy().tobytes()) for x in full[0]}
    assert all(bytes(x.numpy().tobytes()) in rows for x in small.train.x)
    assert {bytes(x.numpy().tobytes()) for x in small.train.x} <= {bytes(x.numpy().tobytes()) for x in big.train.x}


def test_items_and_clutter_lie_inside_the_canvas_at_their_scale() -> None:
    p = cluttered_params({"canvas": 40, "scale": [0.5, 1.4], "clutter": 6, "clutter_size": 10})
    lay = layout(5000, "train", p)
    assert lay.size.min() >= round(28 * 0.5) and lay.size.max() <= round(28 * 1.4)
    assert lay.size.min() < 16 and lay.size.max() > 37  # the range is used, not one scale
    assert (lay.y >= 0).all() and (lay.x >= 0).all()
    assert (lay.y + lay.size <= 40).all() and (lay.x + lay.size <= 40).all()
    assert (lay.at_y + 10 <= 40).all() and (lay.at_x + 10 <= 40).all() and (lay.crop_y + 10 <= 28).all()
    assert lay.y.min() == 0 and (lay.y + lay.size).max() == 40  # positions reach both borders
    # with no clutter, an image's ink lies in its item's box only
    items = _items()
    x, lay = build_split(items, "test", {"canvas": 40, "scale": [0.5, 1.4], "clutter": 0})
    for i in range(len(items)):
        box = torch.zeros(40, 40, dtype=torch.bool)
        box[lay.y[i]:lay.y[i] + lay.size[i], lay.x[i]:lay.x[i] + lay.size[i]] = True
        assert not x[i, 0][~box].any() and x[i, 0][box].any()


def test_an_image_is_its_clutter_then_its_item_added_with_saturation() -> None:
    """The provenance explains every pixel: a slow reference built from the layout gives the same bytes."""
    import torch.nn.functional as F

    items = _items(40)
    p = {"canvas": 36, "scale": [0.6, 1.2], "clutter": 5, "clutter_size": 8}
    x, lay = build_split(items, "train", p)
    for i in range(len(items)):
        ref = np.zeros((36, 36), dtype=np.int64)
        for j in range(5):
            s, cy, cx, ay, ax = (int(a[i, j]) for a in (lay.source, lay.crop_y, lay.crop_x, lay.at_y, lay.at_x))
            ref[ay:ay + 8, ax:ax + 8] += items[s, 0, cy:cy + 8, cx:cx + 8].numpy()
        n = int(lay.size[i])
        item = items[i:i + 1].float()
        if n != 28:
            item = F.interpolate(item, size=(n, n), mode="bilinear", align_corners=False, antialias=True).round()
        ref[lay.y[i]:lay.y[i] + n, lay.x[i]:lay.x[i] + n] += item[0, 0].clamp(0, 255).numpy().astype(np.int64)
        assert np.array_equal(np.minimum(ref, 255), x[i, 0].numpy()), i


def test_clutter_comes_only_from_other_items_of_the_same_split(tmp_path) -> None:
    # by provenance: every source is another index of the split
    lay = layout(3000, "test", cluttered_params({"clutter": 8}))
    assert lay.source.min() >= 0 and lay.source.max() < 3000
    assert not (lay.source == np.arange(3000)[:, None]).any()
    assert len(np.unique(lay.source)) > 2500  # spread over the split
    # by construction: train items are all 7, test items all 200; a test image holds no 7 and a train image no 200
    src = _write_source(tmp_path / "src", np.full((300, 28, 28), 7), np.arange(300) % 10, np.full((60, 28, 28), 200),
                        np.arange(60) % 10)
    d = load_dataset("cluttered", data_dir=src, val_size=100, **SMALL)
    assert set(d.test.x.unique().tolist()) <= {0, 200, 255}
    assert set(torch.cat([d.train.x, d.val.x]).unique().tolist()) <= {0, 7, 14, 21, 28, 35}
    assert (d.test.x == 200).any() and (d.train.x == 14).any()  # clutter overlaps items: the sums are there


def test_clutter_needs_another_item() -> None:
    with pytest.raises(ValueError, match="at least 2 items, or clutter: 0"):
        layout(1, "train", cluttered_params({}))
    assert layout(1, "train", cluttered_params({"clutter": 0})).source.shape == (1, 0)


# ---------------------------------------------------------------------------------------------------------------
# Loading: native resolution, resolution, the cache


def test_the_native_resolution_is_the_canvas_and_resolution_downsamples(tmp_path) -> None:
    src = _small_source(tmp_path / "src")
    d = load_dataset("cluttered", data_dir=src, train_size=100, val_size=100, test_size=20, **SMALL)
    assert (d.resolution, d.in_channels, d.num_classes, tuple(d.train.x.shape)) == (36, 1, 10, (100, 1, 36, 36))
    r = load_dataset("cluttered", data_dir=src, train_size=100, val_size=100, test_size=20, resolution=18, **SMALL)
    assert r.resolution == 18 and tuple(r.train.x.shape) == (100, 1, 18, 18)
    assert torch.equal(r.train.y, d.train.y)


def test_built_once_into_the_decode_cache(tmp_path) -> None:
    src = _small_source(tmp_path / "src")
    cache = tmp_path / "cache"
    first = make_cluttered(src, SMALL)
    files = sorted(cache.glob("cluttered-*.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    second = make_cluttered(src, SMALL)
    assert files[0].stat().st_mtime_ns == stamp and sorted(cache.glob("*")) == files  # read, not rebuilt
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    # the second load reads the file: replace its images and the load returns what the file holds
    with np.load(files[0]) as z:
        held = {k: z[k] for k in z.files}
    np.savez(files[0], **{**held, "train_x": np.zeros_like(held["train_x"])})
    assert not make_cluttered(src, SMALL)[0].any()
    # other parameters are another file; a damaged file is built again
    make_cluttered(src, {**SMALL, "build_seed": 3})
    assert len(list(cache.glob("cluttered-*.npz"))) == 2
    files[0].write_bytes(b"not an npz")
    assert torch.equal(make_cluttered(src, SMALL)[0], first[0])
    # a source file changed in place is noticed (its size and mtime are in the key)
    os.utime(src / "train-images-idx3-ubyte.gz", ns=(stamp + 10**9, stamp + 10**9))
    make_cluttered(src, SMALL)
    assert len(list(cache.glob("cluttered-*.npz"))) == 3


# ---------------------------------------------------------------------------------------------------------------
# The command line


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from scalesearch.cli import main; sys.exit(main())"
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    e.pop("SCALESEARCH_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=120, check=False)


def test_datasets_and_validate_describe_it(tmp_path) -> None:
    r = _cli("datasets", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(i for i, s in enumerate(r.stdout.splitlines()) if s.startswith("cluttered "))
    text = "\n".join(r.stdout.splitlines()[line:line + 2])
    assert "1x56x56, 10 classes, 60,000 train / 10,000 test" in text
    assert "scale [0.6, 1.4], clutter 4, clutter_size 8, build_seed 0" in text
    (tmp_path / "c.yaml").write_text(SPEC.format(extra=", canvas: 48, scale: [0.5, 1.5]"))
    r = _cli("validate", "c.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on cluttered 1x48x48, 10 classes" in r.stdout
    assert ("data         fashion-mnist items on a 48 px canvas at scale 0.5..1.5 with 4 clutter pieces of 8 px, "
            "build_seed 0: 60000 training-pool images -> train 200, val 100; test 50") in r.stdout


def test_a_tiny_real_training_through_scalesearch_train(tmp_path) -> None:
    src = _small_source(tmp_path / "src")
    cache = tmp_path / "cli-cache"
    (tmp_path / "c.yaml").write_text(SPEC.format(extra=", canvas: 32, scale: [0.6, 1.1]"))
    # one thread, as a search's trial worker has: a net this small gains nothing from a second one, and on a busy
    # machine the second one's waits cost seconds
    r = _cli("train", "c.yaml", "--json", cwd=tmp_path, env={ENV_DATA: str(src), CACHE_ENV: str(cache),
                                                              "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["dataset"]["name"] == "cluttered" and out["dataset"]["train"] == 200
    assert out["dataset"]["resolution"] == 32
    assert len(list(cache.glob("cluttered-*.npz"))) == 1  # built once, into the cache it was given


def test_the_module_is_documented() -> None:
    doc = cluttered.__doc__ or ""
    assert "Mnih" in doc and "Jaderberg" in doc and "same" in doc
