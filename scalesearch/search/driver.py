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
work with ask/tell), perhaps one WAITING (enqueued, not asked yet), and rows running or queued; the next run fails
those Optuna trials through Optuna's own API (`Study.tell(number, state=FAIL, skip_if_finished=True)`; a WAITING
trial is asked first, as Optuna tells only a running trial) and asks them again with the same parameters, marks the
rows interrupted and trains them again under the same keys, and re-tells finished configurations from the stored
results without training them. A configuration stored as finished whose Optuna trial lost its result (the tell
failed, e.g. on a full disk) is told again first, on a new trial. Tune's own restore is not used (it brings back a
stale searcher). The `scalesearch_state` user attribute (what the driver did with a trial, for Optuna's own tools;
nothing here reads it) is set on every trial the driver tells, except those a killed run left RUNNING: Optuna has
no public way to set a user attribute on a trial it did not hand out in this process, and their FAIL says it.

The driver by concern, imports one way (`state` <- `tell` <- `ask` <- `driver` <- `run` <- `api`): `state` (the
records of a run and `RunState`, what the two parts share), `tell` (`Results`: results in, Optuna told), `ask`
(`Claims`: claiming candidates, starting jobs), `driver` (this module: one run of a study loaded from the database,
its two parts, its end), `run` (`run_study`: Ray Tune around it all) and `study` (opening a study: Optuna's storage
and sampler, the stored spec, provenance).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from scalesearch.search.ask import Claims
from scalesearch.search.progress import Counts, Progress
from scalesearch.search.state import RunState, trial_state
from scalesearch.search.tell import Results
from scalesearch.spec import SearchSpec, resolve_point
from scalesearch.store import Store, StudyRecord
from scalesearch.trial.job import Job

__all__ = ["Driver"]


class Driver:
    """One run of a study: the job source of `DriverSearcher` and the only writer of the study's rows.

    It owns the run's shared state (`run`, a `RunState`), the claims part (`claims`, a `Claims`: candidates claimed,
    jobs queued and started) and the results part (`results`, a `Results`: jobs' ends stored, Optuna told, lost
    jobs queued again), and loads all three from the database.

    Args:
        spec: the SearchSpec (its `study` is the study's name).
        store: the writer.
        study: the Optuna study (on the same database).
        record: the study's stored record (runs already made: `record.runs`).
        progress: receives events.
        threads: torch threads per trial.
    """

    def __init__(self, spec: SearchSpec, store: Store, study: Any, record: StudyRecord, *,
                 progress: Progress | None = None, threads: int = 1) -> None:
        base = None
        if spec.baseline is not None:
            b = resolve_point(spec, "baseline")
            base = (b.macs, b.params, b.acts)
        self.run = RunState(spec, store, study, progress or Progress(),
                            Counts(budget_s=None, objective=spec.search.objectives[0].name), base=base)
        self.results = Results(self.run)
        self._fail_left_running()
        store.interrupt_running(spec.study)
        self.killed_run_s = 0.0
        if record.state == "running" and record.runs > 0:  # the last run was killed: count it up to its last beat
            self.killed_run_s = max(0.0, (record.updated - record.started).total_seconds())
        rows = store.trials(spec.study)
        self.results.load(rows)
        self.claims = Claims(self.run, self.results, rows, threads=threads)
        self.run.counts.planned = self.claims.planned()

    def _fail_left_running(self) -> None:
        """Optuna: trials a killed run left RUNNING (or enqueued and never asked: WAITING) fail; they are asked
        again as their configurations are claimed."""
        from optuna.trial import TrialState

        study = self.run.study
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        for _ in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            trial = study.ask()  # the oldest WAITING trial, now RUNNING (its parameters are fixed: nothing sampled)
            trial.set_user_attr("scalesearch_state", "interrupted")
            study.tell(trial, state=TrialState.FAIL)

    @property
    def counts(self) -> Counts:
        """Trials by state over all of the study's runs."""
        return self.run.counts

    @property
    def note(self) -> str:
        """Why the sampler's search ended before its `trials` ("" when it did not)."""
        return self.claims.note

    @property
    def complete(self) -> bool:
        """Nothing left to claim, queue or run."""
        run = self.run
        return self.claims.exhausted and not run.queue and not run.inflight and not run.configs

    @property
    def waiting(self) -> bool:
        """Jobs are in flight: a job whose worker dies may come back to the queue, so the search is not over."""
        return bool(self.run.inflight)

    def next_job(self) -> Job | None:
        """The next job to train (marked running), or None when the search has nothing left to start."""
        return self.claims.next_job()

    def job_config(self, job: Job) -> dict[str, Any]:
        """The Tune config of a job."""
        return self.claims.job_config(job)

    def job_result(self, key: str, result: Mapping[str, Any]) -> None:
        """One epoch of a running job."""
        self.results.job_result(key, result)

    def job_weights(self, key: str, weights: str) -> None:
        """A running job's trained weights, from its final report (kept until the job is stored)."""
        job = self.run.inflight.get(key)
        if job is not None:
            job.weights = weights

    def job_done(self, key: str, result: Mapping[str, Any] | None, error: bool, error_text: str | None = None) -> None:
        """A job ended: store it; when its configuration's repeats have all ended, tell Optuna."""
        self.results.job_done(key, result, error, error_text)

    def job_error(self, key: str, text: str) -> None:
        """Tune's error text for a job already stored as failed (its worker died, or it was interrupted)."""
        self.results.job_error(key, text)

    def incident_summary(self) -> str:
        """What happened to jobs whose Ray worker was lost, for the study's record ('' when nothing did)."""
        return self.results.incident_summary()

    def heartbeat(self, every_s: float = 10.0) -> None:
        """Refresh the study's `updated` time (at most every `every_s`): how far a killed run got."""
        self.run.heartbeat(every_s)

    def finish(self, *, tell_optuna: bool = True) -> None:
        """After Tune returned: jobs still in flight were interrupted; their Optuna trials fail (resume re-asks).
        `tell_optuna=False` leaves Optuna's trials RUNNING (resume reconciles them), when its database is gone."""
        run = self.run
        keys = list(run.inflight)
        if keys:
            run.counts.interrupted += len(keys)
            run.counts.running -= len(keys)
            run.inflight.clear()
            run.store.interrupt_running(run.name, keys)
        for cfg in list(run.configs.values()) if tell_optuna else []:
            for trial in cfg.trials:
                with contextlib.suppress(Exception):  # best effort; the next run reconciles anyway
                    trial.set_user_attr("scalesearch_state", "interrupted")
                    run.study.tell(trial, state=trial_state("FAIL"))
        run.configs.clear()
