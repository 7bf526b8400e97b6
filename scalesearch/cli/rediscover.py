"""`scalesearch rediscover EXPERIMENT [--pilot] [--run] [--db URL]`: run and analyse an experiment, write its
verdicts; `b0-b7` writes the B0 -> B7 table, `efficientnet-step2 --write-spec` the step-2 spec files. Each mode is
one call into `scalesearch.rediscover.workflow`. The package loads numpy and pandas, so the command is declared with
its arguments only when the command line names it.
"""

from __future__ import annotations

import argparse

__all__ = ["add_commands", "add_rediscover"]


def add_rediscover(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch rediscover` (with `full` False its help line only)."""
    p = sub.add_parser("rediscover", help="run/analyse one of the rediscovery experiments and write its "
                                          "verdicts (results/<study>/rediscovery.md, results/REDISCOVERY.md)")
    if not full:
        return
    from scalesearch.rediscover import DEFAULT_DB, EXPERIMENTS

    p.add_argument("experiment", choices=[*EXPERIMENTS, "b0-b7"],
                   help="the experiment; b0-b7 is the EfficientNet B0 -> B7 analysis (no training)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--pilot", action="store_true", help="the _pilot studies (seed noise) instead of the full ones")
    p.add_argument("--run", action="store_true", help="run (or resume) the experiment's specs first")
    p.add_argument("--out", default="results", help="results folder (default results)")
    p.add_argument("--no-report", action="store_true", help="do not (re)write each study's report")
    p.add_argument("--from-csv", action="store_true",
                   help="recompute the verdicts from each study's committed raw files (results/<study>/trials.csv, "
                        "epochs.csv, study.json) instead of the database")
    p.add_argument("--write-spec", action="store_true",
                   help="efficientnet-step2: write its spec files from experiment 1's found coefficients")
    p.set_defaults(func=_cmd_rediscover)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `scalesearch rediscover`, with its arguments, to the subparsers of a parser of one's own."""
    add_rediscover(sub, True)


def _cmd_rediscover(args: argparse.Namespace) -> int:
    from scalesearch import rediscover as rd

    exp = args.experiment
    if exp == "b0-b7":
        print(rd.write_b0_b7(args.db, args.out))
        return 0
    if exp == "efficientnet-step2" and args.write_spec:
        for path in rd.write_step2_specs(args.db):
            print(path)
        return 0
    if args.run:
        rc = rd.run_specs(exp, args.db, pilot=args.pilot)
        if rc != 0:
            return rc
    if args.from_csv and args.run:
        from scalesearch.errors import InputError

        raise InputError("--from-csv: reads committed files only; it cannot be combined with --run")
    outcome, paths = rd.analyse_and_write(exp, None if args.from_csv else args.db, pilot=args.pilot, out=args.out,
                                          report=not args.no_report)
    for path in paths:
        print(path)
    for f in outcome.findings:
        print(f"[{outcome.status}] {f.claim}: {f.verdict} -- {f.ours}")
    return 0
