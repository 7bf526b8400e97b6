"""The Ray Tune adapter: a trial's config (a `scalesearch.trial.job.Job` as data) -> `trial.job.run` -> `tune.report`.

Every epoch but the last is reported as it ends (ASHA decides on those); the last epoch is reported once, after
`fit` returns, merged with the result summary and `final: True`, so that the final report carries everything
(test accuracy, latency, times) even when ASHA stops the trial on it. A failed trial reports its error as a
final result instead of raising: the driver stores it as failed with its text, and the reused worker goes on to
the next trial. When Tune stops a trial (ASHA), `tune.report` ends the training thread with SystemExit, which
`trial.job.run` lets through.

With `score_seed` in the config, the worker first computes the candidate's training-free scores
(`scalesearch.train.scores.scores_for_job`) and sends them with its first report (the driver asks one job per
configuration: its repeats' rows get the same scores).

The dataset arrives through `tune.with_parameters` (put in Ray's object store once per search, not pickled
into every trial's config). A first report, before any epoch, and every later one carry
`node`, the host name and the Ray node id of the worker (`host/0123456789ab`): two Ray nodes on one host are told
apart, and the driver knows where a job ran even when its worker dies before the job ends.

With `checkpoint_every`, an epoch's report also carries the training state saved after it (`checkpoint`, base64),
which the driver keeps; a config with `resume` (an interrupted trial's last state) goes on from it, reporting the
epochs before it again first.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["trial_trainable"]

_SUMMARY = ("state", "val_acc", "best_val_acc", "test_acc", "test_loss", "train_seconds", "total_seconds",
            "images_per_s", "steps", "stopped_early", "device", "node", "latency_ms", "error", "traceback", "key",
            "resumed_from_epoch")


def _report(metrics: dict[str, Any]) -> None:
    from ray import tune

    tune.report(metrics)  # ray.train.report fails a Tune function trial in Ray 2.60: keep it tune.report


def node_name() -> str:
    """This worker's host name and Ray node id (its first 12 hex digits): `host/0123456789ab`."""
    import socket

    import ray

    try:
        node_id = ray.get_runtime_context().get_node_id() or ""
    except Exception:  # noqa: BLE001 - informational
        node_id = ""
    return f"{socket.gethostname()}/{node_id[:12]}" if node_id else socket.gethostname()


def trial_trainable(config: dict[str, Any], data: Any = None) -> None:
    """Tune function trainable: run the job in `config["job"]` on `data`."""
    from scalesearch.trial.job import Job, run

    job = Job.from_dict(config["job"])
    key = job.key
    node = node_name()
    first: dict[str, Any] = {"key": key, "node": node}
    if config.get("score_seed") is not None and data is not None:  # training-free scores, before training
        import torch

        from scalesearch.train.scores import scores_for_job

        torch.set_num_threads(max(1, int(config.get("threads") or 1)))
        # as JSON text: Tune flattens a nested dict of a result into "scores/naswot", ... before the searcher
        first["scores"] = json.dumps(scores_for_job(job.netspec, data, seed=int(config["score_seed"])))
    _report(first)  # where it runs (and its scores), before any epoch: ASHA ignores a result without one

    pending: dict[str, Any] = {}

    def on_checkpoint(epoch: int, state: str) -> None:  # sent with its epoch's result, which comes next
        pending["checkpoint"] = state

    def on_epoch(record: dict[str, Any], last: bool) -> None:
        if not last:
            _report({**{k: v for k, v in record.items() if v is not None}, "key": key, "node": node,
                     **pending})
            pending.clear()

    result = run(job, data, on_epoch=on_epoch, threads=config.get("threads"), weights=bool(config.get("weights")),
                 on_checkpoint=on_checkpoint, resume=config.get("resume"), memory_limit_bytes=config.get("memory_limit"))
    final: dict[str, Any] = {"final": True}
    epochs = result.get("epochs") or []
    if epochs:
        final.update({k: v for k, v in epochs[-1].items() if v is not None})
    final.update({k: result[k] for k in _SUMMARY if result.get(k) is not None})
    final["node"] = node
    if result.get("weights"):  # the trained weights, for the driver to keep (search.keep)
        final["weights"] = result["weights"]
    if result.get("state") != "completed" or final.get("val_acc") is None or not math.isfinite(final["val_acc"]):
        # without epoch and val_acc, ASHA ignores a failed trial's report; the driver reads them back
        final["last_epoch"] = final.pop("epoch", 0)
        if "val_acc" in final:
            final["last_val_acc"] = final.pop("val_acc")
    _report(final)
