"""Opening a study: Optuna's storage and sampler on the results database, the check that a study name fits its
spec, the study's stored spec, and the provenance (package versions, hardware) recorded with it; deleting a study
(`delete_study`, what `scalesearch delete` does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

from scalesearch.errors import ConflictError, InputError
from scalesearch.store import Store, StudyRecord, describe_url

__all__ = ["SAMPLER_SEED_SALT", "delete_study", "distributions_of", "make_sampler", "open_optuna_storage",
           "prepare_study", "provenance", "release_study", "spec_fits", "stored_spec"]


SAMPLER_SEED_SALT = "scalesearch-sampler"
_STARTING = "starting"  # the message of a study created by a driver that has not started its run yet


def open_optuna_storage(url: str) -> Any:
    """Optuna's RDBStorage on the results database, with the same SQLite settings as the store.

    Optuna creates its tables when they are missing, each CREATE on its own (no transaction around the check and
    the create): two drivers of different studies starting on a new database at once can both try to create one,
    and the second fails with "table ... already exists". That one is opened again: the tables are there now.
    """
    import optuna
    import sqlalchemy as sa
    from sqlalchemy import event

    from scalesearch.store.engine import BUSY_TIMEOUT_S

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    for attempt in range(5):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
            break
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as e:
            if attempt == 4 or not (isinstance(e, sa.exc.IntegrityError) or "already exists" in str(e)):
                raise
            time.sleep(0.1 * (attempt + 1))
    if storage.engine.dialect.name == "sqlite":
        @event.listens_for(storage.engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        storage.engine.dispose()  # connections opened while the tables were created had no listener yet
    return storage


def make_sampler(spec: Any, seed: int) -> Any:
    """The Optuna sampler the spec names (grid, random, tpe, nsga2, rea), seeded with `seed`."""
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
    if kind == "rea":
        from scalesearch.strategies.rea import REASampler

        return REASampler(*spec.search.rea(), seed=seed)
    raise InputError(f"search.sampler: unknown sampler {kind!r}")  # pragma: no cover - the spec checks it


def distributions_of(spec: Any) -> dict[str, Any]:
    """The Optuna distributions of the spec's sampled parameters, as `sample_params` registers them."""
    import optuna

    from scalesearch.spec import sample_params

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    sample_params(spec, trial)
    return dict(trial.distributions)


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
        elif isinstance(p, (GridParam, ChoiceParam)) and not any(type(v) is type(c) and v == c for c in p.values()):
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
    if gpu_driver_loaded():
        try:
            import torch

            if torch.cuda.is_available():
                hardware["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # noqa: BLE001, S110 - informational: no GPU names when torch or CUDA cannot say
            pass
    return versions, hardware


# Where Linux shows a loaded GPU driver: NVIDIA's kernel module, ROCm's compute device.
GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/kfd")


def gpu_driver_loaded() -> bool:
    """Whether torch could see a GPU here. On Linux without a GPU driver it cannot, and the driver of a search then
    never imports torch (1.5 CPU-s; its trials import it in their own workers); elsewhere torch is asked."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(p) for p in GPU_DRIVER_PATHS)


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
    """The study `spec.study` in the store, claimed for this process: created when new, checked when it exists,
    and marked as driven by this process (host and PID), all in one transaction (`Store.claim_study`), so that of
    two drivers started at the same moment exactly one runs it and the other is refused. Nothing is written unless
    every check passes. A finished study is returned unclaimed (nothing is left to run). A claim whose process is
    gone (a driver killed or crashed on this host) is taken over, as `scalesearch resume` does; a claim made on
    another host cannot be checked from here and is taken over too. `release_study` drops the claim of a run that
    ends before `run_study` starts.

    Raises:
        ConflictError: the name exists with another spec, belongs to an Optuna study scalesearch did not create, or
            another live process on this host is running the study (a ValueError: one line, exit 2).
    """
    from scalesearch.spec import format_spec

    name = spec.study
    where = describe_url(store.url)
    host, pid = socket.gethostname(), os.getpid()

    def vet(rec: StudyRecord) -> bool:
        try:
            same = stored_spec(rec) == spec
        except ValueError:  # e.g. its own data's old path is gone
            same = False
        if same and seen and seen != {content}:
            raise ConflictError(f"study {name!r} in {where} was trained on other images than {spec.dataset.path} "
                                f"now holds (content {content[:12]}, its trials' {min(seen)[:12]}); expected the "
                                "same images, labels and classes, or run this data as another study with --study NAME")
        if not same and not _moved_data(rec, spec, content, seen):
            raise ConflictError(f"study {name!r} already exists in {where} with another spec (stored from "
                                f"{rec.spec_file or 'a spec'}); run this spec under another name with --study NAME, "
                                "or use another --db")
        if rec.driver_pid and rec.driver_host == host and rec.driver_pid != pid and _pid_alive(rec.driver_pid):
            raise ConflictError(f"study {name!r} is being run right now by process {rec.driver_pid} on this host; "
                                "wait for it to end, or stop it first (Ctrl-C, or SIGTERM to that pid)")
        return rec.state != "finished"

    canonical = format_spec(spec)
    # the contents an existing study's trials on own data were made for (read before the claim's transaction)
    existing = store.find_study(name)
    content = spec.dataset.content
    seen: set[str] = set()
    if content is not None and existing is not None:
        seen = {(t.data or {}).get("content") for t in store.trials(name)} - {None}
    # provenance (which imports torch) outside the claim's transaction, and only for a study that looks new
    versions, hardware = provenance() if existing is None else ({}, {})
    s = spec.search
    fields = {
        "spec_text": spec_text, "spec_file": spec_file, "spec_canonical": canonical,
        "spec_hash": hashlib.sha256(canonical.encode()).hexdigest(), "seed": spec.seed, "sampler": s.sampler,
        "objectives": [[o.name, o.direction] for o in s.objectives], "repeats": s.repeats, "planned": None,
        "versions": versions, "hardware": hardware, "state": "running", "message": _STARTING, "wall_seconds": 0.0,
        "runs": 0, "classes": list(spec.dataset.classes),
    }
    record, _created = store.claim_study(name, host=host, pid=pid, fields=fields, vet=vet)
    if content is not None and not _created:
        record = _adopt_content(store, record, spec, spec_text=spec_text, spec_file=spec_file, canonical=canonical)
    return record


def _moved_data(rec: StudyRecord, spec: Any, content: str | None, seen: set[str]) -> bool:
    """Whether `spec` is the study's stored spec with only its own data's path changed, and the files at the new
    path (their `content`) hold the study's data: the content its trials were made for (`seen`), or, for trials
    stored before content identity, what the old path holds where it still exists; where it is gone, the data is
    taken to be found at the new path."""
    import yaml

    from scalesearch.data.own import content_id
    from scalesearch.spec import format_spec

    try:
        stored = yaml.safe_load(rec.spec_canonical or "")
    except yaml.YAMLError:
        return False
    old = stored.get("dataset") if isinstance(stored, dict) else None
    if content is None or not isinstance(old, dict) or old.get("path") in (None, spec.dataset.path):
        return False
    stored["dataset"]["path"] = spec.dataset.path
    stored["study"] = spec.study
    if stored != yaml.safe_load(format_spec(spec)):
        return False
    if seen:
        return seen == {content}
    if os.path.exists(str(old["path"])):
        try:
            return content_id(spec.dataset.name, str(old["path"])) == content
        except ValueError:
            return False
    return True


def _adopt_content(store: Store, rec: StudyRecord, spec: Any, *, spec_text: str, spec_file: str | None,
                   canonical: str) -> StudyRecord:
    """Bring a study on own data to content identity and to the spec's path, in one transaction: each trial made
    with a path alone (before content identity) or at another path gets `content` and the spec's path in its data
    and the key that gives (`Job.key`, the path not in it), so a resumed study trains nothing it has; where the
    path moved, the study's stored spec becomes this one. A row whose stored fields do not give back its key is
    left as it is."""
    import json

    from scalesearch.trial.job import Job, data_config

    want = data_config(spec.dataset)
    content, path = want["content"], want["path"]

    def rekey(row: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        data = dict(row["data"] or {})
        if not data.get("path") or (data.get("content") == content and data["path"] == path):
            return None
        if row["netspec"] is None or row["train"] is None:
            return None
        job = Job(netspec=json.loads(row["netspec"]), train=dict(row["train"]), data=data, seed=int(row["seed"] or 0),
                  repeat=int(row["repeat"] or 0))
        if job.key != row["key"]:  # not reconstructible from the stored fields: leave it
            return None
        moved = Job(netspec=job.netspec, train=job.train, data={**data, "path": path, "content": content},
                    seed=job.seed, repeat=job.repeat)
        return moved.key, moved.config_key, moved.data

    fields: dict[str, Any] = {}
    if rec.spec_canonical != canonical:  # the path moved: the stored spec becomes this one
        fields = {"spec_text": spec_text, "spec_file": spec_file, "spec_canonical": canonical,
                  "spec_hash": hashlib.sha256(canonical.encode()).hexdigest()}
    store.rekey_trials(rec.name, rekey, **fields)
    return store.find_study(rec.name) or rec


def release_study(store: Store, name: str) -> None:
    """Drop this process's claim on study `name` (made by `prepare_study`) when the run ends before `run_study`
    started it (e.g. Ray could not be reached); a study created by the claim goes back to "not started yet"."""
    host, pid = socket.gethostname(), os.getpid()
    rec = store.find_study(name)
    if rec is None:
        return
    fields: dict[str, Any] = {}
    if rec.runs == 0 and rec.message == _STARTING:
        fields = {"state": "interrupted", "message": "created; not started yet"}
    store.release_study(name, host=host, pid=pid, **fields)


def upgrade_database(db: str | None) -> list[str]:
    """Bring a database written by an older scalesearch up to this one's schema (`scalesearch.store.migrate`), in
    one transaction; returns the steps run ([] when it was up to date). A missing database is an error that
    creates nothing.

    Raises:
        MissingFileError: no such database. InputError: a database of a newer scalesearch.
    """
    from scalesearch.store import OutdatedSchema, Reader, Store

    try:
        with Reader(db) as reader:  # read-only first: a missing file stays missing
            reader.studies()
        return []
    except OutdatedSchema:
        pass
    with Store(db) as store:
        return list(store.upgraded)


def delete_study(db: str | None, name: str, *, confirm: bool) -> str:
    """Delete study `name` from the database: its trials with their epochs, and the Optuna study of the same name.
    The database is read read-only first, so that a missing database or study, a study whose driver still runs
    (or cannot be checked from this host) and a call without `confirm` write nothing.

    Args:
        db: a SQLAlchemy URL or SQLite file path (default `results/scalesearch.db`).
        name: the study.
        confirm: delete; without it only raise, saying what would go.

    Returns:
        What was deleted, in words ("study 'x' with its 12 trials and 40 epochs, and its Optuna study, from ...").

    Raises:
        NotFoundError, MissingFileError: no such study, or no database (nothing is written).
        ConflictError: its driver is running, or runs on another host.
        InputError: `confirm` is False (the message says what would be deleted).
    """
    from scalesearch.search.summary import driver_alive
    from scalesearch.store import Reader

    with Reader(db) as reader:  # read-only first: a missing database or study is an error that writes nothing
        study = reader.study(name)
        n_trials = sum(reader.counts(name).values())
        n_epochs = reader.epoch_count(name)
        url, where = reader.url, describe_url(reader.url)
    if study.driver_host and study.driver_pid and driver_alive(study):  # claimed: running, or starting
        raise ConflictError(f"delete {name}: its driver ({study.driver_host}, pid {study.driver_pid}) is still "
                            "running or cannot be checked from this host; stop it first (Ctrl-C, or SIGTERM to that "
                            "pid)")
    what = f"study {name!r} with its {n_trials} trials and {n_epochs} epochs, and its Optuna study, from {where}"
    if not confirm:
        raise InputError(f"delete {name}: would delete {what}; pass --yes to delete them")
    import optuna

    storage = open_optuna_storage(url)
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass  # a study stored without its Optuna side (or already half-deleted): ours still goes
    finally:
        storage.engine.dispose()
    with Store(url) as store:
        store.delete_study(name)
    return what
