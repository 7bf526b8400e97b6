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
configurations from the stored results without training them. A configuration stored as finished whose Optuna
trial lost its result (the tell failed, e.g. on a full disk) is told again first, on a new trial. Tune's own
restore is not used (it brings back a stale searcher).

The driver by concern: `driver` (this module: the state of one run, loaded from the database, and its end),
`ask` (claiming candidates), `tell` (results in, Optuna told), `state` (the records of a run), `study` (opening a
study: Optuna's storage and sampler, the stored spec, provenance) and `run` (`run_study`: Ray Tune around it all).
`scalesearch.search.driver` keeps exporting the public names of all of them.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from scalesearch.search.ask import MAX_IDLE_PROPOSALS, _Asking
from scalesearch.search.progress import Counts, Progress
from scalesearch.search.run import _quiet_tune_loggers, run_study  # noqa: F401 - benchmarks use the first
from scalesearch.search.state import _Config, _Incident, _Result, _result_of, _Running, _state, Outcome
from scalesearch.search.study import open_optuna_storage, prepare_study, provenance, spec_fits, stored_spec
from scalesearch.search.tell import MAX_ATTEMPTS, _Telling
from scalesearch.store import Store, StudyRecord, TrialRecord
from scalesearch.trial import Job

__all__ = ["Counts", "Driver", "MAX_ATTEMPTS", "MAX_IDLE_PROPOSALS", "Outcome", "Progress", "open_optuna_storage",
           "prepare_study", "provenance", "run_study", "spec_fits", "stored_spec"]


class Driver(_Asking, _Telling):
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
        # Finished configurations whose Optuna trial never got their result (a write error between our row and
        # Optuna's tell, e.g. a full disk): Optuna is told the stored result again on a new trial, not retrained.
        told = {t.number for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                                                 TrialState.PRUNED))}
        ended: dict[str, list[TrialRecord]] = {}
        for r in rows:
            if r.state in ("completed", "stopped", "failed") and r.config_key not in rerun:
                ended.setdefault(r.config_key, []).append(r)
        self._untold = collections.deque(
            (dict(g[0].parameters), g[0].point, [r.key for r in g]) for g in ended.values()
            if all(r.state != "failed" for r in g) and any(r.optuna_trial is not None for r in g)
            and not any(r.optuna_trial in told for r in g))
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

    @property
    def waiting(self) -> bool:
        """Jobs are in flight: a job whose worker dies may come back to the queue, so the search is not over."""
        return bool(self._inflight)

    def heartbeat(self, every_s: float = 10.0) -> None:
        """Refresh the study's `updated` time (at most every `every_s`): how far a killed run got."""
        if time.monotonic() - self._beat >= every_s:
            self._beat = time.monotonic()
            self.store.update_study(self.name)
