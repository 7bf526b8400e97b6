"""An image too large to decode safely (a decompression bomb: a few KB on disk, 400 megapixels once decoded) in
an image folder: refused in one line naming the file and the pixel limit, exit 2, when probed (validate, run)
and when decoded; nothing is stored or cached. The rule is one number, `filedata.MAX_IMAGE_PIXELS` (Pillow's
default limit, where Pillow only warns): above it an image is refused, whether Pillow warns or refuses."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.search import cli

from scalesearch.data import own as filedata
from scalesearch.errors import InputError

LIMIT = "expected at most 89,478,485 pixels"

SPEC = """study: bomb
seed: 0
dataset: {{name: imagefolder, path: {path}, val_size: 2, resolution: 8}}
train: {{epochs: 1, batch_size: 32, warmup_epochs: 0}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w}}}}
parameters: {{w: {{grid: [4, 8]}}}}
search: {{sampler: grid, resources: {{cpus: 1, gpus: 0}}}}
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test caches into its own folder (its files are its own too, so no in-process cache entry is shared)."""
    monkeypatch.setenv(filedata.CACHE_ENV, str(tmp_path / "cache"))


def folder(root: Path, n: int = 4) -> Path:
    """Two class folders `a` and `b` of n small grey PNGs each."""
    for i, name in enumerate("ab"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(n):
            Image.fromarray(np.full((12, 12), 40 * i + 10 * j, np.uint8), mode="L").save(root / name / f"{j}.png")
    return root


def one_colour_png(path: Path, side: int) -> Path:
    """A side x side 1-bit PNG of one colour: a few KB on disk, side**2 pixels decoded."""
    Image.new("1", (side, side)).save(path)
    return path


@pytest.mark.parametrize("side", [9460, 20000], ids=["warned-by-pillow", "refused-by-pillow"])
def test_probe_refuses_an_image_over_the_pixel_limit_in_one_line(tmp_path, side):
    root = folder(tmp_path / "imgs")
    big = one_colour_png(root / "a" / "big.png", side)
    assert big.stat().st_size < 64_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning is not let through either
        with pytest.raises(InputError) as e:
            filedata.probe("imagefolder", root, resolution=8)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{big}: image of ") and LIMIT in msg, msg
    assert f"{side * side:,} pixels" in msg, msg
    assert not (tmp_path / "cache").exists()  # nothing cached for a folder that was refused


def test_an_image_at_the_pixel_limit_is_accepted(tmp_path):
    root = folder(tmp_path / "imgs")
    one_colour_png(root / "a" / "big.png", 9459)  # 9459**2 = 89,472,681 pixels, just under the limit
    assert 9459 ** 2 <= filedata.MAX_IMAGE_PIXELS < 9460 ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = filedata.probe("imagefolder", root, resolution=8)
    assert (info.num_classes, info.resolution) == (2, 8)


def test_decode_refuses_an_oversized_image_swapped_in_after_the_probe(tmp_path):
    """A file replaced by a decompression bomb of the same size and modification time: the probe is served from
    its cache, and decoding refuses the image in one line."""
    root = folder(tmp_path / "imgs")
    bomb = one_colour_png(tmp_path / "bomb.png", 20000).read_bytes()
    target = root / "a" / "0.png"
    small = target.read_bytes()
    target.write_bytes(small + bytes(len(bomb) - len(small)))  # padded to the bomb's size (Pillow stops at IEND)
    info = filedata.probe("imagefolder", root, resolution=8)
    assert info.train_size + info.test_size == 8
    st = target.stat()
    target.write_bytes(bomb)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert filedata.probe("imagefolder", root, resolution=8) == info  # same stamp: the cached probe
    with pytest.raises(InputError) as e:
        filedata.decode("imagefolder", root, resolution=8)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{target}: image of 400,000,000 pixels") and LIMIT in msg, msg


def test_validate_and_run_of_a_folder_with_an_oversized_image_are_one_line_exit_2(tmp_path):
    root = folder(tmp_path / "imgs")
    big = one_colour_png(root / "b" / "big.png", 20000)
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(path=root))
    db, cache = tmp_path / "r.db", tmp_path / "cli-cache"
    env = {**os.environ, filedata.CACHE_ENV: str(cache)}
    for command in (("validate", str(spec)), ("run", str(spec), "--db", f"sqlite:///{db}")):
        r = cli(*command, env=env, timeout=60)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert f"{spec}:3:" in lines[0] and f"{big}: image of 400,000,000 pixels; {LIMIT}" in lines[0], lines
        assert "Traceback" not in r.stderr and "trial" not in r.stdout.lower()
        assert not db.exists() and not cache.exists()  # nothing stored, nothing cached
