"""`scalesearch rediscover EXPERIMENT [--pilot] [--run] [--db URL]`: run and analyse an experiment, write its
verdicts; `b0-b7` writes the B0 -> B7 table, `efficientnet-step2 --write-spec` the step-2 spec files."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from scalesearch.rediscover.btable import write_b_table
from scalesearch.rediscover.efficientnet import PAPER_COEFFICIENTS, step2_spec_text
from scalesearch.rediscover.experiments import EXPERIMENTS, analyse
from scalesearch.rediscover.outputs import write, write_summary
from scalesearch.rediscover.studies import DEFAULT_DB


def _found_coefficients(db: str) -> tuple[float, float, float] | None:
    """The best (alpha, beta, gamma) of a FULL step-1 study in `db`, else None."""
    try:
        o = analyse("efficientnet-step1", db)
    except (LookupError, FileNotFoundError, ValueError):
        return None
    if o.status != "full" or "grid (ranked)" not in o.tables:
        return None
    b = o.tables["grid (ranked)"].iloc[0]
    return float(b["alpha"]), float(b["beta"]), float(b["gamma"])


def _cmd(args: argparse.Namespace) -> int:
    exp = args.experiment
    if exp == "b0-b7":
        coefs: dict[str, Sequence[float]] = {"paper": PAPER_COEFFICIENTS}
        found = _found_coefficients(args.db) if os.path.exists(args.db) else None
        note = "Found coefficients: not available yet (experiment 1 has no full run); only the paper's are used."
        if found:
            coefs["found"] = found
            note = f"Found coefficients (experiment 1, full run): {found[0]:g}, {found[1]:g}, {found[2]:.3f}."
        print(write_b_table(Path(args.out) / "efficientnet_b0_b7", coefs, found_note=note))
        write_summary(args.out)
        return 0
    if exp == "efficientnet-step2" and args.write_spec:
        found = _found_coefficients(args.db) if os.path.exists(args.db) else None
        a, b, g = found or PAPER_COEFFICIENTS
        src = "experiment 1's found coefficients" if found else "the paper's coefficients (no full step-1 run yet)"
        for pilot in (False, True):
            path = Path(EXPERIMENTS[exp].spec_files(pilot)[0])
            path.write_text(step2_spec_text(a, b, g, pilot=pilot, source=src), encoding="utf-8")
            print(path)
        return 0
    if args.run:
        for spec in EXPERIMENTS[exp].spec_files(args.pilot):
            rc = subprocess.call([sys.executable, "-m", "scalesearch", "run", spec, "--db", args.db])
            if rc != 0:
                return rc
    outcome = analyse(exp, args.db, pilot=args.pilot, out_root=args.out)
    for p in write(outcome, args.out, db=args.db, report=not args.no_report):
        print(p)
    for f in outcome.findings:
        print(f"[{outcome.status}] {f.claim}: {f.verdict} -- {f.ours}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `scalesearch rediscover` to the CLI's subparsers."""
    p = sub.add_parser("rediscover", help="run/analyse one of issue 16's rediscovery experiments and write its "
                                          "verdicts (results/<study>/rediscovery.md, results/REDISCOVERY.md)")
    p.add_argument("experiment", choices=[*EXPERIMENTS, "b0-b7"],
                   help="the experiment; b0-b7 is the EfficientNet B0 -> B7 analysis (no training)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--pilot", action="store_true", help="the _pilot studies (seed noise) instead of the full ones")
    p.add_argument("--run", action="store_true", help="run (or resume) the experiment's specs first")
    p.add_argument("--out", default="results", help="results folder (default results)")
    p.add_argument("--no-report", action="store_true", help="do not (re)write each study's report")
    p.add_argument("--write-spec", action="store_true",
                   help="efficientnet-step2: write its spec files from experiment 1's found coefficients")
    p.set_defaults(func=_cmd)
