"""The vocabulary and limits of a spec file: objective, sampler and metric names, reserved names, sizes.

Dataset facts are not copied here: they come from `scalesearch.datasets` (one table for data, spec and cli).
"""

from __future__ import annotations

import keyword
import re

from scalesearch.datasets import DATASETS, SYNTHETIC_DEFAULTS
from scalesearch.expr import FUNCTIONS
from scalesearch.files import MAX_FILE_BYTES

OBJECTIVES = ("val_acc", "test_acc", "macs", "params", "latency")
DIRECTIONS = ("max", "min")
SAMPLERS = ("grid", "random", "tpe", "nsga2")
METRICS = ("macs", "params", "acts")  # what a matched parameter matches
COST_NAMES = ("macs", "params", "acts")  # the candidate's cost, known in constraints
BASE_NAMES = ("base_macs", "base_params", "base_acts")  # the baseline's cost
EARLY_STOPPING = ("asha",)
ES_METRICS = ("val_acc",)  # never the test set: searches select on validation
# (in_channels, num_classes, native resolution) of each dataset, derived from scalesearch.datasets.DATASETS.
DATASET_INFO: dict[str, tuple[int, int, int]] = {
    name: (d.in_channels, d.num_classes, d.resolution) for name, d in DATASETS.items()}
# Options of the synthetic generator a spec may set under `dataset`, with their types.
SYNTHETIC_OPTIONS: dict[str, type] = {k: type(v) for k, v in SYNTHETIC_DEFAULTS.items()}
# Train keys a spec may not set: the driver derives each trial's seed from the study seed and the repeat.
TRAIN_FORBIDDEN = {"seed": "each trial's training seed is derived from the study `seed` and the repeat"}
IO_ARGS = ("in_channels", "num_classes")  # generator arguments the dataset sets
RESERVED = frozenset(COST_NAMES + BASE_NAMES + tuple(FUNCTIONS) + ("true", "false", "True", "False", "None")
                     + tuple(keyword.kwlist))
STUDY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_YAML_VALUES = 20_000  # keys, lists and scalars in one spec file (YAML aliases cannot blow it up)
MAX_YAML_DEPTH = 64  # nesting of mappings and lists in one spec file (a spec needs about 6)
MAX_GRID = 100_000  # points of a grid, counted before any is listed
MAX_STEPS = 100_000  # values a matched parameter may range over
MAX_SAMPLES = 100_000  # random candidates `check_space` may cost

__all__ = ["BASE_NAMES", "COST_NAMES", "DATASET_INFO", "DIRECTIONS", "EARLY_STOPPING", "ES_METRICS", "IO_ARGS",
           "MAX_FILE_BYTES", "MAX_GRID", "MAX_SAMPLES", "MAX_STEPS", "MAX_YAML_DEPTH", "MAX_YAML_VALUES", "METRICS",
           "OBJECTIVES", "RESERVED", "SAMPLERS", "STUDY_RE", "SYNTHETIC_OPTIONS", "TRAIN_FORBIDDEN"]
