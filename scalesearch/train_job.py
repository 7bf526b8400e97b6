"""`train_job`: one network to train outside a study (what `scalesearch train` trains), as a checked `TrainJob`.

The network is a preset name, a NetSpec `.json` file or a spec `.yaml` file. A spec file contributes its baseline,
its `dataset:` and its `train:` sections; options override them. Input channels and classes come from the
dataset; the resolution is the dataset's unless the `resolution` option (or a spec whose baseline scales the
resolution) resizes the images. Unset training options take `TrainConfig`'s defaults, except `crop_padding`,
which follows the resolution (the ResNet paper's 4 px at 32 px).

Every value is checked before anything is loaded. An error about a value that an option set names the option as
the command line spells it (`--lr`, `--train-size`); one that comes from a spec file names its field. Nothing
here imports torch until data is loaded or a job runs.

Example:
    >>> tj = train_job("cifar_resnet20", dataset="synthetic", options={"epochs": 1, "train_size": 64})
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
from scalesearch.load import check_resolution
from scalesearch.recipe import TrainConfig

if TYPE_CHECKING:
    from scalesearch.arch import NetSpec
    from scalesearch.checks import FieldError
    from scalesearch.trial import Job

__all__ = ["DATA_OPTIONS", "TRAIN_OPTIONS", "TrainJob", "train_job"]

TRAIN_OPTIONS = ("epochs", "max_steps", "batch_size", "lr", "weight_decay", "schedule", "warmup_epochs",
                 "label_smoothing", "crop_padding", "augment")
"""The TrainConfig fields an option may set (`--no-augment` sets augment to False)."""
DATA_OPTIONS = ("train_size", "val_size", "test_size", "resolution")
"""The dataset settings an option may set."""


def _option_error(e: FieldError) -> FieldError:
    """A TrainConfig / dataset FieldError re-addressed to the command-line option that set the field."""
    from scalesearch.checks import FieldError

    return FieldError("--" + e.field.replace("_", "-"), e.expected, e.got, problem=e.problem)


@dataclass(frozen=True)
class TrainJob:
    """A network, its training recipe and its data, checked and ready to train.

    Attributes:
        netspec: the network, with the dataset's input channels and classes and the resolution trained at.
        config: the training recipe.
        dataset: the dataset's name.
        data_kwargs: keyword arguments of `scalesearch.data.load_dataset` besides the name and the seed.
        data_seed: the seed of the subsets and the validation split.
        options: the fields that options set (errors about them name the option).
    """

    netspec: NetSpec
    config: TrainConfig
    dataset: str
    data_kwargs: dict[str, Any]
    data_seed: int = 0
    options: frozenset[str] = frozenset()

    @property
    def job(self) -> Job:
        """The `scalesearch.trial.Job` (its key identifies the trial as a search would)."""
        from scalesearch.trial import Job

        return Job(netspec=self.netspec.to_dict(), train=dataclasses.asdict(self.config),
                   data={"name": self.dataset, **self.data_kwargs, "seed": self.data_seed}, seed=self.config.seed)

    def load_data(self, *, device: Any, data_dir: str | None = None) -> Any:
        """The dataset on `device` (a `scalesearch.data.Dataset`); a size or resolution that does not fit it is
        a FieldError naming the option when an option set it."""
        from scalesearch.checks import FieldError
        from scalesearch.data import load_dataset

        try:
            return load_dataset(self.dataset, data_dir=data_dir, seed=self.data_seed, device=device,
                                **self.data_kwargs)
        except FieldError as e:
            raise _option_error(e) if e.field in self.options else e from None

    def run(self, data: Any, *, on_epoch: Callable[[dict[str, Any], bool], None] | None = None,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Train on `data` (from `load_data`) and return `scalesearch.trial.run`'s result; an exception while
        training propagates, a diverging loss as an InputError naming the learning rate."""
        from scalesearch import trial
        from scalesearch.train import DivergenceError

        try:
            return trial.run(self.job, data, on_epoch=on_epoch, progress=progress, catch=False)
        except DivergenceError as e:
            raise InputError(f"{e} (--lr is {self.config.lr:g})") from e


def train_job(model: str, *, dataset: str | None = None, options: Mapping[str, Any] | None = None,
              seed: int | None = None, data_seed: int = 0, device: str = "auto", eval_test: bool = True,
              compile: bool = False) -> TrainJob:
    """The `TrainJob` of a network, a dataset and options, every value checked before anything is loaded.

    Args:
        model: a preset name, a NetSpec `.json` file or a spec `.yaml` file (its baseline, dataset and training).
        dataset: the dataset (default: a spec file's; required otherwise).
        options: values of `TRAIN_OPTIONS` and `DATA_OPTIONS` (None: not set) that override a spec's.
        seed: the training seed (default TrainConfig's).
        data_seed: the seed of the subsets and the validation split.
        device: cpu, cuda or auto.
        eval_test: evaluate the test set at the end.
        compile: torch.compile the model.

    Raises:
        InputError: no dataset for a model that is not a spec file.
        FieldError, SpecError: a value out of range (named as the option that set it), a bad file.
    """
    from scalesearch.checks import FieldError, check_int
    from scalesearch.datasets import DATASETS, MAX_DATA_RESOLUTION, MIN_DATA_RESOLUTION, dataset_info
    from scalesearch.load import SPEC_SUFFIXES, load_netspec
    from scalesearch.recipe import MAX_SEED

    given = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(given) - set(TRAIN_OPTIONS) - set(DATA_OPTIONS))
    if unknown:
        raise InputError(f"train_job: unknown option {unknown[0]!r}; expected some of "
                         f"{', '.join(TRAIN_OPTIONS + DATA_OPTIONS)}")
    check_int("--data-seed", data_seed, 0, MAX_SEED)
    overrides: dict[str, Any] = {}
    data_kwargs: dict[str, Any] = {}
    info = None
    if os.path.splitext(model)[1].lower() in SPEC_SUFFIXES:
        from scalesearch.spec import default_candidate, load_spec

        spec = load_spec(model)
        candidate = default_candidate(spec)
        overrides = dict(candidate.train)
        native = candidate.netspec
        data_kwargs = {k: v for k, v in spec.dataset.load_kwargs().items() if v is not None}
        if dataset is None or dataset == spec.dataset.name:
            dataset = spec.dataset.name
            info = spec.dataset.info  # an image folder's or npz file's facts come from its files
            if native.resolution != spec.dataset.input_resolution:  # the baseline scales the resolution
                data_kwargs["resolution"] = native.resolution
        else:  # another dataset: the spec's sizes and options were meant for its own
            data_kwargs = {}
    elif dataset is None:
        raise InputError("--dataset: required unless the model is a spec file (which names its dataset); "
                         f"expected one of {', '.join(DATASETS)}")
    else:
        native = load_netspec(model)
    if info is None:
        info = dataset_info(dataset)
        if info.files:
            raise InputError(f"--dataset {dataset}: give a spec file whose dataset section names the path "
                             f"({info.expects})")
    data_kwargs.update({k: v for k, v in given.items() if k in DATA_OPTIONS})
    flags = {k: v for k, v in given.items() if k in TRAIN_OPTIONS}
    settings = {"device": device, "eval_test": eval_test, "compile": compile}
    if seed is not None:
        settings["seed"] = seed
    try:
        cfg = TrainConfig(**{**overrides, **flags, **settings})
    except FieldError as e:
        raise _option_error(e) if e.field in flags or e.field == "seed" else e from None
    if "resolution" in data_kwargs:  # one range for the option: what the data and the network both accept
        low = max(MIN_DATA_RESOLUTION, native.total_stride)
        name = "--resolution" if "resolution" in given else "dataset.resolution"
        check_resolution(name, data_kwargs["resolution"], low, MAX_DATA_RESOLUTION, native.total_stride)
    in_channels = int(data_kwargs.get("in_channels", info.in_channels))
    num_classes = int(data_kwargs.get("num_classes", info.num_classes))
    resolution = int(data_kwargs.get("resolution") or data_kwargs.get("image_size", info.resolution))
    netspec = native.with_io(in_channels, num_classes, resolution)
    if "crop_padding" not in flags and "crop_padding" not in overrides:  # the ResNet paper's 4 px at 32 px
        cfg = dataclasses.replace(cfg, crop_padding=max(1, round(resolution / 8)))
    return TrainJob(netspec, cfg, dataset, data_kwargs, data_seed, frozenset(given))
