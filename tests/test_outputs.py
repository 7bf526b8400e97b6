"""Where scalesearch writes: only into a folder it made and marked (`.scalesearch`), or one the user named.

The new user's case: an image folder DIR/flowers, `--db sqlite:///DIR/runs.db` and a study named `flowers`; the
study's default output folder (kept weights, `checkpoints/`) is DIR/flowers, the images' folder. `run` refuses it in
one line, exit 2, before the database is opened, and the folder is left byte for byte as it was. A folder
scalesearch creates gets the mark, and later runs, resumes and reports reuse it; `report`, `plot` and `rediscover`
refuse an unmarked default folder the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.results_db import write_study
from support.search import cli

from scalesearch.errors import ScalesearchError
from scalesearch.util.files import OUTPUT_MARK, OutputFolderError, check_output_folder, output_folder


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (folders as None, files as their bytes)."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def one_line_error(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("scalesearch: error: "), \
        (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return lines[0]


# --------------------------------------------------------------------------------------------------------------
# The rule


def test_the_rule_absent_is_made_and_marked_marked_is_reused_unmarked_is_refused(tmp_path):
    made = output_folder(tmp_path / "results" / "s")
    assert (made / OUTPUT_MARK).read_text().count("\n") == 1 and output_folder(made) == made
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder too: it may be one the user just made for their own files
    with pytest.raises(OutputFolderError, match=rf"^{empty}: the default output folder exists and is not "
                                                rf"scalesearch's \(no \.scalesearch file in it\)"):
        output_folder(empty, remedy="pass --out DIR")
    assert list(empty.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file; expected a folder"):
        check_output_folder(tmp_path / "f")
    assert output_folder(empty, named=True) == empty and list(empty.iterdir()) == []  # named: used as it is
    assert (output_folder(tmp_path / "new", named=True) / OUTPUT_MARK).is_file()  # made: marked
    assert isinstance(OutputFolderError("x"), (ScalesearchError, OSError))


# --------------------------------------------------------------------------------------------------------------
# run: the new user's image folder


FLOWERS = """study: flowers
seed: 0
dataset: {{name: imagefolder, path: {path}, val_size: 4}}
train: {{epochs: 1, batch_size: 8, warmup_epochs: 0}}
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4}}}}
search: {{sampler: grid, resources: {{cpus: 1, gpus: 0}}}}
"""


def test_run_refuses_the_users_image_folder_named_like_the_study_and_leaves_it_untouched(tmp_path):
    flowers = tmp_path / "flowers"
    rng = np.random.default_rng(0)
    for c in ("daisy", "rose"):
        (flowers / c).mkdir(parents=True)
        for j in range(8):
            Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8), mode="L").save(flowers / c / f"{j}.png")
    before = snapshot(flowers)
    spec = tmp_path / "flowers.yaml"
    spec.write_text(FLOWERS.format(path=flowers))
    db = tmp_path / "runs.db"
    env = {**os.environ, "SCALESEARCH_CACHE": str(tmp_path / "cache")}
    r = cli("run", str(spec), "--db", f"sqlite:///{db}", env=env, timeout=120)
    line = one_line_error(r)
    assert f"{flowers}: the default output folder exists and is not scalesearch's (no {OUTPUT_MARK} file" in line
    assert "--study" in line and "--db" in line
    assert snapshot(flowers) == before  # byte for byte: no checkpoints/, no weights, no mark
    assert not db.exists()  # refused before the database was opened


# --------------------------------------------------------------------------------------------------------------
# A fresh folder is made and marked, and reused


def test_a_fresh_default_folder_is_marked_and_reused_by_the_next_run_resume_and_report(tmp_path, monkeypatch,
                                                                                      ray_session):
    import scalesearch
    from scalesearch.results.report import write_report

    spec = {"study": "tiny_out", "seed": 0,
            "dataset": {"name": "synthetic", "num_classes": 4, "in_channels": 1, "image_size": 8, "num_train": 200,
                        "num_test": 50, "val_size": 50},
            "train": {"epochs": 1, "batch_size": 50, "warmup_epochs": 0},
            "architecture": {"family": "cifar_resnet", "args": {"depth": 8, "width": 4}},
            "search": {"sampler": "grid", "keep": "all", "resources": {"cpus": 1, "gpus": 0}}}
    db = f"sqlite:///{tmp_path}/r.db"
    out = scalesearch.run(spec, db=db, progress=False)
    assert out.state == "finished" and out.counts.completed == 1
    folder = tmp_path / "tiny_out"
    assert (folder / OUTPUT_MARK).is_file() and (folder / "checkpoints" / "trial_0.pt").is_file()
    assert scalesearch.run(spec, db=db, progress=False).state == "finished"  # reused (nothing to train)
    monkeypatch.chdir(tmp_path)
    first = write_report(db, "tiny_out")
    assert first.folder == Path("results/tiny_out") and (first.folder / OUTPUT_MARK).is_file()
    # the mark gone (e.g. a folder from before the mark existed): resume and report refuse it, nothing written
    (folder / OUTPUT_MARK).unlink()
    (first.folder / OUTPUT_MARK).unlink()
    before = snapshot(folder), snapshot(first.folder)
    with pytest.raises(OutputFolderError, match=rf"^{folder}: the default output folder exists"):
        scalesearch.resume("tiny_out", db=db, progress=False)
    with pytest.raises(OutputFolderError, match="^results/tiny_out: .* write the report elsewhere with --out DIR"):
        write_report(db, "tiny_out")
    assert (snapshot(folder), snapshot(first.folder)) == before


# --------------------------------------------------------------------------------------------------------------
# report, plot, rediscover


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('outputs') / 'r.db'}"
    write_study(url, "alpha", repeats=1, fail=None)
    return url


@pytest.mark.parametrize("command, remedy", [
    (["report", "alpha"], "write the report elsewhere with --out DIR"),
    (["plot", "alpha"], "write the figure elsewhere with --out FILE"),
])
def test_report_and_plot_refuse_an_unmarked_default_folder(db, tmp_path, command, remedy):
    theirs = tmp_path / "results" / "alpha"
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    line = one_line_error(cli(*command, "--db", db, cwd=tmp_path, timeout=120))
    assert "results/alpha: the default output folder exists and is not scalesearch's" in line and remedy in line
    assert snapshot(tmp_path) == before


def test_rediscover_refuses_an_unmarked_study_folder_before_writing(tmp_path):
    from scalesearch.rediscover import analyse

    theirs = tmp_path / "degradation_look2"
    theirs.mkdir()
    with pytest.raises(OutputFolderError, match=rf"^{theirs}: .* write elsewhere with --out DIR"):
        analyse("degradation-looks", None, out_root=tmp_path, raw=True)
    assert [p.name for p in tmp_path.iterdir()] == ["degradation_look2"] and list(theirs.iterdir()) == []


def test_the_committed_results_folders_are_marked():
    """`report` and `rediscover` write into results/<study>/ by default: each committed one carries the mark."""
    root = Path(__file__).resolve().parent.parent / "results"
    folders = [d for d in root.iterdir() if d.is_dir() and d.name not in ("withdrawn", "benchmarks")]
    assert folders and [d.name for d in folders if not (d / OUTPUT_MARK).is_file()] == []
