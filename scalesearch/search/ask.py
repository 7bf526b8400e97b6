"""The driver's claims part: where the next candidate comes from (earlier runs' unfinished configurations, named
points, the grid walked in the spec's order, or Optuna's sampler), resolving and costing it, rejecting it by a
constraint (stored, told PRUNED, never trained), telling a known configuration its stored result (dedupe), or
queueing one job per repeat; `next_job` hands the queued jobs to Tune. `Claims` is a part of
`scalesearch.search.driver.Driver`; it hands what Optuna is told to the results part
(`scalesearch.search.tell.Results`).
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.search.constraints import set_constraints
from scalesearch.search.state import ClaimedConfig, RunningJob, RunState, params_label, trial_state
from scalesearch.search.study import spec_fits
from scalesearch.search.tell import Results
from scalesearch.spec import Candidate, InvalidArchitecture, SpecError, grid_space, resolve_candidate, sample_params
from scalesearch.store import TrialRecord
from scalesearch.trial.job import Job, job_for_candidate

__all__ = ["MAX_IDLE_PROPOSALS", "Claims"]

MAX_IDLE_PROPOSALS = 200  # rejected or already-known proposals in a row that end a sampler's search
RESOLVED_KEPT = 4096  # candidates a driver keeps resolved (the plan resolves each grid point, its claim again)


def _invalid_key(params: Mapping[str, Any], why: str) -> str:
    blob = json.dumps({"invalid": why, "params": {k: params[k] for k in sorted(params)}}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Claims:
    """Claiming candidates and starting jobs (see the module docstring). What earlier runs left is read from the
    study's rows: configurations to train again (queued or interrupted), finished configurations whose Optuna trial
    lost its result (told again first), the named points not trained yet, and what the sampler and the grid claimed.

    Args:
        run: the run's shared state (its `finished` jobs already loaded): jobs are queued on `run.queue`, started
            into `run.inflight`, and each configuration claimed for training goes in `run.configs`.
        results: the results part, which tells Optuna a known configuration's stored result and a rejection.
        rows: the study's stored trial rows (the last run's running rows already marked interrupted).
        threads: torch threads per trial.
    """

    def __init__(self, run: RunState, results: Results, rows: Sequence[TrialRecord], *, threads: int = 1) -> None:
        self.run = run
        self.results = results
        self.spec = run.spec
        self.threads = threads
        s = run.spec.search
        self.repeats = s.repeats
        self.latency = any(o.name == "latency" for o in s.objectives)
        self.device = "cuda" if s.resources.gpus > 0 else "cpu"
        self.exhausted = False
        self.note = ""  # why the sampler's search ended early ("" when it did not)
        self._idle = 0
        self.score_input: tuple[Any, ...] | None = None  # (x, y, mean, std): `set_score_data`
        self._pool_scores: dict[str, dict[str, Any]] = {}  # a prefilter's scores, reused when a kept one is queued
        self._rejected: set[str] = set()
        self._resolved: collections.OrderedDict[tuple[Any, ...], Candidate | Exception] = collections.OrderedDict()
        self._known_rows: dict[str, TrialRecord] = {}
        self._sampler_claimed: set[str] = set()
        rerun: dict[str, TrialRecord] = {}
        for r in rows:
            self._known_rows[r.key] = r
            if r.state == "rejected":
                self._rejected.add(r.key)
            elif r.state not in ("completed", "failed", "stopped"):  # queued or interrupted: train again
                rerun.setdefault(r.config_key, r)
            if r.point is None and r.state != "rejected":
                self._sampler_claimed.add(r.config_key)
        self._reruns = collections.deque((dict(r.parameters), r.point) for r in rerun.values())
        # Finished configurations whose Optuna trial never got their result (a write error between our row and
        # Optuna's tell, e.g. a full disk): Optuna is told the stored result again on a new trial, not retrained.
        told = {t.number for t in run.study.get_trials(deepcopy=False, states=(trial_state("COMPLETE"),
                                                                                trial_state("PRUNED")))}
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
        self._grid = self._grid_points() if s.sampler == "grid" else None
        self._grid_pos = 0
        self._grid_claimed = len(self._sampler_claimed)  # grid configurations claimed by earlier runs count

    def set_score_data(self, data: Any, *, size: int = 64) -> None:
        """Let the prefilter score candidates in the driver (scalesearch.train.scores) on one mini-batch of `data`'s train
        split drawn with the study's seed, as the workers do (`scores_for_job`); the scores are stored with them."""
        from scalesearch.train.scores import score_batch

        x, y = score_batch(data.train.x, data.train.y, size=min(size, len(data.train.y)), seed=self.spec.seed)
        self.score_input = (x, y, data.mean, data.std)

    def _scores(self, cand: Candidate) -> dict[str, Any] | None:
        """The candidate's training-free scores (None without score data); a score that fails or is not finite is
        stored as null (JSON has no infinity), with the reason under `error` when the scoring failed."""
        if self.score_input is None:
            return None
        from scalesearch.train.scores import score_candidate, stored_form

        x, y, mean, std = self.score_input
        try:
            return stored_form(score_candidate(cand.netspec, x, y, mean, std, seed=self.spec.seed))
        except Exception as e:  # noqa: BLE001 - a score that cannot be computed must not stop the search
            return {"error": " ".join(str(e).split())[:300] or type(e).__name__}

    def _grid_points(self) -> list[dict[str, Any]]:
        space = grid_space(self.spec)
        names = list(space)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*space.values())]

    def _resolve(self, params: Mapping[str, Any]) -> Candidate:
        """`resolve_candidate` of the spec, kept for the last `RESOLVED_KEPT` distinct values: the plan resolves every
        grid point and named point, and claiming one resolves it again (a matched parameter costs many networks)."""
        try:
            key = tuple(params.items())  # in their order: the candidate keeps it (`sampled`)
            hash(key)
        except TypeError:  # a value that is not hashable: resolved each time
            return resolve_candidate(self.spec, params)
        hit = self._resolved.get(key)
        if hit is None:
            try:
                hit = resolve_candidate(self.spec, params)
            except (InvalidArchitecture, SpecError, ValueError) as e:
                hit = e
            self._resolved[key] = hit
            if len(self._resolved) > RESOLVED_KEPT:
                self._resolved.popitem(last=False)
        else:
            self._resolved.move_to_end(key)
        if isinstance(hit, Exception):
            raise hit
        return hit

    def planned(self) -> int | None:
        """Jobs this study trains in all (for the ETA and a finished study's status): each distinct feasible
        configuration once per repeat (two points that resolve to the same configuration train once); None when
        unknown."""
        s = self.spec.search
        npoints = len(self.spec.point_names)
        if s.sampler != "grid" and not s.points_only:
            return ((s.trials or 0) + npoints) * self.repeats
        grid = [] if s.points_only else self._grid
        assert grid is not None
        if len(grid) > 20000:
            return None
        keys: set[str] = set()
        for params in grid:
            try:
                c = self._resolve(params)
            except ValueError:
                continue
            if c.feasible:
                keys.add(self._config_key(c))
            if s.trials is not None and len(keys) >= s.trials:
                break
        for n in self.spec.point_names:
            try:
                c = self._resolve(self.spec.point(n).as_dict())
                if c.feasible:
                    keys.add(self._config_key(c))
            except ValueError:
                continue
        return len(keys) * self.repeats

    def _config_key(self, candidate: Candidate) -> str:
        return self._jobs(candidate)[0].config_key

    def _jobs(self, candidate: Candidate) -> list[Job]:
        return [job_for_candidate(candidate, self.spec.dataset, study_seed=self.spec.seed, repeat=r,
                                  device=self.device, latency=self.latency) for r in range(self.repeats)]

    def _claim_next(self) -> bool:
        """Claim the next candidate (training it, rejecting it or re-telling it); False when none is left."""
        if self._untold:
            self._retell(*self._untold.popleft())
            return True
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
        if s.prefilter is not None:
            return self._claim_pool()
        trial = self.run.study.ask()
        try:
            params = sample_params(self.spec, trial)
        except Exception as e:  # noqa: BLE001 - a sampler error ends the search, it does not crash the driver
            self.run.study.tell(trial, state=trial_state("FAIL"))
            self.note = f"the sampler failed: {e}"
            return False
        outcome = self._handle(params, None, trial=trial)
        self._idle = 0 if outcome == "new" else self._idle + 1
        return True

    def _claim_pool(self) -> bool:
        """The prefilter (`search.prefilter`): ask the sampler for `pool` candidates, score the new feasible ones,
        claim the best `keep` for training and store the others as rejected (told to Optuna as rejected, with the
        score that dropped them); rejected, known and unscorable proposals are handled as without a prefilter."""
        pf = self.spec.search.prefilter
        assert pf is not None
        left = (self.spec.search.trials or 0) - len(self._sampler_claimed)
        scored: list[tuple[float, int, dict[str, Any], Any, Candidate]] = []
        again: list[tuple[dict[str, Any], Any]] = []  # a configuration proposed twice in one pool: known, after it
        in_pool: set[str] = set()
        for i in range(pf.pool):
            trial = self.run.study.ask()
            try:
                params = sample_params(self.spec, trial)
            except Exception as e:  # noqa: BLE001 - as in _claim_next; the pool's open trials are told FAIL
                for t in [trial, *(x[3] for x in scored), *(x[1] for x in again)]:
                    self.run.study.tell(t, state=trial_state("FAIL"))
                self.note = f"the sampler failed: {e}"
                return False
            try:
                cand = self._resolve(params)
                new = cand.feasible and not self._is_claimed(cand)
            except (InvalidArchitecture, SpecError, ValueError):
                new = False
            if new and self._config_key(cand) in in_pool:
                again.append((params, trial))
                continue
            if not new:  # rejected, known or unresolvable: the usual path
                outcome = self._handle(params, None, trial=trial)
                self._idle = 0 if outcome == "new" else self._idle + 1
                continue
            in_pool.add(self._config_key(cand))
            scores = self._scores(cand) or {}
            value = {"params": cand.params, "macs": cand.macs}.get(pf.score, scores.get(pf.score))
            self._pool_scores[self._config_key(cand)] = scores
            scored.append((-math.inf if value is None else float(value), -i, params, trial, cand))
        scored.sort(key=lambda x: (x[0], x[1]), reverse=True)  # best first; ties: the earlier proposal
        keep = min(pf.keep, max(left, 0))
        for rank, (value, _, params, trial, cand) in enumerate(scored):
            if rank < keep:
                self._handle(params, None, trial=trial)
                self._idle = 0
                continue
            cut = scored[keep - 1][0] if keep else math.inf
            why = (f"prefilter: {pf.score} {value:.6g} below the {keep} best of the pool of {pf.pool} (cut "
                   f"{cut:.6g})")
            key = self._jobs(cand)[0].key  # as a constraint's rejection (`_handle`)
            self.results.tell_rejected(trial, cand, why)
            rec = self.run.store.add_rejected(self.run.name, self._row_fields(params, None, cand, None, trial) |
                                              {"key": key, "config_key": key, "rejected_by": [why],
                                               "scores": self._pool_scores.pop(self._config_key(cand), None)})
            self._rejected.add(key)
            self.run.counts.rejected += 1
            self.run.progress.event("rejected", f"#{rec.number} rejected ({params_label(params)}): {why}",
                                    self.run.counts)
        for params, trial in again:  # now claimed (told with it) or dropped (told rejected), as its first copy
            self._handle(params, None, trial=trial)
            self._idle += 1
        return True

    def _is_claimed(self, cand: Candidate) -> bool:
        """Whether a feasible candidate's configuration is claimed in this run, trained, or dropped before."""
        jobs = self._jobs(cand)
        ck = jobs[0].config_key
        return (ck in self.run.configs or all(j.key in self.run.finished for j in jobs)
                or jobs[0].key in self._rejected)

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

    def _retell(self, params: dict[str, Any], point: str | None, keys: list[str]) -> None:
        """Tell Optuna, on a new trial, the stored result of a finished configuration whose own trial lost it (the
        known-configuration path of `_handle`); its rows (`keys`) then point at the new trial, so that a later
        resume does not tell it twice. Nothing is trained."""
        trial = self._ask_fixed(params, point)
        if trial is None or self._handle(params, point, trial=trial) != "known":
            return
        run = self.run
        rows = run.store.link_optuna_trial(run.name, keys, trial.number)
        run.progress.event("note", f"told Optuna again the stored result of {params_label(params)} ({rows} row(s)): "
                                   "its trial had lost it", run.counts)

    def _ask_fixed(self, params: Mapping[str, Any], point: str | None) -> Any | None:
        """An Optuna trial with exactly these parameter values (enqueued, then asked), or None when the values are
        not in Optuna's distributions (such points are trained without an Optuna trial)."""
        if not spec_fits(self.spec, params):
            return None
        attrs = {"scalesearch_point": point} if point else None
        self.run.study.enqueue_trial(dict(params), user_attrs=attrs)
        trial = self.run.study.ask()
        sample_params(self.spec, trial)  # registers each distribution with its fixed value
        return trial

    def _handle(self, params: dict[str, Any], point: str | None, trial: Any | None) -> str:
        """Resolve one candidate and act on it. `trial`: the Optuna trial that proposed it (None for reruns, points
        and grid points, whose trial is asked here only when there is something new). Returns new, known,
        rejected or skipped (a fixed candidate that needed nothing)."""
        fixed = trial is None
        try:
            cand = self._resolve(params)
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
                self.results.tell_rejected(trial, cand, why)
                return "rejected"
            if fixed:
                trial = self._ask_fixed(params, point)
            self.results.tell_rejected(trial, cand, why)
            rec = self.run.store.add_rejected(self.run.name, self._row_fields(params, point, cand, None, trial) |
                                              {"key": key, "config_key": key, "rejected_by": list(
                                                  cand.rejected_by if cand is not None else (why,))})
            self._rejected.add(key)
            self.run.counts.rejected += 1
            self.run.progress.event("rejected", f"#{rec.number} rejected ({params_label(params)}): {why}",
                                    self.run.counts)
            return "rejected"
        assert cand is not None
        if jobs[0].key in self._rejected and not fixed:  # feasible, but a prefilter dropped it: again, untrained
            self.results.tell_rejected(trial, cand, "prefilter: dropped from an earlier pool")
            return "rejected"
        ck = jobs[0].config_key
        cfg = self.run.configs.get(ck)
        if cfg is not None:  # claimed in this run and not finished yet: wait for it
            if fixed:
                return "skipped"
            set_constraints(trial, self.spec, cand, self.run.base)
            cfg.trials.append(trial)
            return "known"
        if all(j.key in self.run.finished for j in jobs):  # trained before: tell the stored result
            if fixed:
                return "skipped"
            set_constraints(trial, self.spec, cand, self.run.base)
            self.results.tell(ClaimedConfig(ck, dict(params), cand, point, jobs, [trial]))
            return "known"
        if fixed:
            trial = self._ask_fixed(params, point)
        if trial is not None:
            set_constraints(trial, self.spec, cand, self.run.base)
        cfg = ClaimedConfig(ck, dict(params), cand, point, jobs, [trial] if trial is not None else [])
        self.run.configs[ck] = cfg
        todo = [j for j in jobs if j.key not in self.run.finished]
        stored = [r.scores for j in jobs if (r := self._known_rows.get(j.key)) is not None and r.scores]
        scores = stored[0] if stored else self._pool_scores.pop(ck, None)  # else its workers compute them
        if scores is not None:
            self.run.scored.update(j.key for j in jobs)
        for j in todo:
            was = self._known_rows.get(j.key)
            if was is not None:
                self.run.count_row(was.state, -1)
            self.run.store.queue_trial(self.run.name, self._row_fields(params, point, cand, j, trial) |
                                       ({"scores": scores} if scores is not None else {}))
            self.run.counts.queued += 1
            self.run.queue.append(j)
        if point is None:
            self._sampler_claimed.add(ck)
        return "new"

    def _jobs_or_none(self, cand: Candidate) -> str | None:
        try:
            return job_for_candidate(cand, self.spec.dataset, study_seed=self.spec.seed, repeat=0,
                                     device=self.device).key
        except (ValueError, TypeError):
            return None

    def _row_fields(self, params: Mapping[str, Any], point: str | None, cand: Candidate | None, job: Job | None,
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

    def next_job(self) -> Job | None:
        """The next job to train (marked running), or None when the search has nothing left to start."""
        while not self.run.queue:
            if self.exhausted or not self._claim_next():
                self.exhausted = True
                return None
        job = self.run.queue.popleft()
        cfg_key = job.config_key
        rec = self.run.store.start_trial(self.run.name, job.key)
        self.run.inflight[job.key] = RunningJob(job, cfg_key, number=rec.number, attempt=rec.attempts)
        self.run.counts.queued -= 1
        self.run.counts.running += 1
        cfg = self.run.configs.get(cfg_key)
        label = params_label(cfg.params) if cfg is not None else ""
        point = f" [{cfg.point}]" if cfg is not None and cfg.point else ""
        rep = f" repeat {job.repeat}" if self.repeats > 1 else ""
        self.run.progress.event("started", f"#{rec.number} started{point}{rep}: {label}", self.run.counts)
        return job

    def job_config(self, job: Job) -> dict[str, Any]:
        """The Tune config of a job."""
        cfg = {"job": job.to_dict(), "key": job.key, "threads": self.threads,
               "weights": self.spec.search.keep != "none"}
        if self.spec.search.resources.memory_gb is not None:  # the trial's memory budget (`trial.memory_limit`)
            cfg["memory_limit"] = int(self.spec.search.resources.memory_gb * 2 ** 30)
        if job.key not in self.run.scored:  # the worker scores the candidate before training (`trainable`), once
            # per configuration: a repeat that starts while another repeat scores gets its scores on its row when they
            # come (`Results.job_result`); one whose scorer ended without sending them scores itself
            scorer = self.run.scorers.get(job.config_key)
            if scorer is None or scorer == job.key or scorer not in self.run.inflight:
                self.run.scorers[job.config_key] = job.key
                cfg["score_seed"] = self.spec.seed
        claimed = self.run.configs.get(job.config_key)
        if claimed is not None:  # the counted costs, which MO-ASHA ranks with the metric
            cand = claimed.candidate
            cfg["costs"] = {"macs": cand.macs, "params": cand.params}
        state = self.results.checkpoints.load(job.key) if job.train.get("checkpoint_every") else None
        if state is not None:  # an interrupted trial's last training state: it goes on from there
            cfg["resume"] = state
        return cfg
