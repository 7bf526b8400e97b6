"""The study driver: Optuna's ask/tell on a study stored in the results database; Ray Tune runs the trials.

One process drives a study and is the only writer of its rows. Flow of one configuration:

    Optuna ask -> sample_params -> resolve (NetSpec, costs, constraints) -> rejected? store it, tell PRUNED with its
    constraint values (never trained) -> known? tell the stored result (dedupe) -> else store one queued row per
    repeat, hand the jobs to Tune one by one (`next_job`), store each epoch as it arrives, store each job's end
    (completed, failed with its error, stopped early by ASHA with its last metrics) -> when every repeat has
    ended, tell Optuna once: the mean over repeats (COMPLETE), PRUNED if ASHA stopped a repeat, FAIL if one failed.

Where the candidates come from, in order: configurations an earlier run left unfinished (queued, interrupted),
the baseline and the named points, then the sampler: for `grid`, the driver walks the grid itself in the spec's
order (Optuna's GridSampler, the study's sampler for Optuna's tools, repeats points once the grid is used up and
raises on the last tell) and enqueues each unclaimed point; `random`, `tpe` and `nsga2` are Optuna's samplers,
seeded with the study seed (a resumed study reseeds with the seed and the run number, so that it does not replay
proposals it has). A point that is not a value of Optuna's distributions (an off-grid baseline, an override of a
fixed parameter) is trained without an Optuna trial.

Constraints are handed to Optuna in its own terms: `Trial.set_constraint` with a graded violation
(`scalesearch.search.constraints`), on every trial, so TPE and NSGA-II learn where the feasible region is.
`trials` counts the configurations the sampler claims for training (rejected and duplicate proposals do not
count; 200 such proposals in a row end the search as exhausted); named points come on top.

Resume: the database is the checkpoint. A killed driver leaves Optuna trials RUNNING (Optuna's heartbeat does not
work with ask/tell) and rows running or queued; the next run fails those Optuna trials (they are re-asked with
the same parameters), marks the rows interrupted and trains them again under the same keys, and re-tells finished
configurations from the stored results without training them. Tune's own restore is not used (it brings back a
stale searcher).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from scalesearch.search.constraints import constraint_values
from scalesearch.store import (DatabaseFileLost, Store, StoreWriteError, StudyRecord, TrialRecord, describe_url, now,
                               sqlite_path)
from scalesearch.trial import Job, job_for_candidate

__all__ = ["Counts", "Driver", "Outcome", "Progress", "open_optuna_storage", "prepare_study", "provenance", "run_study",
           "spec_fits", "stored_spec"]

MAX_IDLE_PROPOSALS = 200  # rejected or already-known proposals in a row that end a sampler's search
MAX_ATTEMPTS = 3  # starts of one job whose Ray worker dies (its node lost, the process killed) before it is failed
_SAMPLER_SEED_SALT = "scalesearch-sampler"


# ---------------------------------------------------------------------------------------------------------------
# Progress counters (what the display shows)

@dataclass
class Counts:
    """Trials by state in this study (all runs), the best so far and the planned total."""

    completed: int = 0
    failed: int = 0
    stopped: int = 0
    rejected: int = 0
    running: int = 0
    queued: int = 0
    interrupted: int = 0
    planned: int | None = None  # jobs the search will train in all (None: unknown)
    best: float | None = None
    best_label: str = ""
    objective: str = "val_acc"
    started: float = field(default_factory=time.monotonic)
    done_this_run: int = 0
    budget_s: float | None = None

    @property
    def done(self) -> int:
        """Jobs that ended (completed, failed, stopped)."""
        return self.completed + self.failed + self.stopped

    def eta_s(self) -> float | None:
        """Estimated seconds left: the jobs left at this run's rate, capped by the time budget."""
        elapsed = time.monotonic() - self.started
        left = None
        if self.planned is not None and self.done_this_run > 0:
            remaining = max(0, self.planned - self.done)
            left = elapsed / self.done_this_run * remaining
        if self.budget_s is not None and left is not None:
            left = min(left, max(0.0, self.budget_s - elapsed))
        return left


class Progress:
    """The driver's events; `scalesearch.search.progress` draws them. This base class ignores them."""

    def begin(self, info: Mapping[str, Any], counts: Counts) -> None:
        """The search starts (info: study, db, sampler, concurrency, ray address...)."""

    def event(self, kind: str, text: str, counts: Counts) -> None:
        """Something happened: kind is started, epoch, completed, failed, stopped, rejected, note."""

    def end(self, counts: Counts) -> None:
        """The search ended."""


# ---------------------------------------------------------------------------------------------------------------
# Optuna

def open_optuna_storage(url: str) -> Any:
    """Optuna's RDBStorage on the results database, with the same SQLite settings as the store."""
    import optuna
    from sqlalchemy import event

    from scalesearch.store.engine import BUSY_TIMEOUT_S

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    if storage.engine.dialect.name == "sqlite":
        @event.listens_for(storage.engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        storage.engine.dispose()  # connections opened while the tables were created had no listener yet
    return storage


def _make_sampler(spec: Any, seed: int) -> Any:
    import optuna

    from scalesearch.spec import grid_space

    kind = spec.search.sampler
    if kind == "grid":
        class _DriverGrid(optuna.samplers.GridSampler):
            """GridSampler whose end-of-grid `study.stop()` is left out: the driver walks the grid itself."""

            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                return None

        space = grid_space(spec) if spec.sampled else {"_": [0]}
        return _DriverGrid(space, seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if kind == "nsga2":
        trials = spec.search.trials or 100
        # Optuna's default population of 50 leaves a search of 40 trials with no second generation.
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, trials // 3)))
    raise ValueError(f"search.sampler: unknown sampler {kind!r}")  # pragma: no cover - the spec checks it


def spec_fits(spec: Any, params: Mapping[str, Any]) -> bool:
    """Whether `params` are values Optuna's distributions of the sampled parameters accept, and nothing else."""
    from scalesearch.spec import ChoiceParam, FloatParam, GridParam, IntParam

    sampled = {p.name: p for p in spec.sampled}
    if set(params) - set(sampled):
        return False
    for name, p in sampled.items():
        if name not in params:
            return False
        v = params[name]
        if isinstance(p, IntParam):
            if type(v) is not int or not p.low <= v <= p.high or (v - p.low) % p.step:
                return False
        elif isinstance(p, FloatParam):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not p.low <= v <= p.high:
                return False
            if p.step is not None and abs(round((v - p.low) / p.step) * p.step - (v - p.low)) > 1e-9 * max(1, abs(v)):
                return False
        elif isinstance(p, (GridParam, ChoiceParam)):
            if not any(type(v) is type(c) and v == c for c in p.values()):
                return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Provenance

def provenance() -> tuple[dict[str, Any], dict[str, Any]]:
    """(package versions, hardware) recorded with a study."""
    from importlib import metadata

    versions: dict[str, Any] = {"python": platform.python_version()}
    for pkg in ("scalesearch", "torch", "optuna", "ray", "sqlalchemy", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[pkg] = None
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    hardware: dict[str, Any] = {"host": socket.gethostname(), "platform": platform.platform(), "cpu": cpu,
                                "cpus": os.cpu_count()}
    try:
        hardware["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        pass
    try:
        import torch

        if torch.cuda.is_available():
            hardware["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - informational
        pass
    return versions, hardware


# ---------------------------------------------------------------------------------------------------------------
# The driver

@dataclass
class _Result:
    """A finished job, as far as telling Optuna needs it."""

    state: str
    val_acc: float | None
    test_acc: float | None
    latency_ms: float | None
    error: str | None
    epochs: dict[int, float] | None = None  # epoch -> val_acc (jobs of this run only)


@dataclass
class _Config:
    """A configuration claimed in this run: its repeats' jobs and the Optuna trials waiting for it."""

    config_key: str
    params: dict[str, Any]
    candidate: Any
    point: str | None
    jobs: list[Job]
    trials: list[Any] = field(default_factory=list)  # optuna.Trial objects


@dataclass
class _Running:
    job: Job
    config_key: str
    epochs: dict[int, float] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    number: int = -1
    attempt: int = 1
    node: str | None = None  # where it runs (from its first report)


@dataclass
class _Incident:
    """A job whose Ray worker was lost (its node died, or the process was killed) and that was queued again."""

    number: int
    node: str | None
    attempt: int
    error: str = ""


@dataclass
class Outcome:
    """How a run ended. `state`: finished, interrupted (resume continues) or failed."""

    state: str
    message: str
    counts: Counts
    wall_s: float


def _result_of(rec: TrialRecord) -> _Result:
    metrics = rec.metrics or {}
    return _Result(rec.state, rec.val_acc, rec.test_acc, metrics.get("latency_ms"), rec.error)


def _label(values: Mapping[str, Any], limit: int = 5) -> str:
    items = []
    for k, v in list(values.items())[:limit]:
        items.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(items) + (", ..." if len(values) > limit else "")


def _invalid_key(params: Mapping[str, Any], why: str) -> str:
    blob = json.dumps({"invalid": why, "params": {k: params[k] for k in sorted(params)}}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Driver:
    """One run of a study: the job source of `DriverSearcher` and the only writer of the study's rows.

    Args:
        spec: the SearchSpec (its `study` is the study's name).
        store: the writer.
        study: the Optuna study (on the same database).
        record: the study's stored record (runs already made: `record.runs`).
        progress: receives events.
        threads: torch threads per trial.
    """

    def __init__(self, spec: Any, store: Store, study: Any, record: StudyRecord, *, progress: Progress | None = None,
                 threads: int = 1) -> None:
        from scalesearch.spec import resolve_point

        self.spec = spec
        self.name = spec.study
        self.store = store
        self.study = study
        self.progress = progress or Progress()
        self.threads = threads
        s = spec.search
        self.repeats = s.repeats
        self.objectives = s.objectives
        self.latency = any(o.name == "latency" for o in s.objectives)
        self.device = "cuda" if s.resources.gpus > 0 else "cpu"
        self.base = None
        if spec.baseline is not None:
            b = resolve_point(spec, "baseline")
            self.base = (b.macs, b.params, b.acts)
        self.counts = Counts(budget_s=None, objective=s.objectives[0].name)
        self._queue: collections.deque[Job] = collections.deque()
        self._inflight: dict[str, _Running] = {}
        self._configs: dict[str, _Config] = {}
        self._results: dict[str, _Result] = {}
        self._rejected: set[str] = set()
        self._known_rows: dict[str, TrialRecord] = {}
        self._sampler_claimed: set[str] = set()
        self._grid_claimed = 0
        self._idle = 0
        self.exhausted = False
        self.note = ""
        self._beat = time.monotonic()
        self.killed_run_s = 0.0
        self.incidents: list[_Incident] = []
        self._lost: dict[str, _Incident] = {}  # requeued jobs whose Tune error text has not arrived yet
        self._load(record)

    # -- state from the database ---------------------------------------------------------------------------

    def _load(self, record: StudyRecord) -> None:
        from optuna.trial import TrialState

        # Optuna: trials a killed run left RUNNING (or enqueued and never asked) fail; they are asked again below.
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            self.study._storage.set_trial_user_attr(t._trial_id, "scalesearch_state", "interrupted")
            self.study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        self.store.interrupt_running(self.name)
        if record.state == "running" and record.runs > 0:  # the last run was killed: count it up to its last beat
            lost = max(0.0, (record.updated - record.started).total_seconds())
            self.killed_run_s = lost
        rows = self.store.trials(self.name)
        rerun: dict[str, TrialRecord] = {}
        for r in rows:
            self._known_rows[r.key] = r
            if r.state == "rejected":
                self._rejected.add(r.key)
            elif r.state in ("completed", "failed", "stopped"):
                self._results[r.key] = _result_of(r)
            else:  # queued or interrupted: train again
                rerun.setdefault(r.config_key, r)
            if r.point is None and r.state != "rejected":
                self._sampler_claimed.add(r.config_key)
        self._reruns = collections.deque((dict(r.parameters), r.point) for r in rerun.values())
        done_points = {r.point for r in rows if r.point is not None}
        self._points = collections.deque((self.spec.point(n).as_dict(), n) for n in self.spec.point_names
                                         if n not in done_points)
        for r in rows:
            self._count_row(r.state, +1)
            self._update_best(r)
        self._grid = self._grid_points() if self.spec.search.sampler == "grid" else None
        self._grid_pos = 0
        self._grid_claimed = len(self._sampler_claimed)  # grid configurations claimed by earlier runs count
        self.counts.planned = self._planned()

    def _grid_points(self) -> list[dict[str, Any]]:
        from scalesearch.spec import grid_space

        space = grid_space(self.spec)
        names = list(space)
        return [dict(zip(names, combo)) for combo in itertools.product(*space.values())]

    def _planned(self) -> int | None:
        """Jobs this study trains in all (for the ETA); None when unknown."""
        from scalesearch.spec import resolve_candidate

        s = self.spec.search
        npoints = len(self.spec.point_names)
        if s.points_only:
            return npoints * self.repeats
        if s.sampler != "grid":
            return ((s.trials or 0) + npoints) * self.repeats
        assert self._grid is not None
        if len(self._grid) > 20000:
            return None
        keys: set[str] = set()
        for params in self._grid:
            try:
                c = resolve_candidate(self.spec, params)
            except ValueError:
                continue
            if c.feasible:
                keys.add(self._config_key(c))
            if s.trials is not None and len(keys) >= s.trials:
                break
        for n in self.spec.point_names:
            try:
                c = resolve_candidate(self.spec, self.spec.point(n).as_dict())
                if c.feasible:
                    keys.add(self._config_key(c))
            except ValueError:
                continue
        return len(keys) * self.repeats

    def _config_key(self, candidate: Any) -> str:
        return self._jobs(candidate)[0].config_key

    def _jobs(self, candidate: Any) -> list[Job]:
        return [job_for_candidate(candidate, self.spec.dataset, study_seed=self.spec.seed, repeat=r,
                                  device=self.device, latency=self.latency) for r in range(self.repeats)]

    def _count_row(self, state: str, d: int) -> None:
        if hasattr(self.counts, state):
            setattr(self.counts, state, getattr(self.counts, state) + d)

    def _update_best(self, r: TrialRecord) -> None:
        if r.state != "completed" or r.val_acc is None:
            return
        o = self.objectives[0]
        v = r.val_acc if o.name == "val_acc" else r.test_acc if o.name == "test_acc" else \
            r.macs if o.name == "macs" else r.params if o.name == "params" else (r.metrics or {}).get("latency_ms")
        if v is None:
            return
        better = self.counts.best is None or (v > self.counts.best if o.direction == "max" else v < self.counts.best)
        if better:
            self.counts.best = float(v)
            self.counts.best_label = f"#{r.number} {_label(r.parameters)}"

    # -- claiming candidates ----------------------------------------------------------------------------------

    def _claim_next(self) -> bool:
        """Claim the next candidate (training it, rejecting it or re-telling it); False when none is left."""
        if self._reruns:
            params, point = self._reruns.popleft()
            self._handle(params, point, trial=None)
            return True
        if self._points:
            params, point = self._points.popleft()
            self._handle(params, point, trial=None)
            return True
        s = self.spec.search
        if s.points_only:
            return False
        if s.sampler == "grid":
            return self._claim_grid()
        if s.trials is not None and len(self._sampler_claimed) >= s.trials:
            return False
        if self._idle >= MAX_IDLE_PROPOSALS:
            self.note = (f"the {s.sampler} sampler proposed {MAX_IDLE_PROPOSALS} candidates in a row that were "
                         "rejected or already trained: the space looks exhausted")
            return False
        from scalesearch.spec import sample_params

        trial = self.study.ask()
        try:
            params = sample_params(self.spec, trial)
        except Exception as e:  # noqa: BLE001 - a sampler error ends the search, it does not crash the driver
            self.study.tell(trial, state=_state("FAIL"))
            self.note = f"the sampler failed: {e}"
            return False
        outcome = self._handle(params, None, trial=trial)
        self._idle = 0 if outcome == "new" else self._idle + 1
        return True

    def _claim_grid(self) -> bool:
        assert self._grid is not None
        s = self.spec.search
        while self._grid_pos < len(self._grid):
            if s.trials is not None and self._grid_claimed >= s.trials:
                return False
            params = self._grid[self._grid_pos]
            self._grid_pos += 1
            outcome = self._handle(params, None, trial=None)
            if outcome == "new":
                self._grid_claimed += 1
            if outcome != "skipped":
                return True
        return False

    def _ask_fixed(self, params: Mapping[str, Any], point: str | None) -> Any | None:
        """An Optuna trial with exactly these parameter values (enqueued, then asked), or None when the values are
        not in Optuna's distributions (such points are trained without an Optuna trial)."""
        if not spec_fits(self.spec, params):
            return None
        from scalesearch.spec import sample_params

        attrs = {"scalesearch_point": point} if point else None
        self.study.enqueue_trial(dict(params), user_attrs=attrs)
        trial = self.study.ask()
        sample_params(self.spec, trial)  # registers each distribution with its fixed value
        return trial

    def _handle(self, params: dict[str, Any], point: str | None, trial: Any | None) -> str:
        """Resolve one candidate and act on it. `trial`: the Optuna trial that proposed it (None for reruns, points
        and grid points, whose trial is asked here only when there is something new). Returns new, known,
        rejected or skipped (a fixed candidate that needed nothing)."""
        from scalesearch.spec import InvalidArchitecture, SpecError, resolve_candidate

        fixed = trial is None
        try:
            cand = resolve_candidate(self.spec, params)
            why = "; ".join(cand.rejected_by) if not cand.feasible else ""
            jobs = None if why else self._jobs(cand)
        except InvalidArchitecture as e:
            cand, jobs, why = None, None, f"architecture: {e.reason or e.problem}"
        except (SpecError, ValueError) as e:
            cand, jobs, why = None, None, f"cannot resolve: {' '.join(str(e).split())[:300]}"
        if jobs is None:  # rejected
            key = (self._jobs_or_none(cand) if cand is not None else None) or _invalid_key(params, why)
            if key in self._rejected:
                if fixed:
                    return "skipped"
                self._tell_rejected(trial, cand, why)
                return "rejected"
            if fixed:
                trial = self._ask_fixed(params, point)
            self._tell_rejected(trial, cand, why)
            rec = self.store.add_rejected(self.name, self._row_fields(params, point, cand, None, trial) |
                                          {"key": key, "config_key": key, "rejected_by": list(
                                              cand.rejected_by if cand is not None else (why,))})
            self._rejected.add(key)
            self.counts.rejected += 1
            self.progress.event("rejected", f"#{rec.number} rejected ({_label(params)}): {why}", self.counts)
            return "rejected"
        assert cand is not None
        ck = jobs[0].config_key
        cfg = self._configs.get(ck)
        if cfg is not None:  # claimed in this run and not finished yet: wait for it
            if fixed:
                return "skipped"
            self._set_constraints(trial, cand)
            cfg.trials.append(trial)
            return "known"
        if all(j.key in self._results for j in jobs):  # trained before: tell the stored result
            if fixed:
                return "skipped"
            self._set_constraints(trial, cand)
            self._tell(_Config(ck, dict(params), cand, point, jobs, [trial]))
            return "known"
        if fixed:
            trial = self._ask_fixed(params, point)
        if trial is not None:
            self._set_constraints(trial, cand)
        cfg = _Config(ck, dict(params), cand, point, jobs, [trial] if trial is not None else [])
        self._configs[ck] = cfg
        todo = [j for j in jobs if j.key not in self._results]
        for j in todo:
            was = self._known_rows.get(j.key)
            if was is not None:
                self._count_row(was.state, -1)
            self.store.queue_trial(self.name, self._row_fields(params, point, cand, j, trial))
            self.counts.queued += 1
            self._queue.append(j)
        if point is None:
            self._sampler_claimed.add(ck)
        return "new"

    def _jobs_or_none(self, cand: Any) -> str | None:
        try:
            return job_for_candidate(cand, self.spec.dataset, study_seed=self.spec.seed, repeat=0,
                                     device=self.device).key
        except (ValueError, TypeError):
            return None

    def _row_fields(self, params: Mapping[str, Any], point: str | None, cand: Any, job: Job | None,
                    trial: Any | None) -> dict[str, Any]:
        f: dict[str, Any] = {"parameters": dict(params), "point": point,
                             "optuna_trial": trial.number if trial is not None else None,
                             "values": dict(cand.values) if cand is not None else dict(params)}
        if cand is not None:
            f.update(netspec=cand.netspec.to_json(), netspec_hash=cand.netspec.hash, macs=cand.macs,
                     params=cand.params, acts=cand.acts)
        if job is not None:
            f.update(key=job.key, config_key=job.config_key, train=dict(job.train), data=dict(job.data),
                     seed=job.seed, repeat=job.repeat)
        return f

    def _set_constraints(self, trial: Any, cand: Any) -> None:
        if trial is None or not self.spec.constraints:
            return
        for k, v in constraint_values(self.spec, cand, self.base).items():
            trial.set_constraint(k, v)

    # -- Optuna tells -------------------------------------------------------------------------------------------

    def _tell_rejected(self, trial: Any | None, cand: Any | None, why: str) -> None:
        if trial is None:
            return
        if cand is not None:
            self._set_constraints(trial, cand)
        trial.set_user_attr("scalesearch_state", "rejected")
        trial.set_user_attr("scalesearch_rejected_by", why[:500])
        self.study.tell(trial, state=_state("PRUNED"))

    def _tell(self, cfg: _Config) -> None:
        """All repeats of `cfg` ended: tell each Optuna trial waiting for it, once."""
        results = [self._results[j.key] for j in cfg.jobs]
        failed = [r for r in results if r.state == "failed"]
        values = None
        if failed:
            state, note = "FAIL", failed[0].error or "failed"
        elif any(r.state == "stopped" for r in results):
            state, note = "PRUNED", "stopped early by ASHA"
        else:
            values = self._values(cfg, results)
            state, note = ("COMPLETE", "") if values is not None else ("FAIL", "no objective value")
        for trial in cfg.trials:
            try:
                if state != "FAIL" and len(self.objectives) == 1 and self.objectives[0].name == "val_acc":
                    self._report_curve(trial, results)
                trial.set_user_attr("scalesearch_state", {"COMPLETE": "completed", "PRUNED": "stopped",
                                                          "FAIL": "failed"}[state])
                if note:
                    trial.set_user_attr("scalesearch_note", note[:500])
                if values is not None:
                    self.study.tell(trial, values)
                else:
                    self.study.tell(trial, state=_state(state))
            except Exception as e:  # noqa: BLE001 - a bad value must not stop the search
                self.progress.event("note", f"Optuna refused trial {trial.number}'s result: {e}", self.counts)
        self._configs.pop(cfg.config_key, None)

    def _values(self, cfg: _Config, results: list[_Result]) -> list[float] | None:
        out = []
        for o in self.objectives:
            if o.name in ("macs", "params"):
                v: float | None = float(getattr(cfg.candidate, o.name))
            else:
                attr = {"val_acc": "val_acc", "test_acc": "test_acc", "latency": "latency_ms"}[o.name]
                xs = [getattr(r, attr) for r in results]
                v = None if any(x is None for x in xs) else sum(xs) / len(xs)
            if v is None or not math.isfinite(v):
                return None
            out.append(v)
        return out

    @staticmethod
    def _report_curve(trial: Any, results: list[_Result]) -> None:
        curves = [r.epochs for r in results]
        if any(c is None or not c for c in curves):
            return
        for epoch in sorted(set.intersection(*(set(c) for c in curves))):  # type: ignore[arg-type, union-attr]
            trial.report(sum(c[epoch] for c in curves) / len(curves), epoch)  # type: ignore[index]

    # -- the searcher's interface -------------------------------------------------------------------------------

    def next_job(self) -> Job | None:
        """The next job to train (marked running), or None when the search has nothing left to start."""
        while not self._queue:
            if self.exhausted or not self._claim_next():
                self.exhausted = True
                return None
        job = self._queue.popleft()
        cfg_key = job.config_key
        rec = self.store.start_trial(self.name, job.key)
        self._inflight[job.key] = _Running(job, cfg_key, number=rec.number, attempt=rec.attempts)
        self.counts.queued -= 1
        self.counts.running += 1
        cfg = self._configs.get(cfg_key)
        label = _label(cfg.params) if cfg is not None else ""
        point = f" [{cfg.point}]" if cfg is not None and cfg.point else ""
        rep = f" repeat {job.repeat}" if self.repeats > 1 else ""
        self.progress.event("started", f"#{rec.number} started{point}{rep}: {label}", self.counts)
        return job

    def job_config(self, job: Job) -> dict[str, Any]:
        """The Tune config of a job."""
        return {"job": job.to_dict(), "key": job.key, "threads": self.threads}

    def job_result(self, key: str, result: Mapping[str, Any]) -> None:
        """One epoch of a running job."""
        run = self._inflight.get(key)
        self.heartbeat()
        if run is not None and result.get("node"):
            run.node = result["node"]
        if run is None or "epoch" not in result:
            return
        rec = _epoch_of(result)
        run.epochs[rec["epoch"]] = rec.get("val_acc")
        run.last = rec
        self.store.add_epoch(self.name, key, rec)
        self.progress.event("epoch", f"{key[:8]} epoch {rec['epoch']} val_acc {rec.get('val_acc')}", self.counts)

    def job_done(self, key: str, result: Mapping[str, Any] | None, error: bool, error_text: str | None = None) -> None:
        """A job ended: store it; when its configuration's repeats have all ended, tell Optuna."""
        run = self._inflight.pop(key, None)
        if run is None:
            return
        self.counts.running -= 1
        result = dict(result or {})
        epochs: list[dict[str, Any]] = []
        fields: dict[str, Any] = {}
        if result.get("final"):
            state = "completed" if result.get("state", "completed") == "completed" else "failed"
            last = _epoch_of(result)
            if last:
                epochs.append(last)
                run.epochs[last["epoch"]] = last.get("val_acc")
            fields = {k: result.get(k) for k in ("test_acc", "error", "traceback", "node")}
            fields["metrics"] = {k: result.get(k) for k in ("train_seconds", "total_seconds", "images_per_s",
                                                            "steps", "device", "latency_ms", "test_loss")
                                 if result.get(k) is not None}
            if state == "completed":
                fields.update(val_acc=result.get("val_acc"), best_val_acc=result.get("best_val_acc"))
        elif error:
            if run.attempt < MAX_ATTEMPTS:
                self._requeue(run)
                return
            state = "failed"
            fields["error"] = error_text or (f"the trial's Ray worker failed {run.attempt} times (it died or raised "
                                             "outside training)")
        elif "epoch" in result:
            state = "stopped"  # the scheduler (ASHA) stopped it on this result
            last = _epoch_of(result)
            epochs.append(last)
            run.epochs[last["epoch"]] = last.get("val_acc")
            fields["node"] = result.get("node")
        else:
            state = "interrupted"
        if state == "interrupted":
            self.store.interrupt_running(self.name, [key])
            self.counts.interrupted += 1
            return
        rec = self.store.finish_trial(self.name, key, state, epochs=epochs,
                                      **{k: v for k, v in fields.items() if v is not None})
        self._count_row(state, +1)
        self.counts.done_this_run += 1
        self._update_best(rec)
        self._results[key] = _Result(state, rec.val_acc, rec.test_acc, (rec.metrics or {}).get("latency_ms"),
                                     rec.error, dict(run.epochs))
        acc = f" val_acc {rec.val_acc:.4f}" if rec.val_acc is not None else ""
        why = f": {rec.error}" if rec.error else ""
        self.progress.event(state, f"#{rec.number} {state}{acc} after {rec.epochs_done} epochs{why}", self.counts)
        cfg = self._configs.get(run.config_key)
        if cfg is not None and all(j.key in self._results for j in cfg.jobs):
            self._tell(cfg)
        self.heartbeat()

    def _requeue(self, run: _Running) -> None:
        """A job's Ray worker was lost (Tune reports the trial as errored: our trainable returns every training
        error as a result, so only a dead worker or node gets here): queue it to run again, first in line."""
        key = run.job.key
        self.store.queue_trial(self.name, {"key": key, "config_key": run.config_key})
        self._queue.appendleft(run.job)
        self.counts.queued += 1
        incident = _Incident(run.number, run.node, run.attempt)
        self.incidents.append(incident)
        self._lost[key] = incident
        where = f" on {run.node}" if run.node else ""
        self.progress.event("note", f"#{run.number} lost its Ray worker{where}: queued to run again (attempt "
                                    f"{run.attempt + 1} of {MAX_ATTEMPTS})", self.counts)
        self.store.update_study(self.name, message=self.incident_summary())

    def incident_summary(self, dead_nodes: set[str] | None = None) -> str:
        """What happened to jobs whose Ray worker was lost, for the study's record ('' when nothing did)."""
        if not self.incidents:
            return ""
        dead = _dead_nodes() if dead_nodes is None else dead_nodes
        parts = []
        for i in self.incidents:
            node = i.node or "an unknown node"
            died = " (that Ray node died)" if i.node and i.node.rsplit("/", 1)[-1] in dead else ""
            why = f": {i.error}" if i.error else ""
            parts.append(f"#{i.number} attempt {i.attempt} on {node}{died}{why}")
        n = len(self.incidents)
        return f"{n} job start{'s' if n > 1 else ''} lost with {'their' if n > 1 else 'its'} Ray worker and run " \
               f"again: " + "; ".join(parts)

    @property
    def waiting(self) -> bool:
        """Jobs are in flight: a job whose worker dies may come back to the queue, so the search is not over."""
        return bool(self._inflight)

    def heartbeat(self, every_s: float = 10.0) -> None:
        """Refresh the study's `updated` time (at most every `every_s`): how far a killed run got."""
        if time.monotonic() - self._beat >= every_s:
            self._beat = time.monotonic()
            self.store.update_study(self.name)

    def job_error(self, key: str, text: str) -> None:
        """Tune's error text for a job already stored as failed (its worker died, or it was interrupted)."""
        if "KeyboardInterrupt" in text or "SIGINT" in text:
            return
        lost = self._lost.pop(key, None)
        if lost is not None:  # queued again (see `_requeue`): the text says why its worker was lost
            lost.error = _short_error(text)
            self.store.update_study(self.name, message=self.incident_summary())
            return
        try:
            self.store.finish_trial(self.name, key, "failed", error=" ".join(text.split())[:2000])
        except LookupError:
            pass

    # -- end of a run -------------------------------------------------------------------------------------------

    def finish(self, *, tell_optuna: bool = True) -> None:
        """After Tune returned: jobs still in flight were interrupted; their Optuna trials fail (resume re-asks).
        `tell_optuna=False` leaves Optuna's trials RUNNING (resume reconciles them), when its database is gone."""
        keys = list(self._inflight)
        if keys:
            self.counts.interrupted += len(keys)
            self.counts.running -= len(keys)
            self._inflight.clear()
            self.store.interrupt_running(self.name, keys)
        for cfg in list(self._configs.values()) if tell_optuna else []:
            for trial in cfg.trials:
                try:
                    trial.set_user_attr("scalesearch_state", "interrupted")
                    self.study.tell(trial, state=_state("FAIL"))
                except Exception:  # noqa: BLE001 - best effort; the next run reconciles anyway
                    pass
        self._configs.clear()

    @property
    def complete(self) -> bool:
        """Nothing left to claim, queue or run."""
        return self.exhausted and not self._queue and not self._inflight and not self._configs


def _short_error(text: str, limit: int = 200) -> str:
    """The first `SomeError: message` in a Ray/Tune error text (which starts with a traceback), on one line."""
    import re

    flat = " ".join(text.split())
    m = re.search(r"\b(\w+(?:Error|Exception|Exit)\b:? ?.*)", flat)
    out = m.group(1) if m else flat
    return out[:limit] + ("..." if len(out) > limit else "")


def _dead_nodes() -> set[str]:
    """The first 12 hex digits of the ids of the Ray nodes the cluster knows to be dead."""
    try:
        import ray

        return {str(n.get("NodeID", ""))[:12] for n in ray.nodes() if not n.get("Alive", True)}
    except Exception:  # noqa: BLE001 - informational
        return set()


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return getattr(TrialState, name)


_EPOCH_KEYS = ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_s",
               "eval_seconds")


def _epoch_of(result: Mapping[str, Any]) -> dict[str, Any]:
    """The epoch record in a Tune result (a failed trial's final report names them last_epoch, last_val_acc)."""
    if "epoch" in result:
        return {k: result[k] for k in _EPOCH_KEYS if result.get(k) is not None}
    if result.get("last_epoch"):
        rec = {k: result[k] for k in _EPOCH_KEYS if result.get(k) is not None}
        rec["epoch"] = result["last_epoch"]
        if result.get("last_val_acc") is not None:
            rec["val_acc"] = result["last_val_acc"]
        return rec
    return {}


# ---------------------------------------------------------------------------------------------------------------
# Running a study

def run_study(spec: Any, store: Store, record: StudyRecord, *, session: Any, progress: Progress | None = None,
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
    import optuna
    from ray import tune

    from scalesearch.search.searcher import DriverSearcher, register, unregister
    from scalesearch.search.trainable import train_job

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = spec.search
    progress = progress or Progress()
    t_start = time.monotonic()
    storage = open_optuna_storage(store.url)
    sampler_seed = spec.seed if record.runs == 0 else int(hashlib.sha256(
        f"{_SAMPLER_SEED_SALT}:{spec.seed}:{record.runs}".encode()).hexdigest()[:8], 16)
    directions = ["maximize" if o.direction == "max" else "minimize" for o in s.objectives]
    study = optuna.create_study(storage=storage, study_name=spec.study, directions=directions,
                                sampler=_make_sampler(spec, sampler_seed), load_if_exists=True)
    if record.runs == 0:
        study.set_user_attr("scalesearch", {"objectives": [[o.name, o.direction] for o in s.objectives],
                                            "spec_hash": record.spec_hash})
    threads = max(1, int(s.resources.cpus))
    driver = Driver(spec, store, study, record, progress=progress, threads=threads)
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
            trainable = tune.with_resources(tune.with_parameters(train_job, data=data),
                                            {"cpu": s.resources.cpus, "gpu": s.resources.gpus})
            scheduler = _scheduler(spec)
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=DriverSearcher(source_id), scheduler=scheduler,
                                            num_samples=-1, max_concurrent_trials=s.max_concurrency,
                                            reuse_actors=True, time_budget_s=budget,
                                            trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
                run_config=tune.RunConfig(name=f"scalesearch-{spec.study}", storage_path=tmp, verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=0),
                                          callbacks=[_error_callback(source_id)]),
            )
            _quiet_tune_loggers()
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


def _load_data(spec: Any, driver: Driver) -> Any:
    """The study's dataset, loaded once in the driver and handed to every trial through Ray's object store."""
    from scalesearch.trial import DATA_SEED, _cached_dataset, _canonical, _plain

    ds = spec.dataset
    data_cfg = {"name": ds.name, **dict(ds.load_kwargs()), "seed": DATA_SEED}
    data = _cached_dataset(_canonical(_plain(data_cfg)), "cpu", None)
    if dict(spec.train).get("eval_test", False) is False and len(data.test):  # no trial reads the test split
        from scalesearch.data import Split

        data = dataclasses.replace(data, test=Split(data.test.x[:0], data.test.y[:0]))
    return data


def _scheduler(spec: Any) -> Any:
    es = spec.search.early_stopping
    if es is None:
        return None
    from ray.tune.schedulers import ASHAScheduler

    epochs = dict(spec.train).get("epochs", 10)
    max_t = epochs if isinstance(epochs, int) else 1000
    return ASHAScheduler(time_attr="epoch", metric=es.metric, mode="max", grace_period=es.grace_epochs,
                         reduction_factor=es.reduction_factor, max_t=max(max_t, es.grace_epochs),
                         stop_last_trials=False)


def _trial_name(trial: Any) -> str:
    return f"t{trial.trial_id}"


def _quiet_tune_loggers() -> None:
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


def _error_callback(source_id: int) -> Any:
    """A Tune callback handing Tune's error text of a failed trial (a dead worker, an error outside training) to
    the driver."""
    from ray.tune import Callback

    class _ErrorCallback(Callback):
        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            from scalesearch.search.searcher import _REGISTRY

            driver = _REGISTRY.get(source_id)
            key = (trial.config or {}).get("key")
            if driver is None or key is None:
                return
            driver.job_error(key, _trial_error_text(trial) or "the trial's Ray worker failed")

    return _ErrorCallback()


# ---------------------------------------------------------------------------------------------------------------
# Opening a study

def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stored_spec(record: StudyRecord) -> Any:
    """The SearchSpec a study runs, parsed from its stored text (the study name as stored)."""
    from scalesearch.spec import parse_spec

    spec = parse_spec(record.spec_text, record.spec_file or f"<study {record.name}>")
    return dataclasses.replace(spec, study=record.name) if spec.study != record.name else spec


def prepare_study(store: Store, spec: Any, *, spec_text: str, spec_file: str | None) -> StudyRecord:
    """The study `spec.study` in the store: created when new, checked when it exists. Nothing is written unless
    every check passes.

    Raises:
        ValueError: the name exists with another spec, belongs to an Optuna study scalesearch did not create, or
            another live process is running the study.
    """
    from scalesearch.spec import format_spec

    name = spec.study
    where = describe_url(store.url)
    rec = store.find_study(name)
    if rec is not None:
        try:
            same = stored_spec(rec) == spec
        except ValueError:
            same = False
        if not same:
            raise ValueError(f"study {name!r} already exists in {where} with another spec (stored from "
                             f"{rec.spec_file or 'a spec'}); run this spec under another name with --study NAME, or "
                             f"use another --db")
        if rec.state == "running" and rec.driver_host == socket.gethostname() and _pid_alive(rec.driver_pid) and \
                rec.driver_pid != os.getpid():
            raise ValueError(f"study {name!r} is being run right now by process {rec.driver_pid} on this host")
        return rec
    storage = open_optuna_storage(store.url)
    try:
        taken = {s.study_name for s in storage.get_all_studies()}
    finally:
        storage.engine.dispose()
    if name in taken:
        raise ValueError(f"{where} already has an Optuna study named {name!r} that scalesearch did not create; "
                         "choose another --study NAME or --db")
    canonical = format_spec(spec)
    versions, hardware = provenance()
    s = spec.search
    return store.create_study(
        name=name, spec_text=spec_text, spec_file=spec_file, spec_canonical=canonical,
        spec_hash=hashlib.sha256(canonical.encode()).hexdigest(), seed=spec.seed, sampler=s.sampler,
        objectives=[[o.name, o.direction] for o in s.objectives], repeats=s.repeats, planned=None,
        versions=versions, hardware=hardware, state="interrupted", message="created; not started yet",
        wall_seconds=0.0, runs=0)
