"""The `scalesearch` command line.

One module per group of commands, each command a thin dispatch into the library (pycls' `tools/run_net.py` is
the model): an `add_<name>(subparsers, full)` declares its arguments and a handler parses them, makes one call
into the library and prints what it returns.

    core        count, presets, datasets, train, validate (scalesearch.nets.cost, .spec.refs, .trial.standalone, .spec)
    search      run, resume, status, studies, delete, dump, load
                                                          (scalesearch.search: api, summary, study, transfer)
    results     query, compare, scores, fidelity, fit, plot, report, export
                                  (scalesearch.results: query, compare, scores, fidelity, report, export)
    rediscover  rediscover                                (scalesearch.rediscover.workflow)
    simulate    simulate                                  (scalesearch.simulate.replay)

User-facing failures are raised as exceptions (`scalesearch.errors.ScalesearchError`, and ValueError, OSError,
LookupError) and turned into one line on stderr with exit status 2 by `main`; a traceback is shown only with
SCALESEARCH_DEBUG=1. Heavy modules (torch, pandas, optuna, ray) are imported inside the handlers, and a command
line that names one command declares only that command's arguments (the others get their help line), so that
`validate`, `count`, `presets` and `--help` import none of them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from scalesearch.cli import core, rediscover, results, search, simulate
from scalesearch.errors import ScalesearchError

__all__ = ["build_parser", "main"]

# Every command in the order `--help` lists them, with the function that declares it.
_COMMANDS: tuple[tuple[str, Callable[[argparse._SubParsersAction, bool], None]], ...] = (
    ("run", search.add_run), ("resume", search.add_resume), ("status", search.add_status),
    ("studies", search.add_studies), ("delete", search.add_delete), ("dump", search.add_dump),
    ("load", search.add_load), ("upgrade", search.add_upgrade), ("query", results.add_query),
    ("compare", results.add_compare), ("scores", results.add_scores), ("fidelity", results.add_fidelity),
    ("fit", results.add_fit),
    ("validate", core.add_validate), ("count", core.add_count), ("train", core.add_train),
    ("presets", core.add_presets), ("datasets", core.add_datasets), ("plot", results.add_plot),
    ("report", results.add_report), ("export", results.add_export),
    ("rediscover", rediscover.add_rediscover), ("simulate", simulate.add_simulate),
)

# What to do when a command runs out of memory, by command: the remedy of the command that ran (the training
# options are `train`'s; a search's are its spec's fields). A command not named gets the general advice.
_OUT_OF_MEMORY = {
    "train": "try a smaller --batch-size, --resolution or model",
    "run": "try a smaller train.batch_size, dataset.resolution or search.max_concurrency in the spec",
    "resume": "free memory, or join a larger cluster with --address",
    "load": "the dump's records are held until they are written: free memory, or load it on a larger machine",
}
_OUT_OF_MEMORY_DEFAULT = "free memory, or run it on a larger machine"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other scalesearch error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand. Given the command line `argv`, only the command it names is
    declared with its arguments (the others with their help line alone), so that a command does not pay for
    another's imports (`query`'s and `rediscover`'s load pandas); with argv None every command is declared."""
    from scalesearch import __version__

    parser = _Parser(prog="scalesearch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = None if argv is None else next((a for a in argv if not a.startswith("-")), None)
    for name, add in _COMMANDS:
        add(sub, argv is None or name == command)
    return parser


def _one_line(e: BaseException) -> int:
    if os.environ.get("SCALESEARCH_DEBUG"):
        raise e
    msg = " ".join(str(e).split()) or type(e).__name__
    print(f"scalesearch: error: {msg}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScalesearchError as e:  # every error about the input or the environment
        return _one_line(e)
    except KeyboardInterrupt:
        print("scalesearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`scalesearch count x | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and "out of memory" not in str(e):
            raise  # a bug: keep the traceback
        if os.environ.get("SCALESEARCH_DEBUG"):
            raise
        remedy = _OUT_OF_MEMORY.get(args.command, _OUT_OF_MEMORY_DEFAULT)
        print(f"scalesearch: error: out of memory ({' '.join(str(e).split())[:200] or 'MemoryError'}); {remedy}",
              file=sys.stderr)
        return 2
    except (ValueError, OSError, LookupError) as e:
        return _one_line(e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
