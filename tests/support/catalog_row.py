"""A dataset that exists only in the tests: one catalog row and its reader (seeded numpy patterns: 3 classes, 1
channel, 6x6), to show that adding a dataset is one row."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalesearch.data.catalog import DatasetInfo, ReadRequest
from scalesearch.errors import InputError

SETTINGS = {"offset": 0}


def read(request: ReadRequest) -> tuple[Any, ...]:
    unknown = sorted(set(request.settings) - set(SETTINGS))
    if unknown:
        raise InputError(f"unknown {', '.join(unknown)} for {request.info.name}: expected offset")
    offset = int({**SETTINGS, **request.settings}["offset"])
    rng = np.random.default_rng(offset)
    x = rng.integers(0, 256, size=(60, 1, 6, 6), dtype=np.uint8)
    y = np.arange(60, dtype=np.int64) % 3
    return x[:40], y[:40], x[40:], y[40:], 3


ROW = DatasetInfo("test-patterns", 1, 3, 6, 40, 20, "seeded patterns of the tests", reader="support.catalog_row:read",
                  classes=("a", "b", "c"), settings=SETTINGS, expects="nothing")
