"""The registry of the experiments (`EXPERIMENTS`: spec files, the paper's numbers, the analyser) and
`analyse`, which reads an experiment's studies and returns its `Outcome`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scalesearch.errors import InputError, NotFoundError
from scalesearch.rediscover.claims import Finding
from scalesearch.rediscover.degradation import analyse_degradation, analyse_degradation_looks
from scalesearch.rediscover.efficientnet import analyse_step1, analyse_step2
from scalesearch.rediscover.efficientnet_looks import analyse_efficientnet_looks
from scalesearch.rediscover.reading import DEFAULT_DB, OUT_REMEDY, read_study, study_provenance, study_status
from scalesearch.rediscover.resnext import analyse_resnext, analyse_resnext_looks
from scalesearch.util.files import check_output_folder, output_folder


@dataclass(frozen=True)
class Experiment:
    """One rediscovery experiment: its studies' spec files (full and pilot) and what the paper reports."""

    name: str
    title: str
    specs: tuple[str, ...]
    paper: str
    analyse: Callable[..., list[Finding]] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    pilot: bool = True  # each spec has a `_pilot` twin
    looks: int = 1  # > 1: each spec is one planned look of the same design (analysed with looks= and complete=)
    withdrawn: str = ""  # why this design's verdicts are withdrawn (REDISCOVERY.md lists them apart)
    not_run: str = ""  # where it stands while it has no outputs (its pilots, why no look is complete yet)

    def studies(self, pilot: bool = False) -> tuple[str, ...]:
        """The study names (`<stem>` or `<stem>_pilot`)."""
        return tuple(Path(s).stem + ("_pilot" if pilot else "") for s in self.specs)

    def spec_files(self, pilot: bool = False) -> tuple[str, ...]:
        """The spec files to run.

        Raises:
            ValueError: `pilot` for an experiment without pilot specs.
        """
        if pilot and not self.pilot:
            raise InputError(f"--pilot: experiment {self.name} has no pilot (it follows up a full run); run it "
                             f"without --pilot")
        return tuple(s.replace(".yaml", "_pilot.yaml") if pilot else s for s in self.specs)


@dataclass
class Outcome:
    """What `analyse` returns: the findings, tables to print, figures written, provenance and the power statement."""

    experiment: str
    studies: tuple[str, ...]
    status: str
    findings: list[Finding]
    tables: dict[str, pd.DataFrame]
    provenance: dict[str, Any]
    power: list[str]
    notes: list[str]
    figures: list[str] = field(default_factory=list)
    missing: tuple[str, ...] = ()


_WITHDRAWN_EFFICIENTNET = (
    "trained 6 epochs x 39 steps, a regime where bigger nets train worse (accuracy fell with MACs, Spearman -0.93; "
    "depth- and width-only arms below the unscaled B0, some at chance); the proxy B0 ran 7 of 10 blocks on 2x2 or "
    "1x1 maps, so resolution was the only dimension with room; phi = 1 arms cost 2.6x-4.2x B0, not 2x; step 1's "
    "'not reproduced' compared the paper's point with the best of 8 arms chosen on the same data")
_WITHDRAWN_RESNEXT = (
    "no positive control: 2x complexity was not shown to beat 1x (+0.44 pp [-0.17, +1.04] at 8 epochs), so ranking "
    "the ways to double it is moot; the depth gap shrank from 11.8 pp at 2 epochs to 2.5 pp at 8 (the deeper net "
    "trains slower, not worse); 33 claims at 95% each with no primary claim or multiplicity control, seeds added "
    "after looking")
_WITHDRAWN_DEGRADATION = (
    "superseded by the redesigned experiment (degradation_look1, degradation_look2): the residual pair trained "
    "in a separate study at twice the plain pair's steps, 1,000 validation images, no primary claim, and seeds "
    "added after looking; its raw per-trial data did not survive the first machine")

_NOT_RUN_EFFICIENTNET = (
    "no look complete yet. Three pilots sized it (results/efficientnet_pilot, _pilot2, _pilot3): the positive "
    "control's hardest arm, depth-only scaling to the compound model's 10.40M MACs against the 5.43M base, gave "
    "+0.38, +0.11 and -0.14 pp at 235, 470 and 940 SGD steps with dropout 0.2 and random crops, every net "
    "under-fitted; without them, at 940 steps, +0.29 pp (+0.42 and +0.16 in its 2 seeds), so by pilot 3's declared "
    "rule the primary (spaces/efficientnet_look1..4.yaml, 4 looks of 2 seeds) was re-declared in that regime and "
    "look 1 started; `scalesearch resume efficientnet_look1` continues it")

EXPERIMENTS: dict[str, Experiment] = {
    "degradation-looks": Experiment(
        "degradation-looks", "Degradation (redesigned): plain vs residual at two depths, equal steps, planned looks",
        ("spaces/degradation_look1.yaml", "spaces/degradation_look2.yaml"),
        "He et al. Fig. 1/6: on CIFAR-10 plain-56 has higher training (and test) error than plain-20; ResNet-56 "
        "lower than ResNet-20.", analyse_degradation_looks, pilot=False, looks=2),
    "resnext-looks": Experiment(
        "resnext-looks", "ResNeXt (redesigned): cardinality vs width at 2x, a 1x positive control, planned looks",
        ("spaces/resnext_look1.yaml", "spaces/resnext_look2.yaml", "spaces/resnext_depth_look1.yaml",
         "spaces/resnext_depth_look2.yaml"),
        "Xie et al. Table 4 (2x ResNet-101): ResNeXt-101 2x64d 20.7 vs 1x100d 21.3 vs ResNet-101 (1x) 22.0 % top-1 "
        "error.", analyse_resnext_looks, pilot=False, looks=2),
    "efficientnet-looks": Experiment(
        "efficientnet-looks", "EfficientNet (redesigned): compound vs each single dimension at equal MACs, planned "
        "looks", tuple(f"spaces/efficientnet_look{k}.yaml" for k in (1, 2, 3, 4)),
        "Tan & Le Table 3 (B0 scaled to ~1.8 B FLOPs): depth-only 79.0, width-only 78.9, resolution-only 79.1, "
        "compound 81.1 % top-1.", analyse_efficientnet_looks, pilot=False, looks=4, not_run=_NOT_RUN_EFFICIENTNET),
    "efficientnet-step1": Experiment(
        "efficientnet-step1", "EfficientNet compound scaling, step 1 (grid over alpha, beta at phi = 1)",
        ("spaces/rediscover_efficientnet_step1.yaml",),
        "Tan & Le Sec. 3.3: on ImageNet B0, alpha, beta, gamma = 1.2, 1.1, 1.15 (alpha * beta^2 * gamma^2 = 1.92).",
        analyse_step1, withdrawn=_WITHDRAWN_EFFICIENTNET),
    "efficientnet-step2": Experiment(
        "efficientnet-step2", "EfficientNet compound scaling, step 2 (compound vs single-dimension vs dWr)",
        ("spaces/rediscover_efficientnet_step2.yaml",),
        "Tan & Le Table 3 (B0 scaled to ~1.8 B FLOPs): depth-only 79.0, width-only 78.9, resolution-only 79.1, "
        "compound 81.1 % top-1. Dollar et al.: dWr (alpha = 0.8) matches dwr's accuracy with fewer activations.",
        analyse_step2, withdrawn=_WITHDRAWN_EFFICIENTNET),
    "resnext": Experiment(
        "resnext", "ResNeXt: cardinality > width > depth, and the cardinality sweep",
        ("spaces/rediscover_resnext_cwd.yaml", "spaces/rediscover_resnext_cardinality.yaml"),
        "Xie et al. Table 4 (2x ResNet-101): ResNet-200 21.7, 1x100d 21.3, 2x64d 20.7, 64x4d 20.4 % top-1 error; "
        "Table 3 (~4.1 GFLOPs): 1x64d 23.9, 2x40d 23.0, 4x24d 22.6, 8x14d 22.3, 32x4d 22.2.",
        analyse_resnext, withdrawn=_WITHDRAWN_RESNEXT),
    "resnext-seeds": Experiment(
        "resnext-seeds", "ResNeXt follow-up: cardinality vs width at 2x with 22 seeds",
        ("spaces/rediscover_resnext_seeds.yaml",),
        "Xie et al. Table 4 (2x ResNet-101): ResNeXt-101 2x64d 20.7 vs 1x100d 21.3 % top-1 error.",
        analyse_resnext, pilot=False, withdrawn=_WITHDRAWN_RESNEXT),
    "degradation": Experiment(
        "degradation", "Degradation: plain vs residual at two depths (training error)",
        ("spaces/rediscover_degradation.yaml",),
        "He et al. Fig. 1/6: on CIFAR-10 plain-56 has higher training (and test) error than plain-20; ResNet-56 "
        "lower than ResNet-20. ImageNet: plain-34 28.54 vs ResNet-34 25.03 % top-1 err (10-crop).",
        analyse_degradation, withdrawn=_WITHDRAWN_DEGRADATION),
    "degradation-residual": Experiment(
        "degradation-residual", "Degradation follow-up: the residual pair with 16 seeds and a longer schedule",
        ("spaces/rediscover_degradation_residual.yaml",),
        "He et al. Fig. 6 (CIFAR-10): ResNet-56 has a lower training error than ResNet-20 (and 6.97 vs 8.75 % test "
        "error, Table 6).",
        analyse_degradation, pilot=False, withdrawn=_WITHDRAWN_DEGRADATION),
}


def analyse(experiment: str, db: str | None = DEFAULT_DB, *, pilot: bool = False, out_root: str | Path = "results",
            studies: Sequence[str] | None = None, raw: bool = False) -> Outcome:
    """Read an experiment's studies and compute its findings (figures are written under results/<study>/).

    Args:
        experiment: a key of `EXPERIMENTS`.
        db: the results database (read-only); a study it does not hold is read from its raw files
            (<out_root>/<study>/trials.csv, epochs.csv, study.json) when they exist.
        pilot: read the `_pilot` studies and label the outcome "pilot".
        out_root: where results/<study>/ folders are.
        studies: other study names, in the order of the experiment's specs (e.g. toy copies in tests).
        raw: read every study from its raw files, never from a database (recomputing committed verdicts).

    Raises:
        InputError: an unknown experiment.
        NotFoundError: a study that is in neither the database nor its raw files.
        OutputFolderError: a <out_root>/<study> folder that exists and is not scalesearch's (`util.files.output_folder`).
    """
    from scalesearch.results.raw import read_raw

    if experiment not in EXPERIMENTS:
        raise InputError(f"experiment {experiment!r}: expected one of {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[experiment]
    if pilot:
        exp.spec_files(pilot)  # an experiment without a pilot says so
    studies = tuple(studies) if studies is not None else exp.studies(pilot)
    for s in studies:  # the folders written below and by `write`: scalesearch's or absent, before anything is written
        check_output_folder(Path(out_root) / s, remedy=OUT_REMEDY)
    data = {}
    for s in studies:
        folder = Path(out_root) / s
        try:
            if raw or db is None:
                data[s] = read_raw(folder)
            else:
                data[s] = read_study(db, s)
        except (LookupError, FileNotFoundError):
            if not raw and db is not None and (folder / "study.json").exists():
                data[s] = read_raw(folder)
            elif len(studies) == 1:
                raise
    if not data:
        raise NotFoundError(f"none of the studies {', '.join(studies)} is in {db} or under {out_root}")
    folder = output_folder(Path(out_root) / next(iter(data)), remedy=OUT_REMEDY)
    statuses = [study_status(r, t, pilot) for r, t, _ in data.values()]
    if exp.looks > 1:
        done = [st == "full" for st in statuses]
        done += [False] * (len(studies) - len(done))
        data = {s: data[s] for s in studies if s in data}
        findings, tables, power, notes, figs = exp.analyse(data, folder, looks=exp.looks, complete=done)
        # full: every planned look's study (the first `looks` specs) is complete; an arm added to the looks later
        # (specs after them, e.g. ResNeXt's depth arm) reports its own claims as not tested until its looks are
        by_study = dict(zip(data, done, strict=False))
        status = ("full" if all(by_study.get(s, False) for s in studies[:exp.looks]) else
                  "interim" if any(done) else "partial")
    else:
        findings, tables, power, notes, figs = exp.analyse(data, folder)
        complete = all(s in ("full", "pilot") for s in statuses) and len(data) == len(studies)
        status = ("pilot" if complete else "pilot-partial") if pilot else ("full" if complete else "partial")
    prov = {s: study_provenance(r, t) for s, (r, t, _) in data.items()}
    return Outcome(experiment, tuple(data), status, findings, tables, prov, power, notes, figs,
                   missing=tuple(s for s in studies if s not in data))
