"""A Ray Tune `Searcher` that asks and tells the driver's study.

Why not Tune's `OptunaSearch` (measured with Optuna 5.0 and Ray 2.60): it tells Optuna that an ASHA-stopped trial
COMPLETED with its partial value, never signals the end of a grid (a 3-point grid with 5 samples re-ran 2 points),
and keeps its trial map in a pickle, so a crash leaves Optuna's trials RUNNING with nothing to reconcile them. This
searcher holds no state of its own beyond Tune's trial id -> job key: `suggest` takes the next job from the driver
(which asks Optuna, rejects infeasible candidates, dedupes and queues repeats), results go to the driver as they
arrive, and the driver, which writes the database, tells Optuna when a configuration's repeats are done.

Tune calls `on_trial_result` for every result except the one on which a scheduler decides to stop a trial; that
one reaches `on_trial_complete`. The Tuner pickles its search algorithm; the driver (database engines, the Optuna
study) cannot be pickled, so the searcher refers to it through a registry of this process (Tune's controller runs
in the driver's process).
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from ray.tune.search import Searcher

__all__ = ["JOB_SOURCES", "DriverSearcher", "JobSource", "register", "unregister"]


class JobSource(Protocol):
    """What the searcher needs from the driver."""

    def next_job(self) -> Any | None: ...  # a scalesearch.trial.job.Job, or None when nothing is left

    def job_config(self, job: Any) -> dict[str, Any]: ...  # the Tune config of a job

    def job_result(self, key: str, result: dict[str, Any]) -> None: ...

    def job_done(self, key: str, result: dict[str, Any] | None, error: bool) -> None: ...

    def job_weights(self, key: str, weights: str) -> None: ...  # a final report's trained weights (base64)

    @property
    def waiting(self) -> bool: ...  # jobs are in flight (one whose worker dies is queued again)


JOB_SOURCES: dict[int, JobSource] = {}
_IDS = itertools.count(1)


def register(source: JobSource) -> int:
    """Make `source` reachable by id from searchers of this process."""
    i = next(_IDS)
    JOB_SOURCES[i] = source
    return i


def unregister(i: int) -> None:
    """Forget a registered source."""
    JOB_SOURCES.pop(i, None)


class DriverSearcher(Searcher):
    """Suggests the driver's jobs and passes results back (see the module docstring).

    Args:
        source_id: the id `register` gave the driver.
    """

    def __init__(self, source_id: int) -> None:
        super().__init__(metric=None, mode=None)
        self._source_id = source_id
        self._keys: dict[str, str] = {}  # Tune trial id -> job key

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)  # the driver itself is never in it: only its registry id

    @property
    def _source(self) -> JobSource:
        return JOB_SOURCES[self._source_id]

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        job = self._source.next_job()
        if job is None:
            # not FINISHED while jobs run: Tune would never ask again, and a job whose worker dies comes back
            return None if self._source.waiting else Searcher.FINISHED
        self._keys[trial_id] = job.key
        return self._source.job_config(job)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        key = self._keys.get(trial_id)
        if key is not None:
            self._source.job_result(key, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        key = self._keys.pop(trial_id, None)
        if key is not None:
            self._source.job_done(key, result, error)

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the database is the checkpoint (resume with `scalesearch resume`)."""

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError("scalesearch resumes from its database, not from Tune's checkpoint")
