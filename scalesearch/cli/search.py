"""The search engine's commands: `run`, `resume`, `status`, `studies`, `delete`.

`run` and `resume` are `scalesearch.run` / `scalesearch.resume` (scalesearch.search.launch) followed by the texts of
`scalesearch.search.summary`; `delete` is `scalesearch.search.study.delete_study`. Bad input (a spec that fails
validation, an unreachable `--address`, a `--db` that is not a database, a study name that exists with another
spec) raises a one-line error before anything is written; `scalesearch.cli.main` prints it and exits with status
2. Exit status of run/resume: 0 when the study finished, 130 when it was interrupted (resume continues it), 1 when
it failed. Ray, Optuna and torch are imported inside the library calls.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_delete", "add_resume", "add_run", "add_status", "add_studies"]

_DB_HELP = "results database: a SQLAlchemy URL or a SQLite file path (default: results/scalesearch.db)"
_EXIT = {"finished": 0, "interrupted": 130}  # any other end (failed): 1


def add_run(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch run` (with `full` False its help line only)."""
    p = sub.add_parser(
        "run", help="run the search a spec file describes: train its candidates, store every result",
        description="Run the search a spec file describes (docs/spec.md): Optuna chooses the candidates, Ray Tune "
                    "trains them, every result goes to the database. A study that exists with the same spec "
                    "continues where it stopped; `scalesearch resume STUDY` does the same from the database alone.")
    if not full:
        return
    p.add_argument("spec", metavar="SPEC", help="a spec .yaml file")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--study", default=None, metavar="NAME", help="study name (default: the spec's `study`)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="HOST:PORT of a running Ray cluster to join (default: start a local Ray on 127.0.0.1)")
    p.set_defaults(func=_cmd_run)


def add_resume(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch resume` (with `full` False its help line only)."""
    p = sub.add_parser("resume", help="continue an interrupted study from the database",
                       description="Continue a study: trials that were running when it stopped are trained again, "
                                   "finished ones are kept, nothing finished is trained twice.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--address", default=None, metavar="ADDR", help="HOST:PORT of a running Ray cluster to join")
    p.set_defaults(func=_cmd_resume)


def _ended(db: str | None, outcome: Any) -> int:
    """Print what the run stored and return the exit status of its end."""
    from scalesearch.search.summary import ended
    from scalesearch.store import Reader

    with Reader(db) as reader:
        print(ended(reader, outcome))
    return _EXIT.get(outcome.state, 1)


def _cmd_run(args: argparse.Namespace) -> int:
    from scalesearch.search.launch import run

    outcome = run(args.spec, db=args.db, study=args.study, address=args.address, progress=True)
    return _ended(args.db, outcome)


def _cmd_resume(args: argparse.Namespace) -> int:
    from scalesearch.search.launch import resume

    outcome = resume(args.study, db=args.db, address=args.address, progress=True)
    return _ended(args.db, outcome)


def add_status(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch status` (with `full` False its help line only)."""
    p = sub.add_parser("status", help="progress of a study (or of every study)")
    if not full:
        return
    p.add_argument("study", metavar="STUDY", nargs="?", default=None)
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace) -> int:
    from scalesearch.search.summary import status, studies_table
    from scalesearch.store import Reader

    with Reader(args.db) as reader:
        print(studies_table(reader) if args.study is None else status(reader, args.study))
    return 0


def add_studies(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch studies` (with `full` False its help line only)."""
    p = sub.add_parser("studies", help="list the studies in the database")
    if not full:
        return
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_studies)


def _cmd_studies(args: argparse.Namespace) -> int:
    from scalesearch.search.summary import studies_table
    from scalesearch.store import Reader

    with Reader(args.db) as reader:
        print(studies_table(reader))
    return 0


def add_delete(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch delete` (with `full` False its help line only)."""
    p = sub.add_parser("delete", help="delete a study: its trials, epochs and Optuna study",
                       description="Delete a study from the database: its trials with their epochs, and the Optuna "
                                   "study of the same name (e.g. to rerun a spec after a fix). Without --yes it only "
                                   "says what would go and changes nothing. A study whose driver is still running "
                                   "on this machine is refused.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--yes", action="store_true", help="delete (without it: say what would go, change nothing)")
    p.set_defaults(func=_cmd_delete)


def _cmd_delete(args: argparse.Namespace) -> int:
    from scalesearch.search.study import delete_study

    print(f"deleted {delete_study(args.db, args.study, confirm=args.yes)}")
    return 0


def add_upgrade(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch upgrade` (with `full` False its help line only)."""
    p = sub.add_parser("upgrade", help="bring a database written by an older scalesearch up to date",
                       description="Upgrade the tables of a database written by an older scalesearch to this "
                                   "version's schema, in one transaction; stored results are not changed and no "
                                   "study is trained again. run, resume and load do it themselves; the read-only "
                                   "commands (query, status, ...) ask for it.")
    if not full:
        return
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_upgrade)


def _cmd_upgrade(args: argparse.Namespace) -> int:
    from scalesearch.search.study import upgrade_database
    from scalesearch.store import SCHEMA_VERSION, describe_url, normalize_url

    steps = upgrade_database(args.db)
    where = describe_url(normalize_url(args.db))
    for step in steps:
        print(f"upgraded {where}: schema {step}")
    if not steps:
        print(f"{where}: already at schema version {SCHEMA_VERSION}; nothing to do")
    return 0


def add_dump(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch dump` (with `full` False its help line only)."""
    p = sub.add_parser("dump", help="write a study (our tables and Optuna's) to one .jsonl.gz file",
                       description="Write a study, its trials with their epochs and its Optuna study, to one "
                                   "gzip-compressed JSON-lines file that `scalesearch load` reads into any database. "
                                   "The database is read read-only.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (e.g. study.jsonl.gz)")
    p.set_defaults(func=_cmd_dump)


def _cmd_dump(args: argparse.Namespace) -> int:
    from scalesearch.search.dumpfile import dump_study

    path, n = dump_study(args.db, args.study, args.out)
    print(f"dumped study {args.study!r} ({n} trials) to {path}")
    return 0


def add_load(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch load` (with `full` False its help line only)."""
    p = sub.add_parser("load", help="load a study written by `scalesearch dump` into a database",
                       description="Load a study written by `scalesearch dump`: our tables and Optuna's study, "
                                   "exactly, under its own name or --as NAME. A study of that name already in the "
                                   "database is refused and nothing is written. A study dumped while it ran loads "
                                   "as interrupted: `scalesearch resume` continues it.")
    if not full:
        return
    p.add_argument("file", metavar="FILE")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--as", dest="as_name", default=None, metavar="NAME", help="load under this name instead")
    p.set_defaults(func=_cmd_load)


def _cmd_load(args: argparse.Namespace) -> int:
    from scalesearch.search.dumpfile import load_study

    name, n = load_study(args.file, args.db, as_name=args.as_name)
    print(f"loaded study {name!r} ({n} trials) from {args.file}")
    return 0
