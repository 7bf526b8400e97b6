"""A recorded study as the simulator's table (`scalesearch.simulate.replay`): every configuration the study
trained to its full number of epochs in every repeat, with each repeat's recorded per-epoch val_acc and time (the
trial's seconds, `work_seconds`, spread over its epochs as the epochs' own seconds were), its costs and its stored training-free
scores; and the configurations a constraint rejected. A grid or choice parameter some of whose values no record
holds (a study stopped before its grid was done) is sampled over the recorded values only (`Table.narrowed`).
The anytime value of a set of configurations is the best objective (one) or their hypervolume (two; reference:
10% of each objective's range beyond the table's worst value). `DistinctDraws`: the points of a finite space drawn
without replacement (the simulator's `random` over a finite space).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalesearch.analysis.pareto import hypervolume, pareto_mask
from scalesearch.errors import InputError

__all__ = ["TABLE_OBJECTIVES", "DistinctDraws", "Entry", "Table", "config_key", "work_seconds"]

TABLE_OBJECTIVES = ("val_acc", "test_acc", "macs", "params")


def config_key(params: Mapping[str, Any]) -> str:
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=str)


def work_seconds(trial: Any) -> float | None:
    """The seconds a recorded trial's work took: what its worker measured from its start to its result (data,
    training, evaluation: the `total_seconds` it reported), else the driver's seconds from claiming it to storing its
    end, which also hold any wait for a free worker (a study run with fewer CPUs than trials at a time); the
    simulator models that wait itself, with its own workers."""
    worker = (getattr(trial, "metrics", None) or {}).get("total_seconds")
    if worker:
        return float(worker)
    return float(trial.seconds) if trial.seconds else None


@dataclass(frozen=True)
class Entry:
    """One recorded configuration: parameters, per repeat its per-epoch val_acc and seconds, costs and the mean
    test accuracy (None when not measured)."""

    params: Mapping[str, Any]
    curves: tuple[tuple[float, ...], ...]
    seconds: tuple[tuple[float, ...], ...]
    macs: float
    n_params: float
    test_acc: float | None
    orders: tuple[int, ...]  # when the recorded study started each repeat (its trial number)
    scores: Mapping[str, float] = field(default_factory=dict)  # training-free scores stored with the record

    def score(self, name: str) -> float | None:
        """A prefilter's ranking value: a stored training-free score or the counted params or MACs."""
        return {"params": self.n_params, "macs": self.macs}.get(name, self.scores.get(name))

    def objective(self, name: str, epoch: int | None = None, repeat: int | None = None) -> float | None:
        """An objective's value after `epoch` epochs (default: all), of one repeat or their mean."""
        if name == "val_acc":
            i = (epoch or len(self.curves[0])) - 1
            return self.curves[repeat][i] if repeat is not None else float(np.mean([c[i] for c in self.curves]))
        return {"macs": self.macs, "params": self.n_params, "test_acc": self.test_acc}.get(name)


def _narrowed(spec: Any, recorded: Sequence[Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The spec with each grid or choice parameter narrowed to the values some record holds, and per narrowed
    parameter (kept values, the spec's values). A table recorded over part of its space (a study stopped before
    its grid was done) is then sampled over that part: every proposal of a value never recorded would be a miss."""
    params, narrowed = [], {}
    for p in spec.parameters:
        values = getattr(p, "grid", None) if p.kind == "grid" else getattr(p, "choices", None) if p.kind == "choice" \
            else None
        seen = {r[p.name] for r in recorded if p.name in r}
        kept = tuple(v for v in values or () if v in seen)
        if values and kept and len(kept) < len(values):
            p = dataclasses.replace(p, **{"grid" if p.kind == "grid" else "choices": kept})
            narrowed[p.name] = (kept, tuple(values))
        params.append(p)
    return (dataclasses.replace(spec, parameters=tuple(params)) if narrowed else spec), narrowed


@dataclass
class Table:
    """A recorded study as a table (see the module docstring)."""

    spec: Any
    entries: dict[str, Entry]
    rejected: set[str]
    epochs: int
    workers: int
    objectives: tuple[tuple[str, str], ...]
    recorded_finish: list[str] = field(default_factory=list)  # configuration keys in the order they finished
    narrowed: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=dict)  # see `_narrowed`

    @classmethod
    def from_records(cls, spec: Any, trials: Sequence[Any], epochs: Sequence[Any]) -> Table:
        """From a study's spec and its stored trial and epoch records (`Reader.trials`, `Reader.epochs`)."""
        objectives = tuple((o.name, o.direction) for o in spec.search.objectives)
        bad = [n for n, _ in objectives if n not in TABLE_OBJECTIVES]
        if bad:
            raise InputError(f"study {spec.study}: the simulator replays {', '.join(TABLE_OBJECTIVES)}; the study's "
                             f"objective {bad[0]} is not recorded per configuration")
        n_epochs = int(dict(spec.train).get("epochs", 0)) if isinstance(dict(spec.train).get("epochs"), int) else 0
        by_trial: dict[int, list[Any]] = {}
        for e in epochs:
            by_trial.setdefault(e.number, []).append(e)
        sampled = [p.name for p in spec.sampled]
        groups: dict[str, list[Any]] = {}
        rejected: set[str] = set()
        for t in trials:
            key = config_key({k: t.parameters[k] for k in sampled if k in t.parameters})
            if t.state == "rejected":
                rejected.add(key)
            elif t.state == "completed":
                groups.setdefault(key, []).append(t)
        n_epochs = n_epochs or max((t.epochs_done for g in groups.values() for t in g), default=0)
        entries: dict[str, Entry] = {}
        finish: list[tuple[float, int, str]] = []
        for key, group in groups.items():
            group.sort(key=lambda t: t.number)  # repeat r's curve and time beside its start (`orders`)
            curves, secs = [], []
            for t in group:
                eps = sorted(by_trial.get(t.number, []), key=lambda e: e.epoch)
                if [e.epoch for e in eps] != list(range(1, n_epochs + 1)) or any(e.val_acc is None for e in eps):
                    break
                curves.append(tuple(float(e.val_acc) for e in eps))
                w = np.array([max(e.seconds or 0.0, 0.0) for e in eps])
                total = work_seconds(t) or float(w.sum())
                secs.append(tuple(float(x) for x in (w / w.sum() * total if w.sum() > 0
                                                     else np.full(n_epochs, total / n_epochs))))
            else:
                tests = [t.test_acc for t in group if t.test_acc is not None]
                first = group[0]
                entries[key] = Entry(
                    params={k: first.parameters[k] for k in sampled if k in first.parameters},
                    curves=tuple(curves), seconds=tuple(secs), macs=float(first.macs or 0),
                    n_params=float(first.params or 0), test_acc=float(np.mean(tests)) if tests else None,
                    orders=tuple(t.number for t in group),
                    scores={k: float(v) for k, v in (first.scores or {}).items()
                            if isinstance(v, (int, float)) and math.isfinite(v)})
                ends = [t.finished for t in group if t.finished is not None]
                finish.append((max(ends).timestamp() if ends else math.inf, first.number, key))
        if not entries:
            raise InputError(f"study {spec.study}: no configuration completed all {n_epochs} epochs; nothing to "
                             "replay")
        spec, narrowed = _narrowed(spec, [e.params for e in entries.values()] + [json.loads(k) for k in rejected])
        return cls(spec=spec, entries=entries, rejected=rejected, epochs=n_epochs,
                   workers=spec.search.max_concurrency, objectives=objectives,
                   recorded_finish=[k for _, _, k in sorted(finish)], narrowed=narrowed)

    def vector(self, key: str) -> tuple[float, ...]:
        """A configuration's objective values, in the objectives' order (cached)."""
        cache = self.__dict__.setdefault("_vectors", {})
        if key not in cache:
            cache[key] = tuple(float(self.entries[key].objective(n)) for n, _ in self.objectives)
        return cache[key]

    def key_of(self, params: Mapping[str, Any]) -> str:
        """The table's key of a configuration: its sampled parameters' values."""
        return config_key({p.name: params[p.name] for p in self.spec.sampled if p.name in params})

    def reference(self) -> list[float]:
        """The hypervolume reference: 10% of each objective's range beyond the table's worst value, so that the
        front's end points add volume too (computed once per table)."""
        return list(self.reference_point)

    @functools.cached_property
    def reference_point(self) -> tuple[float, ...]:
        """`reference()`, computed once (the table does not change once built)."""
        out = []
        for name, direction in self.objectives:
            vals = [e.objective(name) for e in self.entries.values()]
            vals = [v for v in vals if v is not None]
            span = (max(vals) - min(vals)) or abs(max(vals)) or 1.0
            out.append(min(vals) - 0.1 * span if direction == "max" else max(vals) + 0.1 * span)
        return tuple(out)

    def anytime(self, keys: Sequence[str]) -> float:
        """The anytime value of a set of completed configurations: the best objective or the hypervolume."""
        if not keys:
            return math.nan
        pts = np.array([self.vector(k) for k in keys], dtype=float)
        dirs = [d for _, d in self.objectives]
        if len(dirs) == 1:
            return float(pts[:, 0].max() if dirs[0] == "max" else pts[:, 0].min())
        return float(hypervolume(pts, self.reference(), dirs))

    def front(self, keys: Sequence[str]) -> set[str]:
        """The Pareto-optimal configurations among `keys`."""
        pts = np.array([self.vector(k) for k in keys], dtype=float)
        mask = pareto_mask(pts, [d for _, d in self.objectives])
        return {k for k, m in zip(keys, mask, strict=True) if m}


class DistinctDraws:
    """Points of a finite space (name -> values) drawn uniformly without replacement, seeded: Fisher-Yates over
    the points' indices, lazily (the swapped indices in a dict), each index decoded into one value per name."""

    def __init__(self, space: dict[str, list[Any]], seed: int) -> None:
        self.names, self.values = list(space), [list(v) for v in space.values()]
        self.left = math.prod(len(v) for v in self.values)  # points not drawn yet
        self.rng = np.random.RandomState(seed)
        self.moved: dict[int, int] = {}

    def draw(self) -> dict[str, Any]:
        """The next point (once every point is drawn: any point, uniformly)."""
        if self.left:
            i = int(self.rng.randint(self.left))
            self.left -= 1
            index = self.moved.get(i, i)
            self.moved[i] = self.moved.pop(self.left, self.left)
        else:
            index = int(self.rng.randint(math.prod(len(v) for v in self.values)))
        picks = []
        for vals in reversed(self.values):  # the last name varies fastest, as in itertools.product
            index, j = divmod(index, len(vals))
            picks.append(vals[j])
        return dict(zip(self.names, reversed(picks), strict=True))
