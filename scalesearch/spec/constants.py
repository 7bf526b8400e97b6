"""The vocabulary and limits of a spec file: objective, sampler and metric names, reserved names, sizes."""

from __future__ import annotations

import keyword
import re
from typing import Any, Union

from scalesearch.expr import FUNCTIONS

OBJECTIVES = ("val_acc", "test_acc", "macs", "params", "latency")
DIRECTIONS = ("max", "min")
SAMPLERS = ("grid", "random", "tpe", "nsga2")
METRICS = ("macs", "params", "acts")
COST_NAMES = ("macs", "params", "acts")
BASE_NAMES = ("base_macs", "base_params", "base_acts")
EARLY_STOPPING = ("asha",)
ES_METRICS = ("val_acc",)  # never the test set: searches select on validation
# Dataset facts (in_channels, num_classes, native resolution) so that a spec is checked without loading data
# (scalesearch.data imports torch). tests/test_spec.py checks this table against scalesearch.data.DATASETS.
DATASET_INFO: dict[str, tuple[int, int, int]] = {"fashion-mnist": (1, 10, 28), "cifar10": (3, 10, 32),
                                                 "synthetic": (3, 10, 32)}
# Official (train, test) split sizes, to check train_size/val_size/test_size without loading anything.
DATASET_SIZES: dict[str, tuple[int, int]] = {"fashion-mnist": (60000, 10000), "cifar10": (50000, 10000),
                                             "synthetic": (10000, 2000)}
# Options of the synthetic generator (scalesearch.data._SYNTHETIC_DEFAULTS) a spec may set under `dataset`.
SYNTHETIC_OPTIONS: dict[str, type] = {"num_classes": int, "in_channels": int, "image_size": int, "num_train": int,
                                      "num_test": int, "noise": float, "max_shift": int, "pattern_seed": int}
# Train keys a spec may not set: the driver derives each trial's seed from the study seed and the repeat.
TRAIN_FORBIDDEN = {"seed": "each trial's training seed is derived from the study `seed` and the repeat"}
# TrainConfig fields, used only when scalesearch.train cannot be imported (checked against it in the tests).
_TRAIN_FALLBACK: dict[str, Any] = {
    "epochs": int, "max_steps": Union[int, None], "batch_size": int, "lr": float, "momentum": float,
    "nesterov": bool, "weight_decay": float, "wd_on_bn_bias": bool, "label_smoothing": float, "schedule": str,
    "milestones": tuple[float, ...], "gamma": float, "warmup_epochs": float, "augment": bool, "crop_padding": int,
    "crop_pad_mode": str, "flip": bool, "seed": int, "device": str, "eval_batch_size": int, "eval_test": bool,
    "bf16": bool, "channels_last": bool, "compile": bool, "nan_check_every": int,
}
IO_ARGS = ("in_channels", "num_classes")
RESERVED = frozenset(COST_NAMES + BASE_NAMES + tuple(FUNCTIONS) + ("true", "false", "True", "False", "None")
                     + tuple(keyword.kwlist))
STUDY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FILE_BYTES = 1 << 20
MAX_NODES = 20000
MAX_GRID = 100_000
MAX_STEPS = 100_000  # values a matched parameter may range over
