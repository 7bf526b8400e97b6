"""`run` and `resume`: a search from Python, exactly as `scalesearch run` / `scalesearch resume` do it.

The CLI's run and resume commands are one call each into these. A spec is a YAML file's path, a mapping with the
file's structure, or a loaded SearchSpec; the database is any SQLAlchemy URL or a SQLite file path (default
`results/scalesearch.db`); Ray is a local one bound to 127.0.0.1 unless `address` names a cluster (a Ray this
process already runs is reused and left running).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from scalesearch.errors import InputError
from scalesearch.search.progress import Counts, Progress, make_progress
from scalesearch.search.state import Outcome
from scalesearch.search.summary import ALREADY_FINISHED, configs_of, pareto_configs
from scalesearch.spec.origin import SpecSource, spec_source

__all__ = ["Outcome", "resume", "run"]


def run(spec: SpecSource, *, db: str | None = None, study: str | None = None, address: str | None = None,
        progress: bool | Progress = True) -> Outcome:
    """Run the search a spec describes: Optuna chooses the candidates, Ray Tune trains them, every result is
    stored. A study that exists with the same spec continues where it stopped (a finished one trains nothing).

    Args:
        spec: a spec `.yaml` path, a mapping with a spec file's structure, or a SearchSpec.
        db: a SQLAlchemy URL or SQLite file path (default `sqlite:///results/scalesearch.db`).
        study: the study's name (default: the spec's `study`).
        address: HOST:PORT of a running Ray cluster to join (default: a local Ray on 127.0.0.1).
        progress: True prints progress lines (a live status line on a terminal), False prints nothing, or a
            `scalesearch.search.progress.Progress` of your own receives the events.

    Returns:
        The Outcome: state (finished, interrupted or failed), message, counts, wall_s, the best configuration's
        first trial and mean val_acc, and the accuracy-vs-MACs front.

    Raises:
        ScalesearchError: a bad spec (SpecError), study name, database URL or address, a study that exists
            with another spec or that another process is running, or a study's output folder (the folder of its
            name beside the database) that exists and is not scalesearch's (`util.files.OutputFolderError`); nothing
            is written then.

    Example:
        >>> import scalesearch  # doctest: +SKIP
        >>> out = scalesearch.run("spaces/quickstart.yaml", db="sqlite:///results/mine.db")  # doctest: +SKIP
        >>> out.state, out.best_val_acc  # doctest: +SKIP
        ('finished', 0.781)
    """
    from scalesearch.spec import check_space
    from scalesearch.spec.schema import STUDY_RE

    loaded, text, file = spec_source(spec)
    if study is not None:
        if not isinstance(study, str) or not STUDY_RE.match(study):
            raise InputError(f"--study {study!r}: expected letters, digits, '_', '-', '.' (at most 64, starting "
                             "with a letter or digit)")
        loaded = dataclasses.replace(loaded, study=study)
    check_space(loaded)  # the same checks as `scalesearch validate`: an infeasible space fails here, untrained
    _check_outputs(db, loaded.study)
    _decode_files(loaded.dataset)
    if loaded.search.warm_start is not None:  # the old study is read now: one that cannot serve is one line
        from scalesearch.search.warmstart import check_warm_start
        from scalesearch.store import normalize_url

        check_warm_start(loaded, normalize_url(db))
    return _search(loaded, text, file, db, address, progress)


def _check_outputs(db: str | None, study: str) -> None:
    """The study's output folder (kept weights, checkpoints) is scalesearch's or absent: else one line, before the
    database is opened for writing."""
    from scalesearch.search.weights import check_study_folder
    from scalesearch.store import normalize_url
    from scalesearch.store.engine import check_driver

    url = normalize_url(db)
    check_driver(url)  # a URL that cannot be opened is named first, as the store would
    check_study_folder(url, study)


def _decode_files(ds: Any) -> None:
    """Decode an image folder's or npz file's data into the cache now: a file that does not decode is one line,
    before the database is touched (the probe at parse time read only names and headers)."""
    from scalesearch.data.catalog import DATASETS

    if DATASETS[ds.name].files:
        from scalesearch.data.own import decode

        decode(ds.name, ds.path, channels=ds.channels, resolution=ds.resolution)


def resume(study: str, *, db: str | None = None, address: str | None = None,
           progress: bool | Progress = True) -> Outcome:
    """Continue a study from the database alone: finished trials are kept, trials that were running when it
    stopped are trained again, nothing finished is trained twice. Arguments and result as `run`."""
    from scalesearch.search.study import stored_spec, upgrade_database
    from scalesearch.store import OutdatedSchema, Reader

    try:
        with Reader(db) as reader:
            rec = reader.study(study)
    except OutdatedSchema:  # a database of an older scalesearch: resume upgrades it, as run does
        upgrade_database(db)
        with Reader(db) as reader:
            rec = reader.study(study)
    _check_outputs(db, rec.name)
    return _search(stored_spec(rec), rec.spec_text, rec.spec_file, db, address, progress)


def _search(spec: Any, text: str, file: str | None, db: str | None, address: str | None,
            progress: bool | Progress) -> Outcome:
    from scalesearch.search.cluster import connect, probe_address
    from scalesearch.search.study import prepare_study, release_study
    from scalesearch.store import Store, describe_url

    if address is not None:
        probe_address(address)  # before the database is touched
    shown = progress if isinstance(progress, Progress) else make_progress() if progress else Progress()
    with Store(db) as store:
        record = prepare_study(store, spec, spec_text=text, spec_file=file)
        if record.state == "finished":  # the same spec already ran to its end: nothing to train, no Ray needed
            outcome = Outcome("finished", f"{ALREADY_FINISHED} ({record.message})" if record.message else
                              ALREADY_FINISHED, _counts(store, spec.study), 0.0)
        else:
            from scalesearch.search.run import run_study

            s = spec.search
            cpus = max(float(os.cpu_count() or 1), s.max_concurrency * s.resources.cpus) + s.resources.cpus
            try:
                session = connect(address, num_cpus=cpus)
            except BaseException:
                release_study(store, spec.study)  # the run never started: the study is not ours any more
                raise
            try:
                outcome = run_study(spec, store, store.study(spec.study), session=session, progress=shown)
            finally:
                session.close()
        _, trials = store.snapshot(spec.study)
        configs = configs_of(trials)
        best = max(configs, key=lambda c: c[0]) if configs else None
        return dataclasses.replace(
            outcome, study=spec.study, db=describe_url(store.url), best=best[2] if best else None,
            best_val_acc=best[0] if best else None, front=[t for _, _, t in pareto_configs(configs)])


def _counts(store: Any, name: str) -> Counts:
    """The stored trials of a study by state, as the driver counts them."""
    stored = store.counts(name)
    return Counts(**{f.name: stored.get(f.name, 0) for f in dataclasses.fields(Counts)
                     if f.name in ("completed", "failed", "stopped", "rejected", "running", "queued", "interrupted")})
