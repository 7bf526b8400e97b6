"""scalesearch: architecture search and model-scaling exploration of residual CNN families.

The read side is importable from the top: `scalesearch.load_trials(db, study)` (one row per trial as a pandas
DataFrame), `scalesearch.load_epochs(...)` and `scalesearch.aggregate(df, by=...)`; they are loaded on first use,
so that `import scalesearch` stays light (no pandas, no torch).
"""

from typing import Any

__version__ = "0.1.0"

_READ_SIDE = ("load_trials", "load_epochs", "load_studies", "aggregate")


def __getattr__(name: str) -> Any:
    if name in _READ_SIDE:
        from scalesearch import results

        return getattr(results, name)
    raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
