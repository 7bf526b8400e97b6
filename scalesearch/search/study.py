"""Opening a study: Optuna's storage and sampler on the results database, the check that a study name fits its
spec, the study's stored spec, and the provenance (package versions, hardware) recorded with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import socket
from typing import Any, Mapping

from scalesearch.store import Store, StudyRecord, describe_url

__all__ = ["open_optuna_storage", "prepare_study", "provenance", "spec_fits", "stored_spec"]


_SAMPLER_SEED_SALT = "scalesearch-sampler"


def open_optuna_storage(url: str) -> Any:
    """Optuna's RDBStorage on the results database, with the same SQLite settings as the store."""
    import optuna
    from sqlalchemy import event

    from scalesearch.store.engine import BUSY_TIMEOUT_S

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    if storage.engine.dialect.name == "sqlite":
        @event.listens_for(storage.engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        storage.engine.dispose()  # connections opened while the tables were created had no listener yet
    return storage


def _make_sampler(spec: Any, seed: int) -> Any:
    import optuna

    from scalesearch.spec import grid_space

    kind = spec.search.sampler
    if kind == "grid":
        class _DriverGrid(optuna.samplers.GridSampler):
            """GridSampler whose end-of-grid `study.stop()` is left out: the driver walks the grid itself."""

            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                return None

        space = grid_space(spec) if spec.sampled else {"_": [0]}
        return _DriverGrid(space, seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if kind == "nsga2":
        trials = spec.search.trials or 100
        # Optuna's default population of 50 leaves a search of 40 trials with no second generation.
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, trials // 3)))
    raise ValueError(f"search.sampler: unknown sampler {kind!r}")  # pragma: no cover - the spec checks it


def spec_fits(spec: Any, params: Mapping[str, Any]) -> bool:
    """Whether `params` are values Optuna's distributions of the sampled parameters accept, and nothing else."""
    from scalesearch.spec import ChoiceParam, FloatParam, GridParam, IntParam

    sampled = {p.name: p for p in spec.sampled}
    if set(params) - set(sampled):
        return False
    for name, p in sampled.items():
        if name not in params:
            return False
        v = params[name]
        if isinstance(p, IntParam):
            if type(v) is not int or not p.low <= v <= p.high or (v - p.low) % p.step:
                return False
        elif isinstance(p, FloatParam):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not p.low <= v <= p.high:
                return False
            if p.step is not None and abs(round((v - p.low) / p.step) * p.step - (v - p.low)) > 1e-9 * max(1, abs(v)):
                return False
        elif isinstance(p, (GridParam, ChoiceParam)):
            if not any(type(v) is type(c) and v == c for c in p.values()):
                return False
    return True


def provenance() -> tuple[dict[str, Any], dict[str, Any]]:
    """(package versions, hardware) recorded with a study."""
    from importlib import metadata

    versions: dict[str, Any] = {"python": platform.python_version()}
    for pkg in ("scalesearch", "torch", "optuna", "ray", "sqlalchemy", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[pkg] = None
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    hardware: dict[str, Any] = {"host": socket.gethostname(), "platform": platform.platform(), "cpu": cpu,
                                "cpus": os.cpu_count()}
    try:
        hardware["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        pass
    try:
        import torch

        if torch.cuda.is_available():
            hardware["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - informational
        pass
    return versions, hardware


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stored_spec(record: StudyRecord) -> Any:
    """The SearchSpec a study runs, parsed from its stored text (the study name as stored)."""
    from scalesearch.spec import parse_spec

    spec = parse_spec(record.spec_text, record.spec_file or f"<study {record.name}>")
    return dataclasses.replace(spec, study=record.name) if spec.study != record.name else spec


def prepare_study(store: Store, spec: Any, *, spec_text: str, spec_file: str | None) -> StudyRecord:
    """The study `spec.study` in the store: created when new, checked when it exists. Nothing is written unless
    every check passes.

    Raises:
        ValueError: the name exists with another spec, belongs to an Optuna study scalesearch did not create, or
            another live process is running the study.
    """
    from scalesearch.spec import format_spec

    name = spec.study
    where = describe_url(store.url)
    rec = store.find_study(name)
    if rec is not None:
        try:
            same = stored_spec(rec) == spec
        except ValueError:
            same = False
        if not same:
            raise ValueError(f"study {name!r} already exists in {where} with another spec (stored from "
                             f"{rec.spec_file or 'a spec'}); run this spec under another name with --study NAME, or "
                             f"use another --db")
        if rec.state == "running" and rec.driver_host == socket.gethostname() and _pid_alive(rec.driver_pid) and \
                rec.driver_pid != os.getpid():
            raise ValueError(f"study {name!r} is being run right now by process {rec.driver_pid} on this host")
        return rec
    storage = open_optuna_storage(store.url)
    try:
        taken = {s.study_name for s in storage.get_all_studies()}
    finally:
        storage.engine.dispose()
    if name in taken:
        raise ValueError(f"{where} already has an Optuna study named {name!r} that scalesearch did not create; "
                         "choose another --study NAME or --db")
    canonical = format_spec(spec)
    versions, hardware = provenance()
    s = spec.search
    return store.create_study(
        name=name, spec_text=spec_text, spec_file=spec_file, spec_canonical=canonical,
        spec_hash=hashlib.sha256(canonical.encode()).hexdigest(), seed=spec.seed, sampler=s.sampler,
        objectives=[[o.name, o.direction] for o in s.objectives], repeats=s.repeats, planned=None,
        versions=versions, hardware=hardware, state="interrupted", message="created; not started yet",
        wall_seconds=0.0, runs=0)
