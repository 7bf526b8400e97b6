"""The driver's results part: each epoch and each job's end as Tune reports them (stored at once), a job whose Ray
worker or node died queued again (at most `MAX_ATTEMPTS` starts, each incident kept for the study's record), and,
when every repeat of a configuration has ended, Optuna told once: the mean over repeats (COMPLETE), PRUNED if ASHA
stopped a repeat, FAIL if one failed. `Results` is a part of `scalesearch.search.driver.Driver`; the claims part
(`scalesearch.search.ask.Claims`) calls it to tell a known configuration's stored result and a rejected candidate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.search.constraints import set_constraints
from scalesearch.search.state import (
    ClaimedConfig,
    Incident,
    JobResult,
    RunningJob,
    RunState,
    epoch_of,
    params_label,
    result_of,
    trial_state,
)
from scalesearch.search.weights import TrainingCheckpoints, Weights
from scalesearch.spec import Candidate
from scalesearch.store import TrialRecord
from scalesearch.strategies.names import SCHEDULERS

__all__ = ["MAX_ATTEMPTS", "Results"]

MAX_ATTEMPTS = 3  # starts of one job whose Ray worker dies (its node lost, the process killed) before it is failed


def _short_error(text: str, limit: int = 200) -> str:
    """A Ray/Tune error text on one line: a traceback's exception line, or the text itself, cut to `limit`."""
    import re

    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    out = " ".join(lines)
    if lines and lines[0].startswith("Traceback"):
        for i in range(len(lines) - 1, -1, -1):
            if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", lines[i]):
                out = " ".join(lines[i:])
                break
    return out[:limit] + ("..." if len(out) > limit else "")


class Results:
    """Results in, Optuna told (see the module docstring).

    Args:
        run: the run's shared state: its `inflight` jobs are taken out as they end, `finished` receives each
            finished job, `queue` a job whose worker was lost, `configs` loses a configuration once told.
    """

    def __init__(self, run: RunState) -> None:
        self.run = run
        self.objectives = run.spec.search.objectives
        self.weights = Weights(run)  # the kept trials' final weights (search.keep)
        self.checkpoints = TrainingCheckpoints(run)  # running trials' last training states (checkpoint_every)
        self.incidents: list[Incident] = []  # each lost start of this run, in order
        self._lost: dict[str, Incident] = {}  # requeued jobs whose Tune error text has not arrived yet

    def load(self, rows: Sequence[TrialRecord]) -> None:
        """Take the study's stored rows: the finished jobs, the counters by state, the best so far."""
        run = self.run
        for r in rows:
            if r.state in ("completed", "failed", "stopped"):
                run.finished[r.key] = result_of(r)
        for r in rows:
            run.count_row(r.state, +1)
            self.update_best(r)

    def update_best(self, r: TrialRecord) -> None:
        """Count `r` as the best so far if it is (by the first objective)."""
        counts = self.run.counts
        if r.state != "completed" or r.val_acc is None:
            return
        o = self.objectives[0]
        v = r.val_acc if o.name == "val_acc" else r.test_acc if o.name == "test_acc" else \
            r.macs if o.name == "macs" else r.params if o.name == "params" else (r.metrics or {}).get("latency_ms")
        if v is None:
            return
        better = counts.best is None or (v > counts.best if o.direction == "max" else v < counts.best)
        if better:
            counts.best = float(v)
            counts.best_label = f"#{r.number} {params_label(r.parameters)}"

    def tell_rejected(self, trial: Any | None, cand: Candidate | None, why: str) -> None:
        """Tell the Optuna trial of a rejected candidate (None: it has none) PRUNED, with its constraint values."""
        if trial is None:
            return
        if cand is not None:
            set_constraints(trial, self.run.spec, cand, self.run.base)
        trial.set_user_attr("scalesearch_state", "rejected")
        trial.set_user_attr("scalesearch_rejected_by", why[:500])
        self.run.study.tell(trial, state=trial_state("PRUNED"))

    def tell(self, cfg: ClaimedConfig) -> None:
        """All repeats of `cfg` ended: tell each Optuna trial waiting for it, once."""
        run = self.run
        results = [run.finished[j.key] for j in cfg.jobs]
        failed = [r for r in results if r.state == "failed"]
        values = None
        if failed:
            state, note = "FAIL", failed[0].error or "failed"
        elif any(r.state == "stopped" for r in results):
            es = run.spec.search.early_stopping
            state, note = "PRUNED", f"stopped early by {SCHEDULERS[es.type] if es else SCHEDULERS['asha']}"
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
                    run.study.tell(trial, values)
                else:
                    run.study.tell(trial, state=trial_state(state))
            except Exception as e:  # noqa: BLE001 - a bad value must not stop the search
                run.progress.event("note", f"Optuna refused trial {trial.number}'s result: {e}", run.counts)
        run.configs.pop(cfg.config_key, None)

    def _values(self, cfg: ClaimedConfig, results: list[JobResult]) -> list[float] | None:
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
    def _report_curve(trial: Any, results: list[JobResult]) -> None:
        curves = [r.epochs for r in results]
        if any(c is None or not c for c in curves):
            return
        for epoch in sorted(set.intersection(*(set(c) for c in curves))):  # type: ignore[arg-type, union-attr]
            trial.report(sum(c[epoch] for c in curves) / len(curves), epoch)  # type: ignore[index]

    def job_result(self, key: str, result: Mapping[str, Any]) -> None:
        """One epoch of a running job."""
        job = self.run.inflight.get(key)
        self.run.heartbeat()
        if job is not None and result.get("node"):
            job.node = result["node"]
        if job is not None and result.get("scores"):  # computed by the worker before training, as JSON text:
            scores = json.loads(result["scores"])  # the configuration's, stored on every repeat's row
            claimed = self.run.configs.get(job.config_key)
            keys = [j.key for j in claimed.jobs] if claimed is not None else [key]  # the scorer's among them
            self.run.store.set_scores(self.run.name, keys, scores)
            self.run.scored.update(keys)
        if job is not None and result.get("checkpoint"):  # saved before its epoch is stored: never behind it
            try:
                self.checkpoints.save(key, result["checkpoint"])
            except OSError as e:  # a checkpoint only saves time: without it the trial reruns from its start
                self.run.progress.event("note", f"#{job.number}: its checkpoint was not saved ({e}); if it is "
                                                "interrupted it starts again from epoch 1", self.run.counts)
        if job is None or "epoch" not in result:
            return
        rec = epoch_of(result)
        job.epochs[rec["epoch"]] = rec.get("val_acc")
        job.last = rec
        self.run.store.add_epoch(self.run.name, key, rec)
        self.run.progress.event("epoch", f"{key[:8]} epoch {rec['epoch']} val_acc {rec.get('val_acc')}",
                                self.run.counts)

    def job_done(self, key: str, result: Mapping[str, Any] | None, error: bool, error_text: str | None = None) -> None:
        """A job ended: store it; when its configuration's repeats have all ended, tell Optuna."""
        run = self.run
        job = run.inflight.pop(key, None)
        if job is None:
            return
        run.counts.running -= 1
        result = dict(result or {})
        epochs: list[dict[str, Any]] = []
        fields: dict[str, Any] = {}
        if result.get("final"):
            state = "completed" if result.get("state", "completed") == "completed" else "failed"
            last = epoch_of(result)
            if last:
                epochs.append(last)
                job.epochs[last["epoch"]] = last.get("val_acc")
            fields = {k: result.get(k) for k in ("test_acc", "error", "traceback", "node")}
            fields["metrics"] = {k: result.get(k) for k in ("train_seconds", "total_seconds", "images_per_s",
                                                            "steps", "device", "latency_ms", "test_loss",
                                                            "resumed_from_epoch")
                                 if result.get(k) is not None}
            if state == "completed":
                fields.update(val_acc=result.get("val_acc"), best_val_acc=result.get("best_val_acc"))
        elif error:
            if job.attempt < MAX_ATTEMPTS:
                self._requeue(job)
                return
            state = "failed"
            fields["error"] = error_text or (f"the trial's Ray worker failed {job.attempt} times (it died or raised "
                                             "outside training)")
        elif "epoch" in result:
            state = "stopped"  # the scheduler (ASHA) stopped it on this result
            last = epoch_of(result)
            epochs.append(last)
            job.epochs[last["epoch"]] = last.get("val_acc")
            fields["node"] = result.get("node")
        else:
            state = "interrupted"
        if state == "interrupted":
            run.store.interrupt_running(run.name, [key])
            run.counts.interrupted += 1
            return
        rec = run.store.finish_trial(run.name, key, state, epochs=epochs,
                                     **{k: v for k, v in fields.items() if v is not None})
        self.checkpoints.drop(key)
        if state == "completed":
            self.weights.save(rec.number, job.weights)  # taken from its final report (run._callbacks)
        run.count_row(state, +1)
        run.counts.done_this_run += 1
        self.update_best(rec)
        run.finished[key] = JobResult(state, rec.val_acc, rec.test_acc, (rec.metrics or {}).get("latency_ms"),
                                      rec.error, dict(job.epochs))
        acc = f" val_acc {rec.val_acc:.4f}" if rec.val_acc is not None else ""
        why = f": {rec.error}" if rec.error else ""
        run.progress.event(state, f"#{rec.number} {state}{acc} after {rec.epochs_done} epochs{why}", run.counts)
        cfg = run.configs.get(job.config_key)
        if cfg is not None and all(j.key in run.finished for j in cfg.jobs):
            self.tell(cfg)
        run.heartbeat()

    def _requeue(self, job: RunningJob) -> None:
        """A job's Ray worker was lost (Tune reports the trial as errored: our trainable returns every training
        error as a result, so only a dead worker or node gets here): queue it to run again, first in line."""
        run = self.run
        key = job.job.key
        run.store.queue_trial(run.name, {"key": key, "config_key": job.config_key})
        run.queue.appendleft(job.job)
        run.counts.queued += 1
        incident = Incident(job.number, job.node, job.attempt)
        self.incidents.append(incident)
        self._lost[key] = incident
        where = f" on {job.node}" if job.node else ""
        run.progress.event("note", f"#{job.number} lost its Ray worker{where}: queued to run again (attempt "
                                   f"{job.attempt + 1} of {MAX_ATTEMPTS})", run.counts)
        run.store.update_study(run.name, message=self.incident_summary())

    def incident_summary(self) -> str:
        """What happened to jobs whose Ray worker was lost, for the study's record ('' when nothing did): for each
        lost start, the trial's number, the attempt, the node it ran on (host/Ray node id) and Tune's error text as
        recorded. Built from the incidents alone, so the same incidents always give the same text (whether Ray
        already counts the node as dead when it is written is a race, and is not asked)."""
        if not self.incidents:
            return ""
        parts = []
        for i in self.incidents:
            node = i.node or "an unknown node"
            why = f": {i.error}" if i.error else ""
            parts.append(f"#{i.number} attempt {i.attempt} on {node}{why}")
        n = len(self.incidents)
        return f"{n} job start{'s' if n > 1 else ''} lost with {'their' if n > 1 else 'its'} Ray worker and run " \
               f"again: " + "; ".join(parts)

    def job_error(self, key: str, text: str) -> None:
        """Tune's error text for a job already stored as failed (its worker died, or it was interrupted)."""
        if "KeyboardInterrupt" in text or "SIGINT" in text:
            return
        lost = self._lost.pop(key, None)
        if lost is not None:  # queued again (see `_requeue`): the text says why its worker was lost
            lost.error = _short_error(text)
            self.run.store.update_study(self.run.name, message=self.incident_summary())
            return
        try:
            self.run.store.finish_trial(self.run.name, key, "failed", error=" ".join(text.split())[:2000])
        except LookupError:
            pass
