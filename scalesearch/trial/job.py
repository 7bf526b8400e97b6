"""One training job as plain data, and the function that runs it: seed, build, fit, result.

A `Job` holds everything that decides a trial's outcome, as JSON-able data: the network (`NetSpec.to_dict()`),
the evaluated training settings (every `TrainConfig` field, defaults filled in), the dataset settings (the
keyword arguments of `scalesearch.data.loader.load_dataset`, its seed included) and the training seed with the repeat it
belongs to. `Job.key` is the sha256 of the canonical JSON of those fields, so two jobs with one key are one trial
(a spec that sweeps `lr` gives one key per value, while two parameter values that build the same network with
the same recipe share a key). `Job.config_key` leaves the seed and repeat out: the repeats of one configuration
share it.

`run(job)` seeds torch with the job's seed, builds the model (the initial weights), trains it with
`scalesearch.train.loop.fit` and returns a JSON-able result; an exception inside (divergence, out of memory, a bug in a
block) is caught and returned as a failed result with its error text, so that a search goes on. The Ray Tune
trainable (`scalesearch.search.trainable`), the benchmarks and `scalesearch train` all call it; this module
imports neither Ray nor Optuna, and imports torch only inside `run`.

Seeds: `trial_seed(study_seed, repeat)` derives each repeat's training seed from the study seed, so that every
configuration of a study trains repeat r with the same seed (common random numbers make configurations compare
better), and the data seed is `DATA_SEED` for every study, so that all studies on one dataset are scored on the
same validation images.

Example:
    >>> job = Job(netspec={"a": 1}, train={"lr": 0.1}, data={"name": "synthetic"}, seed=7)
    >>> len(job.key), job.key == Job.from_dict(job.to_dict()).key
    (64, True)
    >>> job.key == Job(netspec={"a": 1}, train={"lr": 0.2}, data={"name": "synthetic"}, seed=7).key
    False
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalesearch.errors import InputError
from scalesearch.train.config import KEY_IF_SET, OUTCOME_NEUTRAL, TrainConfig
from scalesearch.util.text import json_ready

__all__ = ["DATA_SEED", "FORMAT", "Job", "build_job", "data_config", "job_for_candidate", "load_data", "load_job_data",
           "memory_limit", "run", "trial_seed"]

FORMAT = 1  # version of the job's JSON layout; part of every key, so a layout change never reuses old results
DATA_SEED = 0  # the seed of the train/val carve and subsets, the same for every study (see the module docstring)

EpochCallback = Callable[[dict[str, Any], bool], None]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    """Tuples become lists (as JSON would make them), recursively."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def trial_seed(study_seed: int, repeat: int) -> int:
    """The training seed of repeat `repeat` of a study seeded `study_seed`: a hash of both, in [0, 2**31).

    Example:
        >>> trial_seed(0, 0) == trial_seed(0, 0), trial_seed(0, 0) == trial_seed(0, 1)
        (True, False)
    """
    digest = hashlib.sha256(f"scalesearch-trial-seed:{int(study_seed)}:{int(repeat)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Job:
    """One training job as data.

    Attributes:
        netspec: the network, `NetSpec.to_dict()`.
        train: `TrainConfig` fields (all of them, as `dataclasses.asdict` gives them; `seed` is overridden by
            `seed` below).
        data: keyword arguments of `scalesearch.data.loader.load_dataset`, with `name` and `seed`.
        seed: the training seed (initial weights, shuffling, augmentation, dropout).
        repeat: which repeat of its configuration this is (0-based).
        latency: also measure the trained model's forward latency (batch 1, ms); a measurement, not part of the key.
    """

    netspec: dict[str, Any]
    train: dict[str, Any]
    data: dict[str, Any]
    seed: int = 0
    repeat: int = 0
    latency: bool = field(default=False, compare=False)

    def _identity(self, with_seed: bool) -> dict[str, Any]:
        defaults = TrainConfig.field_defaults()
        train = {k: v for k, v in _plain(self.train).items() if k != "seed" and k not in OUTCOME_NEUTRAL
                 and not (k in KEY_IF_SET and v == defaults[k])}
        data = _plain(self.data)
        if "content" in data:  # own data by its content: the same images at another path are the same trial
            data = {k: v for k, v in data.items() if k != "path"}
        out = {"format": FORMAT, "netspec": _plain(self.netspec), "train": train, "data": data}
        if with_seed:
            out.update(seed=int(self.seed), repeat=int(self.repeat))
        return out

    @functools.cached_property
    def key(self) -> str:
        """sha256 (hex) of everything that decides the outcome: network, training, data, seed and repeat."""
        return hashlib.sha256(_canonical(self._identity(True)).encode()).hexdigest()

    @functools.cached_property
    def config_key(self) -> str:
        """sha256 (hex) of the configuration without seed and repeat: shared by the repeats of a configuration."""
        return hashlib.sha256(_canonical(self._identity(False)).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; `Job.from_dict(job.to_dict()) == job`."""
        return {"netspec": _plain(self.netspec), "train": _plain(self.train), "data": _plain(self.data),
                "seed": int(self.seed), "repeat": int(self.repeat), "latency": bool(self.latency)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        """Inverse of `to_dict`; ValueError naming the missing or unknown key."""
        if not isinstance(d, Mapping):
            raise InputError(f"a job is a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"job: unknown key {unknown[0]!r}; expected keys among {', '.join(sorted(known))}")
        for k in ("netspec", "train", "data"):
            if not isinstance(d.get(k), Mapping):
                raise InputError(f"job: {k!r} must be a mapping")
        return cls(netspec=_plain(dict(d["netspec"])), train=_plain(dict(d["train"])), data=_plain(dict(d["data"])),
                   seed=int(d.get("seed", 0)), repeat=int(d.get("repeat", 0)), latency=bool(d.get("latency", False)))

    def train_config(self) -> TrainConfig:
        """The `TrainConfig` this job trains with (its `seed` is the job's)."""
        kw = dict(self.train)
        kw["seed"] = int(self.seed)
        if "milestones" in kw and kw["milestones"] is not None:
            kw["milestones"] = tuple(kw["milestones"])
        return TrainConfig(**kw)


def data_config(dataset: Any, resolution: int | None = None, *, data_seed: int = DATA_SEED) -> dict[str, Any]:
    """A job's `data`: the keyword arguments of `scalesearch.data.loader.load_dataset` for a spec's `DatasetSpec`, with its
    name and the data seed.

    This is the one place that decides the resolution a trial trains at: the network's input `resolution`; where it
    differs from the dataset's (resolution scaling, e.g. EfficientNet's gamma, or `train --resolution`) the images
    are resized to it, and `data["resolution"]` says so.
    """
    data = {"name": dataset.name, **dict(dataset.load_kwargs()), "seed": int(data_seed)}
    if resolution is not None and int(resolution) != dataset.input_resolution:
        data["resolution"] = int(resolution)
    if data.get("path") is not None:  # own data: identified by its content, the path is provenance only
        data["content"] = dataset.content
    return data


def build_job(netspec: Any, train: Mapping[str, Any], dataset: Any, *, seed: int, repeat: int = 0,
              device: str | None = None, latency: bool = False, data_seed: int = DATA_SEED) -> Job:
    """The one builder of a `Job`: a network, its training settings and a spec's dataset.

    `scalesearch train`, every search trial (`job_for_candidate`), `scripts/train_points.py` and export all get
    their jobs here, so that one network with one recipe, dataset and seed has one key wherever it is trained.

    Args:
        netspec: the network (a `NetSpec`, with the dataset's channels and classes); its resolution decides the
            images' (`data_config`).
        train: `TrainConfig` fields that differ from the defaults (a spec's evaluated `train:` section).
        dataset: the spec's `DatasetSpec`.
        seed: the training seed.
        repeat: the repeat (0-based).
        device: replaces a training device of "auto" (the driver knows whether a trial gets a GPU).
        latency: measure the forward latency after training.
        data_seed: the seed of the subsets and the validation split.

    Raises:
        ValueError: the training settings fail TrainConfig's checks.
    """
    cfg = TrainConfig(**{**dict(train), "seed": int(seed)})
    if device is not None and cfg.device == "auto":
        cfg = dataclasses.replace(cfg, device=device)
    data = data_config(dataset, int(netspec.resolution), data_seed=data_seed)
    return Job(netspec=_plain(netspec.to_dict()), train=_plain(dataclasses.asdict(cfg)), data=_plain(data),
               seed=int(seed), repeat=int(repeat), latency=latency)


def job_for_candidate(candidate: Any, dataset: Any, *, study_seed: int, repeat: int = 0, device: str | None = None,
                      latency: bool = False) -> Job:
    """The job of repeat `repeat` of a resolved spec candidate (`build_job` with the candidate's network and
    training overrides, seeded `trial_seed(study_seed, repeat)`).

    Args:
        candidate: a `scalesearch.spec` candidate (its `netspec` and evaluated `train` overrides are used).
        dataset: the spec's `DatasetSpec` (its `load_kwargs()` and `name`).
        study_seed: the study's seed; the training seed is `trial_seed(study_seed, repeat)`.
        repeat: the repeat (0-based).
        device: replaces a training device of "auto" (the driver knows whether a trial gets a GPU).
        latency: measure the forward latency after training.

    Raises:
        ValueError: the training settings fail TrainConfig's checks.
    """
    return build_job(candidate.netspec, candidate.train, dataset, seed=trial_seed(study_seed, repeat), repeat=repeat,
                     device=device, latency=latency)


@functools.lru_cache(maxsize=2)
def _cached_dataset(data_json: str, device: str, data_dir: str | None) -> Any:
    from scalesearch.data.loader import load_dataset

    kw = json.loads(data_json)
    name = kw.pop("name")
    content = kw.pop("content", None)
    if content is not None:  # the files at the path must still be the ones the job was made for
        from scalesearch.data.own import content_id

        found = content_id(name, kw["path"])
        if found != content:
            raise InputError(f"dataset.path {kw['path']}: its files are not the data this job was made for (content "
                             f"{found[:12]}, expected {content[:12]}); expected the same images, labels and classes")
    return load_dataset(name, data_dir=data_dir, device=device, **kw)


def load_data(data: Mapping[str, Any], *, device: str = "cpu", data_dir: str | None = None,
              test: bool = True) -> Any:
    """The one loader of a job's data (`Job.data`, or `data_config(...)`): a `scalesearch.data.loader.Dataset`, cached
    (the last two distinct datasets stay loaded).

    With `test=False` the test split is left empty, for jobs that never evaluate it (it is only read with
    `train.eval_test`), so that a dataset passed to many workers stays small.
    """
    loaded = _cached_dataset(_canonical(_plain(dict(data))), str(device), data_dir)
    if test or not len(loaded.test):
        return loaded
    from scalesearch.data.loader import Split

    return dataclasses.replace(loaded, test=Split(loaded.test.x[:0], loaded.test.y[:0]))


def load_job_data(job: Job, *, device: str = "cpu", data_dir: str | None = None, test: bool = True) -> Any:
    """The dataset a job trains on: `load_data(job.data, ...)`."""
    return load_data(job.data, device=device, data_dir=data_dir, test=test)


def _error_text(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def run(job: Job | Mapping[str, Any], data: Any = None, *, on_epoch: EpochCallback | None = None,
        threads: int | None = None, data_dir: str | None = None, catch: bool = True,
        progress: Callable[[int, int], None] | None = None, weights: bool = False,
        on_checkpoint: Callable[[int, str], None] | None = None, resume: str | None = None,
        memory_limit_bytes: int | None = None) -> dict[str, Any]:
    """Run one job: seed, build, fit with a per-epoch callback, and return its result as JSON-able data.

    Args:
        job: a `Job` or its `to_dict()`.
        data: the loaded `scalesearch.data.loader.Dataset` (default: loaded from `job.data`, and cached); ignored when its
            images are not at the network's resolution (a scaled candidate loads its own, resized from the source).
        on_epoch: called after each epoch with (the epoch's metrics as a dict, whether it is the last epoch).
            An exception it raises stops training and propagates (Ray Tune stops a trial that way); a
            `BaseException` that is not an `Exception` (SystemExit, KeyboardInterrupt) always propagates.
        threads: torch intra-op threads for this process (default: leave as is).
        data_dir: where the dataset files are (default: $SCALESEARCH_DATA, else /usr/share/datasets).
        catch: return an `Exception` raised while training as a failed result (default); False re-raises it.
        progress: called as progress(step_in_epoch, steps_in_epoch) during training (`train.loop.fit`'s progress).
        weights: return the trained network's state_dict (CPU tensors, `torch.save` bytes in base64) as `weights`
            when it completes: the driver, not the worker, writes the files a search keeps.
        on_checkpoint: with the job's `checkpoint_every` = N > 0, called after every N-th epoch but the last, before
            `on_epoch` for that epoch, as on_checkpoint(epoch, state), the state being `train.training_state` as
            `torch.save` bytes in base64; the driver keeps the last one.
        resume: such a state (of this job): training goes on after its epoch; its epochs are passed to `on_epoch`
            again first and are part of the result, with `resumed_from_epoch` set. On CPU the metrics equal an
            uninterrupted run's exactly.
        memory_limit_bytes: bytes of address space the job may add to what this process holds when it starts (a spec's
            `resources.memory_gb`; `memory_limit`): beyond it an allocation fails and the job ends "failed" with
            "out of memory: ..." instead of exhausting the machine. None: no limit.

    Returns:
        A dict with `key`, `state` ("completed" or "failed"), `epochs` (a list of per-epoch metric dicts),
        `val_acc`, `best_val_acc`, `test_acc`, `test_loss`, `train_seconds`, `total_seconds`, `images_per_s`,
        `steps`, `device`, `node` (host name), `latency_ms` (with `job.latency`), and for a failure `error` (one
        line) and `traceback`. Non-finite numbers become None.
    """
    job = job if isinstance(job, Job) else Job.from_dict(job)
    t0 = time.perf_counter()
    epochs: list[dict[str, Any]] = []
    out: dict[str, Any] = {"key": job.key, "repeat": job.repeat, "seed": job.seed, "node": socket.gethostname(),
                           "epochs": epochs}
    try:
        import torch

        from scalesearch.nets import NetSpec
        from scalesearch.nets.build import build_model
        from scalesearch.train.loop import fit, resolve_device, steps_per_epoch

        if threads is not None and threads >= 1:
            torch.set_num_threads(int(threads))
        cfg = job.train_config()
        device = resolve_device(cfg.device)
        res = int(job.netspec["resolution"])
        if data is not None and tuple(data.train.x.shape[-2:]) != (res, res):
            data = None  # a shared dataset at another resolution: load the job's own, resized from the source
        if data is None:
            data = load_job_data(job, device=str(device), data_dir=data_dir, test=cfg.eval_test)
        spec = NetSpec.from_dict(job.netspec)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(job.seed)  # the initial weights
            model = build_model(spec, zero_init_residual=cfg.zero_init_residual)
        total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch(len(data.train),
                                                                                            cfg.batch_size)

        def epoch_done(m: Any) -> None:
            record = json_ready(dataclasses.asdict(m))
            epochs.append(record)
            if on_epoch is not None:
                on_epoch(record, m.steps >= total)

        state = None
        if resume is not None:
            state = _decode_state(resume)
            out["resumed_from_epoch"] = int(state["epoch"])
            for m in state["history"]:  # the epochs trained before the checkpoint, as they were reported then
                record = json_ready(dict(m))
                epochs.append(record)
                if on_epoch is not None:
                    on_epoch(record, False)
        save = None
        if on_checkpoint is not None and cfg.checkpoint_every:
            save = lambda st: on_checkpoint(int(st["epoch"]), _encode_state(st))
        with memory_limit(memory_limit_bytes):
            result = fit(model, data, cfg, on_epoch=epoch_done, progress=progress, checkpoint=save, resume=state)
        out.update({k: v for k, v in result.to_dict().items() if k != "epochs"})
        if job.latency:
            from scalesearch.nets.cost import measure_latency

            out["latency_ms"] = measure_latency(model, (spec.in_channels, spec.resolution, spec.resolution),
                                                device=str(device))
        if weights:
            out["weights"] = _encode_state({k: v.detach().cpu() for k, v in model.state_dict().items()})
        out["state"] = "completed"
    except Exception as e:
        if not catch:
            raise
        oom = _is_out_of_memory(e)
        error = f"out of memory: {_error_text(e)}" if oom else _error_text(e)
        out.update(state="failed", error=error, traceback=traceback.format_exc(limit=20))
        out.setdefault("val_acc", epochs[-1]["val_acc"] if epochs else None)
        if oom:
            _free_memory()
    out["total_seconds"] = time.perf_counter() - t0
    return json_ready(out)


@contextlib.contextmanager
def memory_limit(extra: int | None) -> Iterator[None]:
    """A context in which this process may map at most `extra` more bytes of address space than it maps on entry
    (RLIMIT_AS's soft limit, Linux; restored on exit, so a reused Ray worker goes on unlimited). None, or a
    platform without RLIMIT_AS or /proc: no limit.

    The address space, not the resident set: an allocation beyond it fails at once (mmap refuses it) rather than
    after the machine has swapped, which is what a search needs from a trial that asks for too much. The margin is
    over what the process already maps (a Ray worker maps gigabytes it never touches), so it measures what the
    trial itself adds.

    Example:
        >>> with memory_limit(None):
        ...     pass
    """
    saved = None
    if extra is not None:
        try:
            import resource

            mapped = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            want = mapped + int(extra)
            if hard != resource.RLIM_INFINITY:
                want = min(want, hard)
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
            saved = (soft, hard)
        except (ImportError, OSError, ValueError, AttributeError):  # not Linux: the budget cannot be enforced
            saved = None
    try:
        yield
    finally:
        if saved is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, saved)


def _encode_state(obj: Any) -> str:
    """`torch.save` bytes of `obj` in base64 (how weights and checkpoints travel in Ray results and configs)."""
    import base64
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _decode_state(data: str | bytes) -> dict[str, Any]:
    """The inverse of `_encode_state` (base64 text, or the raw bytes of a checkpoint file), read with
    `weights_only=True`: tensors and plain data only, never code."""
    import base64
    import io

    import torch

    raw = base64.b64decode(data) if isinstance(data, str) else bytes(data)
    return torch.load(io.BytesIO(raw), weights_only=True)


def _is_out_of_memory(e: BaseException) -> bool:
    """Whether `e` is an allocation failure: MemoryError, torch's OutOfMemoryError (CUDA), or the CPU allocator's
    RuntimeError ("can't allocate memory", "not enough memory")."""
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":
        return True
    msg = str(e).lower()
    return any(m in msg for m in ("out of memory", "can't allocate memory", "not enough memory"))


def _free_memory() -> None:
    """Release cached device memory after a failure, so that a reused worker starts clean."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover  # noqa: BLE001, S110 - best effort: must not replace the trial's error
        pass
