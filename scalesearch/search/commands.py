"""The search engine's commands: run, resume, status, studies, query, delete.

`add_commands(subparsers)` declares them; every handler imports Ray, Optuna, torch and SQLAlchemy inside, so that
`scalesearch --help` and the other commands stay fast. Bad input (a spec that fails validation, an unreachable
`--address`, a `--db` that is not a database, a study name that exists with another spec) raises a one-line
ValueError/OSError/LookupError before anything is written; the CLI prints it and exits with status 2.
Exit status of run/resume: 0 when the study finished, 130 when it was interrupted (resume continues it).
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence

__all__ = ["add_commands"]

_DB_HELP = "results database: a SQLAlchemy URL or a SQLite file path (default: results/scalesearch.db)"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register run, resume, status, studies and query on the CLI's subparsers."""
    p = sub.add_parser(
        "run", help="run the search a spec file describes: train its candidates, store every result",
        description="Run the search a spec file describes (docs/spec.md): Optuna chooses the candidates, Ray Tune "
                    "trains them, every result goes to the database. A study that exists with the same spec "
                    "continues where it stopped; `scalesearch resume STUDY` does the same from the database alone.")
    p.add_argument("spec", metavar="SPEC", help="a spec .yaml file")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--study", default=None, metavar="NAME", help="study name (default: the spec's `study`)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="HOST:PORT of a running Ray cluster to join (default: start a local Ray on 127.0.0.1)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted study from the database",
                       description="Continue a study: trials that were running when it stopped are trained again, "
                                   "finished ones are kept, nothing finished is trained twice.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--address", default=None, metavar="ADDR", help="HOST:PORT of a running Ray cluster to join")
    p.set_defaults(func=_cmd_resume)

    p = sub.add_parser("status", help="progress of a study (or of every study)")
    p.add_argument("study", metavar="STUDY", nargs="?", default=None)
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("studies", help="list the studies in the database")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_studies)

    p = sub.add_parser("delete", help="delete a study: its trials, epochs and Optuna study",
                       description="Delete a study from the database: its trials with their epochs, and the Optuna "
                                   "study of the same name (e.g. to rerun a spec after a fix). Without --yes it only "
                                   "says what would go and changes nothing. A study whose driver is still running "
                                   "on this machine is refused.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--yes", action="store_true", help="delete (without it: say what would go, change nothing)")
    p.set_defaults(func=_cmd_delete)

    from scalesearch.results_cli import add_query_arguments, run_query  # the read side owns query

    p = sub.add_parser("query", help="one row per trial of studies, filtered, sorted, aggregated or reduced to "
                       "the Pareto front, as a table, CSV, JSON or Parquet")
    add_query_arguments(p)
    p.set_defaults(func=run_query)


# ---------------------------------------------------------------------------------------------------------------
# run / resume

def _cmd_run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from scalesearch.spec import check_space, load_spec
    from scalesearch.spec.schema import STUDY_RE

    spec = load_spec(args.spec)
    if args.study is not None:
        if not STUDY_RE.match(args.study):
            raise ValueError(f"--study {args.study!r}: expected letters, digits, '_', '-', '.' (at most 64, starting "
                             "with a letter or digit)")
        spec = dataclasses.replace(spec, study=args.study)
    check_space(spec)  # the same checks as `scalesearch validate`: an infeasible space fails here, untrained
    text = Path(args.spec).read_text(encoding="utf-8")
    return _search(spec, text, str(args.spec), args.db, args.address)


def _cmd_resume(args: argparse.Namespace) -> int:
    from scalesearch.search.driver import stored_spec
    from scalesearch.store import Reader

    reader = Reader(args.db)
    try:
        rec = reader.study(args.study)
    finally:
        reader.close()
    spec = stored_spec(rec)
    return _search(spec, rec.spec_text, rec.spec_file, args.db, args.address)


def _search(spec: Any, text: str, file: str | None, db: str | None, address: str | None) -> int:
    from scalesearch.search.cluster import connect, probe_address
    from scalesearch.search.driver import prepare_study, run_study
    from scalesearch.search.progress import make_progress
    from scalesearch.search.study import release_study
    from scalesearch.store import Store

    if address is not None:
        probe_address(address)  # before the database is touched
    store = Store(db)
    try:
        record = prepare_study(store, spec, spec_text=text, spec_file=file)
        if record.state == "finished":  # the same spec already ran to its end: nothing to train, no Ray needed
            print(f"study {spec.study} is already finished ({record.message}); nothing to run")
            print(summary(store, spec.study, record.wall_seconds))
            return 0
        s = spec.search
        import os

        cpus = max(float(os.cpu_count() or 1), s.max_concurrency * s.resources.cpus) + s.resources.cpus
        try:
            session = connect(address, num_cpus=cpus)
        except BaseException:
            release_study(store, spec.study)  # the run never started: the study is not ours any more
            raise
        try:
            outcome = run_study(spec, store, store.study(spec.study), session=session, progress=make_progress())
        finally:
            session.close()
        print(summary(store, spec.study, outcome.wall_s))
        return 0 if outcome.state == "finished" else 130 if outcome.state == "interrupted" else 1
    finally:
        store.close()


def _configs(trials: Sequence[Any]) -> list[tuple[float, float, Any]]:
    """(mean val_acc over repeats, MACs, first trial) of every configuration whose repeats all completed."""
    groups: dict[str, list[Any]] = {}
    for t in trials:
        if t.state != "rejected":
            groups.setdefault(t.config_key, []).append(t)
    out = []
    for ts in groups.values():
        if all(t.state == "completed" and t.val_acc is not None for t in ts) and ts[0].macs is not None:
            out.append((sum(t.val_acc for t in ts) / len(ts), float(ts[0].macs), ts[0]))
    return out


def summary(store: Any, name: str, wall_s: float | None = None) -> str:
    """What a study stored and how to look at it (printed at the end of run and resume)."""
    from scalesearch.cost import human
    from scalesearch.search.progress import fmt_duration
    from scalesearch.store import describe_url, sqlite_path

    study, trials = store.snapshot(name)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    took = f" in {fmt_duration(wall_s)}" if wall_s is not None else ""
    order = ("completed", "failed", "stopped", "rejected", "interrupted", "queued", "running")
    names = {"stopped": "stopped early", "rejected": "rejected (never trained)"}
    parts = [f"{counts[s]} {names.get(s, s)}" for s in order if counts.get(s)]
    lines = [f"study {name} {study.state}{took}: {', '.join(parts) or 'no trials'}"]
    if study.state != "finished" and study.message:
        lines.append(f"  {study.message}")
    configs = _configs(trials)
    if configs:
        acc, macs, t = max(configs, key=lambda c: c[0])
        lines.append(f"best val_acc {acc:.4f}: trial #{t.number} ({_values(t.parameters)}), {human(macs)} MACs, "
                     f"{human(t.params or 0)} params")
        from scalesearch.analysis import pareto_mask

        on_front = pareto_mask([(a, m) for a, m, _ in configs], ["max", "min"])
        front = sorted((c for c, keep in zip(configs, on_front) if keep), key=lambda c: c[1])
        if len(front) > 1:
            lines.append("accuracy vs MACs (Pareto front: no other trial is both more accurate and cheaper):")
            for acc, macs, t in front:
                lines.append(f"  {human(macs):>8} MACs  val_acc {acc:.4f}  #{t.number} {_values(t.parameters)}")
    url = describe_url(store.url)
    path = sqlite_path(store.url)
    lines.append(f"results: {url} (study {name})")
    lines.append("look at them:")
    db = "" if path is not None and str(path) == "results/scalesearch.db" else f" --db {url}"
    lines.append(f"  scalesearch status {name}{db}")
    lines.append(f"  scalesearch query {name} --format csv{db}")
    lines.append(f"  optuna-dashboard {url}   (Optuna's web UI; pip install optuna-dashboard)")
    return "\n".join(lines)


def _values(values: Any, limit: int = 6) -> str:
    items = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(values.items())[:limit]]
    return ", ".join(items) + (", ..." if len(values) > limit else "")


# ---------------------------------------------------------------------------------------------------------------
# status / studies / query

def _cmd_status(args: argparse.Namespace) -> int:
    from scalesearch.store import Reader

    reader = Reader(args.db)
    try:
        if args.study is None:
            print(_studies_table(reader))
            return 0
        print(status(reader, args.study))
        return 0
    finally:
        reader.close()


def status(reader: Any, name: str) -> str:
    """A study's state, counts by state, best trial, time and running trials."""
    import datetime as dt

    from scalesearch.cost import human
    from scalesearch.search.progress import fmt_duration

    study, trials = reader.snapshot(name)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    state = study.state
    if state == "running" and not _driver_alive(study):
        state = "running? (its driver is gone: `scalesearch resume " + name + "` continues it)"
    lines = [f"study    {name}: {state}" + (f" ({study.message})" if study.message else ""),
             f"search   {study.sampler} sampler, {study.repeats} repeat(s), seed {study.seed}, objectives "
             + ", ".join(f"{n} {d}" for n, d in study.objectives)]
    order = ("completed", "running", "queued", "failed", "stopped", "rejected", "interrupted")
    planned = f" of {study.planned} planned" if study.planned else ""
    done = sum(counts.get(s, 0) for s in ("completed", "failed", "stopped"))
    lines.append(f"trials   {done} done{planned}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in order))
    configs = _configs(trials)
    if configs:
        acc, macs, t = max(configs, key=lambda c: c[0])
        lines.append(f"best     val_acc {acc:.4f}: #{t.number} ({_values(t.parameters)}), {human(macs)} MACs")
    wall = study.wall_seconds
    if study.state == "running":  # this run so far (up to its last sign of life when its driver is gone)
        end = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if _driver_alive(study) else study.updated
        wall += max(0.0, (end - study.started).total_seconds())
    lines.append(f"time     {fmt_duration(wall)} over {study.runs} run(s); created {study.created:%Y-%m-%d %H:%M} UTC")
    for t in trials:
        if t.state == "running":
            acc = f", val_acc {t.val_acc:.4f}" if t.val_acc is not None else ""
            lines.append(f"running  #{t.number}: epoch {t.epochs_done} done{acc} ({_values(t.parameters)})")
    return "\n".join(lines)


def _driver_alive(study: Any) -> bool:
    import os
    import socket

    if study.driver_host != socket.gethostname() or not study.driver_pid:
        return True  # another host: cannot tell
    try:
        os.kill(study.driver_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmd_delete(args: argparse.Namespace) -> int:
    from scalesearch.search.study import open_optuna_storage
    from scalesearch.store import Reader, Store, describe_url

    reader = Reader(args.db)  # read-only first: a missing database or study is an error that writes nothing
    try:
        study = reader.study(args.study)
        n_trials = sum(reader.counts(args.study).values())
        n_epochs = reader.epoch_count(args.study)
        url, where = reader.url, describe_url(reader.url)
    finally:
        reader.close()
    if study.driver_host and study.driver_pid and _driver_alive(study):  # claimed: running, or starting
        raise ValueError(f"delete {args.study}: its driver ({study.driver_host}, pid {study.driver_pid}) is still "
                         "running or cannot be checked from this host; stop it first (Ctrl-C, or SIGTERM to that "
                         "pid)")
    what = f"study {args.study!r} with its {n_trials} trials and {n_epochs} epochs, and its Optuna study, from {where}"
    if not args.yes:
        raise ValueError(f"delete {args.study}: would delete {what}; pass --yes to delete them")
    import optuna

    storage = open_optuna_storage(url)
    try:
        optuna.delete_study(study_name=args.study, storage=storage)
    except KeyError:
        pass  # a study stored without its Optuna side (or already half-deleted): ours still goes
    finally:
        storage.engine.dispose()
    store = Store(url)
    try:
        store.delete_study(args.study)
    finally:
        store.close()
    print(f"deleted {what}")
    return 0


def _cmd_studies(args: argparse.Namespace) -> int:
    from scalesearch.store import Reader

    reader = Reader(args.db)
    try:
        print(_studies_table(reader))
    finally:
        reader.close()
    return 0


def _studies_table(reader: Any) -> str:
    from scalesearch.search.progress import fmt_duration
    from scalesearch.store import describe_url

    studies = reader.studies()
    if not studies:
        return f"no studies in {describe_url(reader.url)}"
    rows = [("study", "state", "sampler", "done", "completed", "rejected", "best val_acc", "wall", "created")]
    for s in studies:
        counts = reader.counts(s.name)
        done = sum(counts.get(k, 0) for k in ("completed", "failed", "stopped"))
        configs = _configs(reader.trials(s.name, states=("completed", "failed", "stopped")))
        best = f"{max(c[0] for c in configs):.4f}" if configs else "-"
        rows.append((s.name, s.state, s.sampler, f"{done}/{s.planned}" if s.planned else str(done),
                     str(counts.get("completed", 0)), str(counts.get("rejected", 0)), best,
                     fmt_duration(s.wall_seconds), f"{s.created:%Y-%m-%d %H:%M}"))
    return _table(rows)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


_QUERY_COLUMNS = ("number", "state", "point", "repeat", "macs", "params", "acts", "val_acc", "best_val_acc",
                  "test_acc", "epochs_done", "seconds", "seed", "optuna_trial", "key", "netspec_hash", "error",
                  "rejected_by")
