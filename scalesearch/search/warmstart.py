"""Warm starts (`search: {warm_start: {study: OLD, db: URL, enqueue_front: true}}`): a new study's sampler starts
from an old study's results instead of from nothing (Optuna's `add_trials`, the way its docs move results between
studies; Syne Tune and Ax call it transfer).

The rule, once, when the new study's first run starts:
- The old study is read, never written: its COMPLETE Optuna trials, each with the values its sampler was told (a
  configuration's objectives; val_acc the mean of its repeats). Its objectives must be the new study's, in the same
  order and directions.
- Each old trial keeps the parameters both studies sample whose old value lies in the new parameter's domain (a grid
  or choice value among the new values; an integer or float within the new range, on its step). The others are
  dropped: the new sampler draws a parameter a told trial lacks as it draws one it has not seen (TPE, NSGA-II and
  REA sample it independently). A trial left with no parameter is not told; a warm start that tells nothing is an
  error (the spaces share nothing).
- The kept trials are added to the new study's Optuna study as COMPLETE trials marked `scalesearch_warm_start`
  (the old study's name, and `scalesearch_warm_trial`: its trial number there). They are not the new study's
  trials: its store holds none of them, so they count for nothing in its plan, progress, status, results or
  dumps of its trials, and a configuration the new sampler proposes again is trained (nothing is copied).
- `enqueue_front`: the old Pareto front's configurations (over the objectives) whose every parameter the new space
  samples is in its domain are enqueued, best first by the first objective, and so trained first.
- A random sampler ignores what it is told: only `enqueue_front` changes it.

`warm_trials` builds the told trials from any source of (parameters, values): the driver's from the old study, the
simulator's from a recorded table (`scalesearch simulate` and scripts/warm_start.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from scalesearch.errors import InputError
from scalesearch.search.study import distributions_of
from scalesearch.spec import SearchSpec
from scalesearch.store import Reader, describe_url

__all__ = ["WARM_ATTR", "apply_warm_start", "check_warm_start", "in_domain", "read_old_study",
           "warm_trials"]

WARM_ATTR = "scalesearch_warm_start"  # user attribute of a told trial: the old study's name


def in_domain(dist: Any, value: Any) -> bool:
    """Whether an Optuna distribution holds `value` (its own type: True is not 1)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return any(type(value) is type(c) and value == c for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if isinstance(dist, IntDistribution):
        if not isinstance(value, int) or not dist.low <= value <= dist.high:
            return False
        return dist.log or (value - dist.low) % dist.step == 0
    if isinstance(dist, FloatDistribution):
        if not dist.low <= value <= dist.high:
            return False
        if dist.step is None:
            return True
        k = (value - dist.low) / dist.step
        return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))
    return False


def warm_trials(spec: SearchSpec, old: Iterable[tuple[Mapping[str, Any], Sequence[float], int]],
                label: str) -> list[Any]:
    """The FrozenTrials that tell the new spec's sampler an old study's results (the module's rule): `old` holds
    (parameters, objective values, old trial number) per configuration; `label` names the old study."""
    import optuna

    dists = distributions_of(spec)
    n_obj = len(spec.search.objectives)
    out = []
    for params, values, number in old:
        kept = {k: v for k, v in params.items() if k in dists and in_domain(dists[k], v)}
        if not kept or len(values) != n_obj or not all(math.isfinite(float(v)) for v in values):
            continue
        out.append(optuna.trial.create_trial(
            params=kept, distributions={k: dists[k] for k in kept}, values=[float(v) for v in values],
            user_attrs={WARM_ATTR: label, "scalesearch_warm_trial": int(number)}))
    return out


def read_old_study(spec: SearchSpec, own_url: str) -> tuple[str, list[tuple[dict[str, Any], list[float], int]]]:
    """(the old study's label, its COMPLETE configurations as (parameters, told values, Optuna trial number)), read
    without writing. Raises InputError (one line naming search.warm_start) when it cannot be used."""
    import optuna
    import sqlalchemy as sa

    w = spec.search.warm_start
    assert w is not None
    url = w.db or own_url
    where = f"search.warm_start: study {w.study!r} in {describe_url(url)}"
    try:
        with Reader(url) as reader:
            names = [s.name for s in reader.studies()]
    except (OSError, ValueError, LookupError, sa.exc.SQLAlchemyError) as e:
        raise InputError(f"search.warm_start.db: cannot read {describe_url(url)}: "
                         f"{' '.join(str(e).split())[:200]}") from None
    if w.study not in names:
        raise InputError(f"{where}: no such study (stored there: {', '.join(names[:10]) or 'none'})")
    if w.study == spec.study and url == own_url:
        raise InputError(f"{where}: a study cannot warm-start itself")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(_read_only(url))
    try:
        old = optuna.load_study(study_name=w.study, storage=storage)
        attrs = old.user_attrs.get("scalesearch") or {}
        theirs = [tuple(o) for o in attrs.get("objectives", [])]
        ours = [(o.name, o.direction) for o in spec.search.objectives]
        if theirs != ours:
            raise InputError(f"{where}: its objectives are {_objs(theirs) or 'not recorded'}, this study's "
                             f"{_objs(ours)}; expected the same objectives in the same order")
        rows = [(dict(t.params), list(t.values), t.number)
                for t in old.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if t.values is not None and WARM_ATTR not in t.user_attrs]
    finally:
        storage.engine.dispose()
    return w.study, rows


def _objs(objs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{n}: {d}" for n, d in objs)


def _read_only(url: str) -> str:
    """A SQLite URL opened read-only (SQLite's own mode=ro); other databases as they are (only read from)."""
    if url.startswith("sqlite:///") and "?" not in url:
        return f"sqlite:///file:{url[len('sqlite:///'):]}?mode=ro&uri=true"
    return url


def _told(spec: SearchSpec, own_url: str) -> tuple[list[tuple[dict[str, Any], list[float], int]], list[Any]]:
    """(the old study's configurations, the trials that tell them); InputError when none shares the new space."""
    label, rows = read_old_study(spec, own_url)
    told = warm_trials(spec, rows, label)
    if not told:
        raise InputError(f"search.warm_start: none of the {len(rows)} completed configurations of study {label!r} "
                         "has a parameter value in this study's space; expected an old study that shares parameters")
    return rows, told


def check_warm_start(spec: SearchSpec, own_url: str) -> None:
    """Before a new study is created: the old study can warm-start it (InputError, one line, otherwise). A study
    that exists already was warm-started by its first run: nothing to check."""
    if spec.search.warm_start is None:
        return
    try:
        with Reader(own_url) as reader:
            if reader.find_study(spec.study) is not None:
                return
    except Exception:  # noqa: BLE001, S110 - no database (or none readable) yet: a new study, checked below
        pass
    _told(spec, own_url)


def apply_warm_start(study: Any, spec: SearchSpec, own_url: str) -> tuple[int, int]:
    """Tell the new study's sampler the old study's results, and enqueue its front if asked, unless an earlier run
    of this study already did: (trials told, configurations enqueued)."""
    w = spec.search.warm_start
    if w is None or any(WARM_ATTR in t.user_attrs for t in study.get_trials(deepcopy=False)):
        return 0, 0
    rows, told = _told(spec, own_url)
    label = w.study
    study.add_trials(told)
    enqueued = 0
    if w.enqueue_front:
        from scalesearch.analysis import pareto_mask

        dists = distributions_of(spec)
        first = spec.search.objectives[0]
        on_front = pareto_mask([r[1] for r in rows], [o.direction for o in spec.search.objectives])
        front = sorted(np.flatnonzero(on_front), key=lambda i: -rows[i][1][0] if first.direction == "max"
                       else rows[i][1][0])  # best first by the first objective
        for i in front:
            params = rows[i][0]
            if set(dists) <= set(params) and all(in_domain(d, params[k]) for k, d in dists.items()):
                study.enqueue_trial({k: params[k] for k in dists}, user_attrs={"scalesearch_warm_front": label})
                enqueued += 1
    return len(told), enqueued
