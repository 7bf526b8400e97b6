"""What the driver keeps about one run: the state its claims part (`ask`) and its results part (`tell`) share
(`RunState`), a finished job's result, a claimed configuration, a running job, a job lost with its Ray worker; how
a run ended (`Outcome`); the epoch record in a Tune result.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scalesearch.search.progress import Counts, Progress
from scalesearch.spec import Candidate, SearchSpec
from scalesearch.store import Store, TrialRecord
from scalesearch.trial.job import Job

__all__ = ["ClaimedConfig", "Incident", "JobResult", "Outcome", "RunState", "RunningJob", "epoch_of", "params_label",
           "result_of", "trial_state"]


@dataclass
class JobResult:
    """A finished job, as far as telling Optuna needs it."""

    state: str
    val_acc: float | None
    test_acc: float | None
    latency_ms: float | None
    error: str | None
    epochs: dict[int, float] | None = None  # epoch -> val_acc (jobs of this run only)


@dataclass
class ClaimedConfig:
    """A configuration claimed in this run: its repeats' jobs and the Optuna trials waiting for it."""

    config_key: str
    params: dict[str, Any]
    candidate: Candidate
    point: str | None
    jobs: list[Job]
    trials: list[Any] = field(default_factory=list)  # optuna.Trial objects


@dataclass
class RunningJob:
    """A job started in this run: its configuration, epochs and last report so far, trial number, attempt."""

    job: Job
    config_key: str
    epochs: dict[int, float] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    number: int = -1
    attempt: int = 1
    node: str | None = None  # where it runs (from its first report)
    weights: str | None = None  # its trained weights (base64) from its final report, taken out before Tune keeps it


@dataclass
class Incident:
    """A job whose Ray worker was lost (its node died, or the process was killed) and that was queued again."""

    number: int
    node: str | None
    attempt: int
    error: str = ""


@dataclass
class RunState:
    """What the claims part and the results part of one run both use: the study and its writer, the counters, and
    the jobs between them (the claims part queues and starts jobs and claims configurations; the results part takes
    jobs out of flight, stores what finished, queues a lost job again and tells a configuration's trials).

    Attributes:
        spec: the study's spec (`spec.study` is its name).
        store: the writer (the only one of the study's rows).
        study: the Optuna study, on the same database.
        progress: receives events.
        counts: trials by state over all of the study's runs, the best so far, the planned total.
        base: the baseline's (macs, params, acts) that constraints compare with (None without a baseline).
        queue: jobs to start, in order (a job whose worker was lost goes first).
        inflight: job key -> the job running now.
        configs: config key -> a configuration claimed in this run whose trials have not been told yet.
        finished: job key -> a finished job (of earlier runs and this one).
        scored: job keys whose training-free scores are stored (their workers do not compute them).
        scorers: config key -> the job whose worker computes the configuration's scores in this run. The scores
            depend on the network, the study's seed and the mini-batch it draws, not on the repeat: one of a
            configuration's jobs computes them and the results part stores them on every repeat's row.
    """

    spec: SearchSpec
    store: Store
    study: Any  # optuna.Study (Optuna is imported only where a run starts)
    progress: Progress
    counts: Counts
    base: tuple[int, int, int] | None = None
    queue: collections.deque[Job] = field(default_factory=collections.deque)
    inflight: dict[str, RunningJob] = field(default_factory=dict)
    configs: dict[str, ClaimedConfig] = field(default_factory=dict)
    finished: dict[str, JobResult] = field(default_factory=dict)
    scored: set[str] = field(default_factory=set)
    scorers: dict[str, str] = field(default_factory=dict)
    _beat: float = field(default_factory=time.monotonic, init=False, repr=False)

    @property
    def name(self) -> str:
        """The study's name."""
        return self.spec.study

    def count_row(self, state: str, d: int) -> None:
        """Add `d` to the counter of rows in `state` (states without one are not counted)."""
        if hasattr(self.counts, state):
            setattr(self.counts, state, getattr(self.counts, state) + d)

    def heartbeat(self, every_s: float = 10.0) -> None:
        """Refresh the study's `updated` time (at most every `every_s`): how far a killed run got."""
        if time.monotonic() - self._beat >= every_s:
            self._beat = time.monotonic()
            self.store.update_study(self.name)


@dataclass
class Outcome:
    """How a run of a study ended, and what it stored.

    Attributes:
        state: finished, interrupted (`resume` continues it) or failed.
        message: why it ended (e.g. "the time budget of 60 s is used up"); "" when it simply finished.
        counts: trials by state over all of the study's runs.
        wall_s: seconds this run took.
        study, db: the study's name and the database's URL (passwords hidden).
        best: the first trial of the configuration with the best mean val_acc over its repeats (None before any
            configuration completed); `best_val_acc` is that mean.
        front: one trial per configuration on the accuracy-vs-MACs Pareto front, cheapest first.
    """

    state: str
    message: str
    counts: Counts
    wall_s: float
    study: str = ""
    db: str = ""
    best: TrialRecord | None = None
    best_val_acc: float | None = None
    front: list[TrialRecord] = field(default_factory=list)


def result_of(rec: TrialRecord) -> JobResult:
    """A stored trial's result as far as telling Optuna needs it."""
    metrics = rec.metrics or {}
    return JobResult(rec.state, rec.val_acc, rec.test_acc, metrics.get("latency_ms"), rec.error)


def params_label(values: Mapping[str, Any], limit: int = 5) -> str:
    """The first `limit` parameter values as `k=v, ...` text."""
    items = []
    for k, v in list(values.items())[:limit]:
        items.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(items) + (", ..." if len(values) > limit else "")


def trial_state(name: str) -> Any:
    """Optuna's TrialState of that name (optuna imported here, not at module import)."""
    from optuna.trial import TrialState

    return getattr(TrialState, name)


_EPOCH_KEYS = ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_s",
               "eval_seconds")


def epoch_of(result: Mapping[str, Any]) -> dict[str, Any]:
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
