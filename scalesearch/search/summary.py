"""The engine's texts about a study: the summary printed when a run ends, `status`, and the studies table.

They read the store (a Store or a Reader) and nothing else; the CLI prints them (`ended` is what `run` and
`resume` print after `scalesearch.run`/`resume` returned). A configuration's result is the mean val_acc over its
repeats, counted only when every repeat completed.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.util.text import fmt_duration, human, table

__all__ = ["ALREADY_FINISHED", "configs_of", "driver_alive", "ended", "pareto_configs", "status", "studies_table",
           "summary"]

ALREADY_FINISHED = "already finished"
"""How the message of an `Outcome` begins when the study had already finished and nothing ran."""


def configs_of(trials: Sequence[Any]) -> list[tuple[float, float, Any]]:
    """(mean val_acc over repeats, MACs, first trial) of every configuration whose repeats all completed."""
    groups: dict[str, list[Any]] = {}
    for t in trials:
        if t.state != "rejected":
            groups.setdefault(t.config_key, []).append(t)
    out = []
    for ts in groups.values():
        if all(t.state == "completed" and t.val_acc is not None for t in ts) and ts[0].macs is not None:
            out.append((sum(t.val_acc for t in ts) / len(ts), float(ts[0].macs), ts[0]))
    return out


def pareto_configs(configs: Sequence[tuple[float, float, Any]]) -> list[tuple[float, float, Any]]:
    """The configurations on the accuracy-vs-MACs front (none both more accurate and cheaper), cheapest first."""
    if not configs:
        return []
    from scalesearch.analysis import pareto_mask

    on_front = pareto_mask([(a, m) for a, m, _ in configs], ["max", "min"])
    return sorted((c for c, keep in zip(configs, on_front, strict=True) if keep), key=lambda c: c[1])


def summary(store: Any, name: str, wall_s: float | None = None) -> str:
    """What a study stored and how to look at it (printed at the end of run and resume)."""
    from scalesearch.store import describe_url, sqlite_path

    study, trials = store.snapshot(name)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    took = f" in {fmt_duration(wall_s)}" if wall_s is not None else ""
    order = ("completed", "failed", "stopped", "rejected", "interrupted", "queued", "running")
    names = {"stopped": "stopped early", "rejected": "rejected (never trained)"}
    parts = [f"{counts[s]} {names.get(s, s)}" for s in order if counts.get(s)]
    lines = [f"study {name} {study.state}{took}: {', '.join(parts) or 'no trials'}"]
    if study.state != "finished" and study.message:
        lines.append(f"  {study.message}")
    configs = configs_of(trials)
    if configs:
        acc, macs, t = max(configs, key=lambda c: c[0])
        lines.append(f"best val_acc {acc:.4f}: trial #{t.number} ({_values(t.parameters)}), {human(macs)} MACs, "
                     f"{human(t.params or 0)} params")
        front = pareto_configs(configs)
        if len(front) > 1:
            lines.append("accuracy vs MACs (Pareto front: no other trial is both more accurate and cheaper):")
            for acc, macs, t in front:
                lines.append(f"  {human(macs):>8} MACs  val_acc {acc:.4f}  #{t.number} {_values(t.parameters)}")
    url = describe_url(store.url)
    path = sqlite_path(store.url)
    lines.append(f"results: {url} (study {name})")
    lines.append("look at them:")
    db = "" if path is not None and str(path) == "results/scalesearch.db" else f" --db {url}"
    lines.append(f"  scalesearch status {name}{db}")
    lines.append(f"  scalesearch query {name} --format csv{db}")
    lines.append(f"  optuna-dashboard {url}   (Optuna's web UI; pip install optuna-dashboard)")
    return "\n".join(lines)


def ended(reader: Any, outcome: Any) -> str:
    """What `scalesearch run` and `resume` print when `scalesearch.run`/`resume` returned `outcome`: the study's
    `summary` with this run's wall time, or, when the study had already finished and nothing ran, a line saying so
    and the summary with the study's own wall time."""
    if outcome.message.startswith(ALREADY_FINISHED):
        study = reader.study(outcome.study)
        return (f"study {outcome.study} is already finished ({study.message}); nothing to run\n"
                + summary(reader, outcome.study, study.wall_seconds))
    return summary(reader, outcome.study, outcome.wall_s)


def _values(values: Mapping[str, Any], limit: int = 6) -> str:
    items = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(values.items())[:limit]]
    return ", ".join(items) + (", ..." if len(values) > limit else "")


def status(reader: Any, name: str) -> str:
    """A study's state, counts by state, best trial, time and running trials."""
    study, trials = reader.snapshot(name)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    state = study.state
    if state == "running" and not driver_alive(study):
        state = "running? (its driver is gone: `scalesearch resume " + name + "` continues it)"
    lines = [f"study    {name}: {state}" + (f" ({study.message})" if study.message else ""),
             f"search   {study.sampler} sampler, {study.repeats} repeat(s), seed {study.seed}, objectives "
             + ", ".join(f"{n} {d}" for n, d in study.objectives)]
    order = ("completed", "running", "queued", "failed", "stopped", "rejected", "interrupted")
    planned = f" of {study.planned} planned" if study.planned else ""
    done = sum(counts.get(s, 0) for s in ("completed", "failed", "stopped"))
    lines.append(f"trials   {done} done{planned}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in order))
    configs = configs_of(trials)
    if configs:
        acc, macs, t = max(configs, key=lambda c: c[0])
        lines.append(f"best     val_acc {acc:.4f}: #{t.number} ({_values(t.parameters)}), {human(macs)} MACs")
    wall = study.wall_seconds
    if study.state == "running":  # this run so far (up to its last sign of life when its driver is gone)
        end = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if driver_alive(study) else study.updated
        wall += max(0.0, (end - study.started).total_seconds())
    lines.append(f"time     {fmt_duration(wall)} over {study.runs} run(s); created {study.created:%Y-%m-%d %H:%M} UTC")
    for t in trials:
        if t.state == "running":
            acc = f", val_acc {t.val_acc:.4f}" if t.val_acc is not None else ""
            lines.append(f"running  #{t.number}: epoch {t.epochs_done} done{acc} ({_values(t.parameters)})")
    return "\n".join(lines)


def driver_alive(study: Any) -> bool:
    """Whether the study's driver process still runs (True when it runs on another host: it cannot be told)."""
    if study.driver_host != socket.gethostname() or not study.driver_pid:
        return True
    try:
        os.kill(study.driver_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def studies_table(reader: Any) -> str:
    """One line per study of the database: state, sampler, progress, best val_acc, wall time, creation."""
    from scalesearch.store import describe_url

    studies = reader.studies()
    if not studies:
        return f"no studies in {describe_url(reader.url)}"
    rows = [("study", "state", "sampler", "done", "completed", "rejected", "best val_acc", "wall", "created")]
    for s in studies:
        counts = reader.counts(s.name)
        done = sum(counts.get(k, 0) for k in ("completed", "failed", "stopped"))
        configs = configs_of(reader.trials(s.name, states=("completed", "failed", "stopped")))
        best = f"{max(c[0] for c in configs):.4f}" if configs else "-"
        rows.append((s.name, s.state, s.sampler, f"{done}/{s.planned}" if s.planned else str(done),
                     str(counts.get("completed", 0)), str(counts.get("rejected", 0)), best,
                     fmt_duration(s.wall_seconds), f"{s.created:%Y-%m-%d %H:%M}"))
    return table(rows)
