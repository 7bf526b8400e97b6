"""What `scalesearch rediscover` does, step by step: run an experiment's specs, analyse its studies and write the
verdicts; the B0 -> B7 table with experiment 1's found coefficients when there are some; step 2's spec files from
them. The CLI calls one of these per mode and prints what they return.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from scalesearch.rediscover.btable import B_TABLE_FOLDER, write_b_table
from scalesearch.rediscover.efficientnet import PAPER_COEFFICIENTS, step2_spec_text
from scalesearch.rediscover.experiments import EXPERIMENTS, Outcome, analyse
from scalesearch.rediscover.outputs import write
from scalesearch.rediscover.page import write_summary
from scalesearch.rediscover.reading import OUT_REMEDY
from scalesearch.util.files import check_output_folder, output_folder

__all__ = ["analyse_and_write", "found_coefficients", "run_specs", "write_b0_b7", "write_step2_specs"]


def _stored(db: str) -> bool:
    """Whether `db` names a database that may hold studies: an existing SQLite file, or a server's URL.

    Raises:
        DatabaseURLError: a URL whose scheme is unknown or whose driver is not installed (one line).
    """
    from scalesearch.store.engine import check_driver, normalize_url, sqlite_path

    url = normalize_url(db)
    check_driver(url)
    path = sqlite_path(url)
    return path is None or path.exists()


def found_coefficients(db: str) -> tuple[float, float, float] | None:
    """The best (alpha, beta, gamma) of a FULL step-1 study in `db`, else None (its design withdrawn, no database,
    no such study, or not a full run).

    Raises:
        DatabaseURLError: `db` is a URL that cannot be opened here.
    """
    if not _stored(db) or EXPERIMENTS["efficientnet-step1"].withdrawn:  # a bad URL is still one line
        return None  # a withdrawn design's coefficients are not found coefficients
    try:
        o = analyse("efficientnet-step1", db)
    except (LookupError, FileNotFoundError, ValueError):
        return None
    if o.status != "full" or "grid (ranked)" not in o.tables:
        return None
    b = o.tables["grid (ranked)"].iloc[0]
    return float(b["alpha"]), float(b["beta"]), float(b["gamma"])


def write_b0_b7(db: str, out: str | Path = "results") -> Path:
    """Write the B0 -> B7 analysis into <out>/efficientnet_b0_b7 (the paper's coefficients, and experiment 1's
    found ones when `db` holds a full run of it), then rebuild <out>/REDISCOVERY.md; returns the markdown path.
    The folder is created and marked, or used when it is marked; one that exists unmarked is refused before
    anything is read or written (`util.files.output_folder`)."""
    folder = check_output_folder(Path(out) / B_TABLE_FOLDER, remedy=OUT_REMEDY)
    coefs: dict[str, Sequence[float]] = {"paper": PAPER_COEFFICIENTS}
    found = found_coefficients(db)
    note = ("Found coefficients: none (no step 1 has run in a design that can decide it; the first design's "
            "(1, 1, 1.414) is withdrawn); only the paper's are used.")
    if found:
        coefs["found"] = found
        note = f"Found coefficients (experiment 1, full run): {found[0]:g}, {found[1]:g}, {found[2]:.3f}."
    path = write_b_table(output_folder(folder, remedy=OUT_REMEDY), coefs, found_note=note)
    write_summary(out)
    return path


def write_step2_specs(db: str) -> list[Path]:
    """Write experiment 2's spec files (full and pilot) from experiment 1's found coefficients in `db`, or from the
    paper's when there is no full step-1 run yet; returns their paths."""
    found = found_coefficients(db)
    a, b, g = found or PAPER_COEFFICIENTS
    src = "experiment 1's found coefficients" if found else "the paper's coefficients (no full step-1 run yet)"
    paths = []
    for pilot in (False, True):
        path = Path(EXPERIMENTS["efficientnet-step2"].spec_files(pilot)[0])
        path.write_text(step2_spec_text(a, b, g, pilot=pilot, source=src), encoding="utf-8")
        paths.append(path)
    return paths


def run_specs(experiment: str, db: str, *, pilot: bool = False) -> int:
    """Run (or resume) the experiment's specs one after the other, each as `scalesearch run SPEC --db DB` in its
    own process (its output goes to this one's); returns the first non-zero exit status, else 0."""
    for spec in EXPERIMENTS[experiment].spec_files(pilot):
        rc = subprocess.call([sys.executable, "-m", "scalesearch", "run", spec, "--db", db])
        if rc != 0:
            return rc
    return 0


def analyse_and_write(experiment: str, db: str | None, *, pilot: bool = False, out: str | Path = "results",
                      report: bool = True) -> tuple[Outcome, list[Path]]:
    """Analyse an experiment's studies in `db` and write its verdicts, each study's raw files (trials.csv,
    epochs.csv, study.json) and, with `report`, its report; returns the outcome and the paths written. With `db`
    None the studies are read from their raw files under `out` (the verdicts recomputed from committed data)."""
    outcome = analyse(experiment, db, pilot=pilot, out_root=out, raw=db is None)
    return outcome, write(outcome, out, db=db, report=report)
