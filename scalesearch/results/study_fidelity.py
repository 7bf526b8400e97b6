"""`study_fidelity`: does a short run rank a study's configurations as the full budget does? What
`scalesearch fidelity STUDY` prints and draws.

It reads the study's trials and per-epoch metrics read-only, ranks them with
`scalesearch.analysis.fidelity.rank_fidelity` (the definitions are there), and draws `plot.fidelity_figure.plot_fidelity`
into results/<study>/fidelity.png (a folder scalesearch made, `util.files.output_folder`) or the file the user names.
The metric is the study's first objective unless another is asked for; it must be recorded each epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.analysis.fidelity import (
    DEFAULT_BOOT,
    DEFAULT_TOL,
    DEFAULT_TOP_K,
    MIN_CONFIGS,
    Fidelity,
    epoch_rows,
    rank_fidelity,
)
from scalesearch.errors import InputError
from scalesearch.util.files import check_output_folder, output_folder
from scalesearch.results.load import load_epochs, load_trials, open_reader, study_objectives

if TYPE_CHECKING:
    from scalesearch.results.load import DB

__all__ = ["EPOCH_METRICS", "default_fidelity_out", "study_fidelity"]

EPOCH_METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")  # what every epoch records
_REMEDY = "write the figure elsewhere with --out FILE"


def default_fidelity_out(study: str) -> Path:
    """results/<study>/fidelity.png"""
    return Path("results") / study / "fidelity.png"


def study_fidelity(db: DB, study: str, *, metric: str | None = None, tol: float = DEFAULT_TOL,
                   top_k: int = DEFAULT_TOP_K, n_boot: int = DEFAULT_BOOT, seed: int = 0,
                   min_configs: int = MIN_CONFIGS, out: str | Path | None = None,
                   plot: bool = True) -> tuple[Fidelity, Path | None]:
    """The rank fidelity of a study's epochs and training-free scores, and its figure.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db), opened read-only.
        study: the study's name.
        metric: the metric ranked (default: the study's first objective), one of `EPOCH_METRICS`.
        tol, top_k, n_boot, seed, min_configs: as `rank_fidelity`'s.
        out: the figure (.png, .svg or .pdf; default `default_fidelity_out(study)`, in a folder scalesearch made).
        plot: draw the figure (nothing is drawn where no epoch has a number).

    Returns:
        (the `Fidelity`, the figure's path or None when none was written).

    Raises:
        NotFoundError: no such study. InputError: a metric not recorded each epoch, a bad setting or file name.
        OutputFolderError: without `out`, a results/<study> folder that exists and is not scalesearch's.
    """
    path = Path(out) if out else default_fidelity_out(study)
    if plot:
        if path.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise InputError(f"--out {path}: expected a .png, .svg or .pdf file name")
        if not out:  # the default folder: scalesearch's own or absent, checked before anything is read
            check_output_folder(path.parent, remedy=_REMEDY)
    with open_reader(db) as reader:
        objectives = study_objectives(reader, study)
        name = metric or next(iter(objectives), "val_acc")
        if name not in EPOCH_METRICS:
            raise InputError(f"{'--metric' if metric else 'the study' + chr(39) + 's first objective'} {name!r}: "
                             f"not recorded each epoch; expected one of {', '.join(EPOCH_METRICS)} (pass --metric)")
        trials = load_trials(reader, study)
        epochs = load_epochs(reader, study)
    direction = objectives.get(name, "min" if "loss" in name else "max")
    f = rank_fidelity(trials, epochs, metric=name, direction=direction, tol=tol, top_k=top_k, n_boot=n_boot,
                      seed=seed, min_configs=min_configs)
    if not plot or epoch_rows(f).empty:
        return f, None
    if not out:
        output_folder(path.parent, remedy=_REMEDY)
    from scalesearch.plot.fidelity_figure import plot_fidelity

    plot_fidelity(f, title=f"{study}: rank fidelity of epoch k ({f.n_configs} configurations)", out=path)
    return f, path
