"""`standalone_job`: one network to train outside a study (what `scalesearch train` trains), as a checked `TrainJob`.

The network is a preset name, a NetSpec `.json` file or a spec `.yaml` file. A spec file contributes its baseline,
its `dataset:` and its `train:` sections, and its study seed: with no option set, `train SPEC` trains exactly the
job a search of that spec trains as the baseline's repeat 0 (`scalesearch.trial.job.build_job`, the one builder of a
job: the same key, hence the same result on one thread). Options override the spec (`--seed` the training seed,
`--test` the test evaluation). Input channels and classes come from the dataset; the resolution is the network's
(`scalesearch.trial.job.data_config` decides where images are resized). Unset training options take `TrainConfig`'s
defaults.

Every value is checked before anything is loaded. An error about a value that an option set names the option as
the command line spells it (`--lr`, `--train-size`); one that comes from a spec file names its field. Torch is
imported only once every value has passed, to resolve the device "auto" as a search's driver does.

Example:
    >>> tj = standalone_job("cifar_resnet20", dataset="synthetic", options={"epochs": 1, "train_size": 64})
    >>> tj.dataset, tj.config.epochs, tj.data_kwargs["train_size"], tj.netspec.num_classes
    ('synthetic', 1, 64, 10)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scalesearch.errors import InputError
from scalesearch.spec.refs import check_resolution
from scalesearch.train.config import TrainConfig

if TYPE_CHECKING:
    from scalesearch.nets import NetSpec
    from scalesearch.trial.job import Job
    from scalesearch.util.checks import FieldError

__all__ = ["DATA_OPTIONS", "TRAIN_OPTIONS", "TrainJob", "standalone_job"]

TRAIN_OPTIONS = ("epochs", "max_steps", "batch_size", "lr", "weight_decay", "schedule", "warmup_epochs",
                 "label_smoothing", "crop_padding", "augment")
"""The TrainConfig fields an option may set (`--no-augment` sets augment to False)."""
DATA_OPTIONS = ("train_size", "val_size", "test_size", "resolution")
"""The dataset settings an option may set."""


def _option_error(e: FieldError) -> FieldError:
    """A TrainConfig / dataset FieldError re-addressed to the command-line option that set the field."""
    from scalesearch.util.checks import FieldError

    return FieldError("--" + e.field.replace("_", "-"), e.expected, e.got, problem=e.problem)


@dataclass(frozen=True)
class TrainJob:
    """A network, its training recipe and its data, checked and ready to train.

    Attributes:
        job: the `scalesearch.trial.job.Job` (its key identifies the trial as a search would).
        netspec: the network, with the dataset's input channels and classes and the resolution trained at.
        options: the fields that options set (errors about them name the option).
    """

    job: Job
    netspec: NetSpec
    options: frozenset[str] = frozenset()

    @property
    def config(self) -> TrainConfig:
        """The training recipe (its seed is the job's)."""
        return self.job.train_config()

    @property
    def dataset(self) -> str:
        """The dataset's name."""
        return str(self.job.data["name"])

    @property
    def data_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `scalesearch.data.loader.load_dataset` besides the name and the seed."""
        return {k: v for k, v in self.job.data.items() if k not in ("name", "seed")}

    @property
    def data_seed(self) -> int:
        """The seed of the subsets and the validation split."""
        return int(self.job.data["seed"])

    def load_data(self, *, device: Any, data_dir: str | None = None) -> Any:
        """The dataset on `device` (a `scalesearch.data.loader.Dataset`, `scalesearch.trial.job.load_job_data`); a size or
        resolution that does not fit it is a FieldError naming the option when an option set it."""
        from scalesearch.trial.job import load_job_data
        from scalesearch.util.checks import FieldError

        try:
            return load_job_data(self.job, device=str(device), data_dir=data_dir, test=self.config.eval_test)
        except FieldError as e:
            raise _option_error(e) if e.field in self.options else e from None

    def run(self, data: Any, *, on_epoch: Callable[[dict[str, Any], bool], None] | None = None,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Train on `data` (from `load_data`) and return `scalesearch.trial.job.run`'s result; an exception while
        training propagates, a diverging loss as an InputError naming the learning rate."""
        from scalesearch.train.loop import DivergenceError
        from scalesearch.trial import job as trial

        try:
            return trial.run(self.job, data, on_epoch=on_epoch, progress=progress, catch=False)
        except DivergenceError as e:
            raise InputError(f"{e} (--lr is {self.config.lr:g})") from e


def standalone_job(model: str, *, dataset: str | None = None, options: Mapping[str, Any] | None = None,
              seed: int | None = None, data_seed: int | None = None, device: str = "auto",
              eval_test: bool | None = None, compile: bool = False) -> TrainJob:
    """The `TrainJob` of a network, a dataset and options, every value checked before anything is loaded.

    Args:
        model: a preset name, a NetSpec `.json` file or a spec `.yaml` file (its baseline, dataset and training).
        dataset: the dataset (default: a spec file's; required otherwise).
        options: values of `TRAIN_OPTIONS` and `DATA_OPTIONS` (None: not set) that override a spec's.
        seed: the training seed (default: a spec file's repeat-0 seed, `trial_seed(spec.seed, 0)`, as its search
            trains; TrainConfig's otherwise).
        data_seed: the seed of the subsets and the validation split (default `scalesearch.trial.job.DATA_SEED`, every
            study's).
        device: cpu, cuda or auto ("auto" is resolved here, as a search resolves it, so the job's key is the
            search's).
        eval_test: evaluate the test set at the end (default: a spec file's `train.eval_test`; True otherwise).
        compile: torch.compile the model.

    Raises:
        InputError: no dataset for a model that is not a spec file.
        FieldError, SpecError: a value out of range (named as the option that set it), a bad file.
    """
    from scalesearch.data.catalog import DATASETS, MAX_DATA_RESOLUTION, MIN_DATA_RESOLUTION
    from scalesearch.spec import DatasetSpec
    from scalesearch.spec.refs import SPEC_SUFFIXES, load_netspec
    from scalesearch.trial.job import DATA_SEED, build_job, trial_seed
    from scalesearch.util.checks import MAX_SEED, FieldError, check_int

    given = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(given) - set(TRAIN_OPTIONS) - set(DATA_OPTIONS))
    if unknown:
        raise InputError(f"standalone_job: unknown option {unknown[0]!r}; expected some of "
                         f"{', '.join(TRAIN_OPTIONS + DATA_OPTIONS)}")
    data_seed = DATA_SEED if data_seed is None else check_int("--data-seed", data_seed, 0, MAX_SEED)
    overrides: dict[str, Any] = {}
    default_seed = TrainConfig.field_defaults()["seed"]
    default_test = True
    if os.path.splitext(model)[1].lower() in SPEC_SUFFIXES:
        from scalesearch.spec import default_candidate, load_spec

        spec = load_spec(model)
        candidate = default_candidate(spec)
        overrides = dict(candidate.train)
        native = candidate.netspec
        if dataset is None or dataset == spec.dataset.name:
            ds = spec.dataset  # an image folder's or npz file's facts come from its files
            default_seed = trial_seed(spec.seed, 0)  # the search's repeat 0
            default_test = bool(overrides.get("eval_test", TrainConfig.field_defaults()["eval_test"]))
        else:  # another dataset: the spec's sizes and options were meant for its own
            ds = DatasetSpec(name=dataset)
            native = native.with_io(ds.in_channels, ds.num_classes, ds.input_resolution)
    elif dataset is None:
        raise InputError("--dataset: required unless the model is a spec file (which names its dataset); "
                         f"expected one of {', '.join(DATASETS)}")
    else:
        if DATASETS[dataset].files:
            raise InputError(f"--dataset {dataset}: give a spec file whose dataset section names the path "
                             f"({DATASETS[dataset].expects})")
        ds = DatasetSpec(name=dataset)
        native = load_netspec(model).with_io(ds.in_channels, ds.num_classes, ds.input_resolution)
    sizes = {k: v for k, v in given.items() if k in DATA_OPTIONS and k != "resolution"}
    if sizes:
        ds = dataclasses.replace(ds, **sizes)
    if "resolution" in given:  # one range for the option: what the data and the network both accept
        low = max(MIN_DATA_RESOLUTION, native.total_stride)
        check_resolution("--resolution", given["resolution"], low, MAX_DATA_RESOLUTION, native.total_stride)
        native = native.with_io(native.in_channels, native.num_classes, int(given["resolution"]))
    flags = {k: v for k, v in given.items() if k in TRAIN_OPTIONS}
    settings: dict[str, Any] = {"eval_test": default_test if eval_test is None else bool(eval_test)}
    if compile:
        settings["compile"] = True
    if device != "auto":
        settings["device"] = device
    train = {**overrides, **flags, **settings}
    try:
        TrainConfig(**{**train, "seed": default_seed if seed is None else seed})
    except FieldError as e:
        raise _option_error(e) if e.field in flags or e.field == "seed" else e from None
    job = build_job(native, train, ds, seed=default_seed if seed is None else seed, device=_auto_device(),
                    data_seed=data_seed)
    return TrainJob(job, native, frozenset(given))


def _auto_device() -> str:
    """What "auto" trains on here: cuda where torch sees one, else cpu (as a search's driver decides)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
