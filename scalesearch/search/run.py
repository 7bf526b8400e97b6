"""Running a study: `run_study` builds the Tune run around the driver (the searcher asking it, the trainable with
the dataset in Ray's object store, ASHA when the spec asks for it, the time budget) and ends it in every way a
run ends: finished, out of time, interrupted (Ctrl-C, or SIGTERM, which stops it the same way), a database that
refuses writes or whose file was deleted (one-line error; resume continues), or a bug (traceback).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from scalesearch.search.driver import Driver
from scalesearch.search.progress import Progress
from scalesearch.search.state import Outcome
from scalesearch.search.study import SAMPLER_SEED_SALT, make_sampler, open_optuna_storage
from scalesearch.search.warmstart import apply_warm_start
from scalesearch.spec import SearchSpec
from scalesearch.store import DatabaseFileLost, Store, StoreWriteError, StudyRecord, describe_url, now, sqlite_path

__all__ = ["run_study"]


def run_study(spec: SearchSpec, store: Store, record: StudyRecord, *, session: Any, progress: Progress | None = None,
              on_start: Callable[[Driver], None] | None = None) -> Outcome:
    """Run (or continue) a study on Ray Tune until it is finished, interrupted or out of time.

    Args:
        spec: the SearchSpec (with the study's name).
        store: the writer (the study row exists).
        record: the study's record.
        session: the `scalesearch.search.cluster.RaySession`.
        progress: receives the driver's events.
        on_start: called with the driver before Tune starts (tests use it).
    """
    from scalesearch.search.cluster import set_ray_environment

    set_ray_environment()  # before Tune is first imported: it reads some of it then
    import optuna
    from ray import tune

    from scalesearch.search.searcher import DriverSearcher, register, unregister
    from scalesearch.search.trainable import trial_trainable

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = spec.search
    progress = progress or Progress()
    t_start = time.monotonic()
    storage = open_optuna_storage(store.url)
    sampler_seed = spec.seed if record.runs == 0 else int(hashlib.sha256(
        f"{SAMPLER_SEED_SALT}:{spec.seed}:{record.runs}".encode()).hexdigest()[:8], 16)
    directions = ["maximize" if o.direction == "max" else "minimize" for o in s.objectives]
    study = optuna.create_study(storage=storage, study_name=spec.study, directions=directions,
                                sampler=make_sampler(spec, sampler_seed), load_if_exists=True)
    if record.runs == 0:
        study.set_user_attr("scalesearch", {"objectives": [[o.name, o.direction] for o in s.objectives],
                                            "spec_hash": record.spec_hash})
    threads = max(1, int(s.resources.cpus))
    driver = Driver(spec, store, study, record, progress=progress, threads=threads)
    if s.warm_start is not None:  # after the driver failed what a killed run left waiting: the front is enqueued now
        apply_warm_start(study, spec, store.url)
    spent = record.wall_seconds + driver.killed_run_s
    budget = None
    if s.time_budget_s is not None:
        budget = max(0.0, s.time_budget_s - spent)
        driver.counts.budget_s = budget
    store.update_study(spec.study, state="running", message=None, started=now(), runs=record.runs + 1,
                       planned=driver.counts.planned, driver_host=socket.gethostname(), driver_pid=os.getpid(),
                       ray_address=session.address, finished=None)
    progress.begin({"study": spec.study, "db": describe_url(store.url), "sampler": s.sampler,
                    "concurrency": s.max_concurrency, "repeats": s.repeats, "ray": session.address,
                    "started_ray": session.started, "budget_s": budget, "resumed": record.runs > 0}, driver.counts)
    if on_start is not None:
        on_start(driver)
    store_path = sqlite_path(store.url)
    reason = ""
    lost: StoreWriteError | None = None
    source_id = register(driver)
    tmp = tempfile.mkdtemp(prefix="scalesearch-tune-")
    term = _SigtermAsInterrupt()
    try:
        if budget is not None and budget <= 0:
            reason = f"the time budget of {s.time_budget_s:g} s is used up"
        else:
            data = _load_data(spec, driver)
            if s.prefilter is not None:
                driver.claims.set_score_data(data)
            trainable = tune.with_resources(tune.with_parameters(trial_trainable, data=data),
                                            {"cpu": s.resources.cpus, "gpu": s.resources.gpus})
            scheduler = _scheduler(spec)
            if scheduler is not None and record.runs > 0:
                scheduler.restore(_rung_history(store, spec))
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=DriverSearcher(source_id), scheduler=scheduler,
                                            num_samples=-1, max_concurrent_trials=s.max_concurrency,
                                            reuse_actors=True, time_budget_s=budget,
                                            trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
                run_config=tune.RunConfig(name=f"scalesearch-{spec.study}", storage_path=tmp, verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=0),
                                          callbacks=[_callbacks(source_id)]),
            )
            quiet_tune_loggers()
            tuner.fit()
            if budget is not None and time.monotonic() - t_start >= budget and not driver.complete:
                reason = f"the time budget of {s.time_budget_s:g} s is used up"
    except KeyboardInterrupt:
        reason = "interrupted"
    except BaseException as e:
        lost = _storage_error(e, store.url)
        if lost is None:
            reason = f"failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
            raise
    finally:
        term.restore()
        unregister(source_id)
        shutil.rmtree(tmp, ignore_errors=True)
        restored = None
        if isinstance(lost, DatabaseFileLost):
            try:  # write the database the open connections still see back to its path; the run ends there
                restored = store.restore_file(storage.engine)
            except (OSError, sqlite3.Error) as e:
                lost = DatabaseFileLost(f"{lost}; writing it back failed too ({e})")
        was_complete = driver.complete
        try:
            driver.finish(tell_optuna=lost is None or restored == store_path)
        except StoreWriteError:
            if lost is None:
                raise
        wall = time.monotonic() - t_start
        if lost is not None:
            state, message = "interrupted", f"stopped: {lost}; `scalesearch resume {spec.study}` continues it"
        elif was_complete:
            state, message = "finished", driver.note or "every planned trial ended"
        elif reason.startswith("the time budget"):
            state, message = "finished", reason
        elif reason.startswith("failed"):
            state, message = "failed", f"the driver {reason}; `scalesearch resume {spec.study}` continues it"
        else:
            state = "interrupted"
            why = "stopped by SIGTERM" if term.received else "interrupted"
            message = f"{why}; `scalesearch resume {spec.study}` continues it"
        incidents = driver.incident_summary()
        if incidents:
            message = f"{message}; {incidents}"
        try:
            store.update_study(spec.study, state=state, message=message,
                               finished=now() if state == "finished" else None, wall_seconds=spent + wall,
                               driver_pid=None)
        except StoreWriteError:
            if lost is None:
                raise
        progress.end(driver.counts)
    if lost is not None:
        c = driver.counts
        so_far = f"{c.completed} completed, {c.failed} failed, {c.interrupted} interrupted"
        if isinstance(lost, DatabaseFileLost) and restored is not None:
            db = "" if restored == store_path else f" --db {restored}"
            raise DatabaseFileLost(f"{lost}; the search stopped ({so_far}) and saved the database it still had open "
                                   f"back to {restored}; `scalesearch resume {spec.study}{db}` continues it")
        raise StoreWriteError(f"{lost}; the search stopped ({so_far}); `scalesearch resume {spec.study}` continues "
                              "it once the database can be written again") from None
    return Outcome(state, message, driver.counts, wall)


class _SigtermAsInterrupt:
    """While a search runs (in the main thread), SIGTERM stops it the way Ctrl-C does: Tune's own SIGINT handler
    ends the run, running jobs are stored as interrupted and Ray is shut down. Outside `Tuner.fit` it raises
    KeyboardInterrupt, as Ctrl-C would."""

    def __init__(self) -> None:
        self.received = False
        self._prev: Any = None
        if threading.current_thread() is threading.main_thread():
            self._prev = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = True
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not self._handle:
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    def restore(self) -> None:
        """Put the previous SIGTERM handler back."""
        if self._prev is not None:
            signal.signal(signal.SIGTERM, self._prev)
            self._prev = None


def _storage_error(e: BaseException, url: str) -> StoreWriteError | None:
    """The database write failure behind `e` (ours, or Optuna's StorageInternalError around SQLAlchemy's
    OperationalError) as a one-line StoreWriteError; None when `e` is something else."""
    import sqlalchemy as sa

    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        if isinstance(x, StoreWriteError):
            return x
        if isinstance(x, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            msg = " ".join(str(getattr(x, "orig", None) or x).split())[:200]
            return StoreWriteError(f"--db {describe_url(url)}: cannot write to the database ({msg})")
        x = x.__cause__ or x.__context__
    return None


def _load_data(spec: SearchSpec, driver: Driver) -> Any:
    """The study's dataset, loaded once in the driver and handed to every trial through Ray's object store (a
    trial at a scaled resolution loads its own: `trial.job.run`)."""
    from scalesearch.trial.job import data_config, load_data

    return load_data(data_config(spec.dataset), device="cpu", test=bool(dict(spec.train).get("eval_test", False)))


def _scheduler(spec: SearchSpec) -> Any:
    """The spec's early stopping as a `RungScheduler`: ASHA (one bracket, `metric` maximised: Ray's ASHA's rule,
    tested against it), MO-ASHA (one bracket, every objective) or Hyperband (several brackets); None without."""
    es = spec.search.early_stopping
    if es is None:
        return None
    from scalesearch.strategies.moasha import RungScheduler
    from scalesearch.strategies.rungs import rung_plan

    epochs = dict(spec.train).get("epochs", 10)
    max_t = epochs if isinstance(epochs, int) else 1000
    brackets, deal, objectives = rung_plan(es.type, es.grace_epochs, es.reduction_factor, max_t,
                                           [(o.name, o.direction) for o in spec.search.objectives],
                                           brackets=es.brackets, band_ratio=es.cost_band)
    return RungScheduler(brackets, es.metric, objectives, deal=deal)

def _rung_history(store: Store, spec: SearchSpec) -> list[tuple[str, dict[str, Any], list[tuple[int, Any]]]]:
    """What a resumed search's scheduler restores: each finished trial (complete, stopped or failed, with epochs),
    in the order the trials were numbered, as (key, counted costs, [(epoch, the rung metric)])."""
    metric = spec.search.early_stopping.metric
    curves: dict[int, list[tuple[int, Any]]] = {}
    for e in store.epochs(spec.study):
        curves.setdefault(e.number, []).append((e.epoch, getattr(e, metric, None)))
    return [(f"stored-{t.number}", {"macs": t.macs, "params": t.params}, curves[t.number])
            for t in store.trials(spec.study, states=("completed", "stopped", "failed")) if t.number in curves]


def _trial_name(trial: Any) -> str:
    return f"t{trial.trial_id}"


def quiet_tune_loggers() -> None:
    import logging

    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # the final experiment-state save races its own sync (see cluster._RAY_ENV); nothing of it is used
    logging.getLogger("ray.tune.execution.experiment_state").setLevel(logging.CRITICAL)
    # a trial whose worker died: the driver stores (or reruns) it and says so; Tune's traceback adds nothing
    logging.getLogger("ray.tune.execution.tune_controller").setLevel(logging.CRITICAL)
    logging.getLogger("ray.tune.tune").setLevel(logging.CRITICAL)  # "Trials did not complete: [...]"


def _trial_error_text(trial: Any) -> str | None:
    """The latest error Tune recorded for a trial: its local error file (`Trial.get_error` reads the synced copy,
    which does not exist yet when the callback runs)."""
    path = getattr(trial, "error_file", None)
    try:
        if path and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read().rsplit("Failure # ", 1)[-1].split("\n", 1)[-1].strip() or None
    except OSError:
        pass
    try:
        err = trial.get_error()
    except Exception:  # noqa: BLE001 - informational
        err = None
    return None if err is None else str(err)


def _trim(trial: Any) -> None:
    """Drop what Tune keeps of an ended trial that nothing here reads. Tune keeps every trial of a run; without
    this the driver grew by 87 KB per trial (benchmarks/soak.py), 48 KB of it these two: the running statistics
    of every numeric result field (min/max/avg/last-5/last-10 with two deques per field; only
    `ExperimentAnalysis.get_best_trial` reads them) and the flattened copy of the trial's config."""
    md = getattr(trial, "run_metadata", None)
    if md is not None:
        md.metric_analysis = {}
        md.metric_n_steps = {}
        if hasattr(md, "invalidate_cache"):
            md.invalidate_cache()
    if hasattr(trial, "evaluated_params"):
        trial.evaluated_params = {}


def _callbacks(source_id: int) -> Any:
    """A Tune callback that hands Tune's error text of a failed trial (a dead worker, an error outside training)
    to the driver, trims every ended trial (`_trim`), and takes a final report's trained weights out of the result
    before Tune keeps it (Tune keeps every trial's last result for the whole run and writes them all into its
    experiment state at the end: with the weights in, the driver held every trained network of the search)."""
    from ray.tune import Callback

    class _DriverCallback(Callback):
        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            weights = result.pop("weights", None)  # Tune lets a callback change the result in place
            if weights is None:
                return
            from scalesearch.search.searcher import JOB_SOURCES

            driver = JOB_SOURCES.get(source_id)
            key = (trial.config or {}).get("key")
            if driver is not None and key is not None:
                driver.job_weights(key, weights)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            from scalesearch.search.searcher import JOB_SOURCES

            _trim(trial)
            driver = JOB_SOURCES.get(source_id)
            key = (trial.config or {}).get("key")
            if driver is None or key is None:
                return
            driver.job_error(key, _trial_error_text(trial) or "the trial's Ray worker failed")

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            _trim(trial)

    return _DriverCallback()
