"""scalesearch: architecture search and model-scaling exploration of residual CNN families.

The public API (`import scalesearch`; each name is loaded on first use, so that the import stays light: no torch,
pandas, Ray or Optuna until a function needs them):

    load_spec(path_or_mapping)              a SearchSpec from a YAML file or a mapping, with one-line errors
    run(spec, *, db, study, address, progress) -> Outcome
                                            train, store and return the outcome of a search
    resume(study, *, db, address, progress) -> Outcome
                                            continue an interrupted study from the database
    create_model(preset_or_netspec_or_path) -> torch.nn.Module
    count(preset_or_netspec_or_path) -> Cost
                                            analytic params, MACs and activations, per part
    load_trials, load_epochs, load_studies, aggregate
                                            the read side as pandas DataFrames
    compare_arms(db, study, a, b, ...)      two arms' difference, its interval and test, and the regime guards
                                            (what `scalesearch compare` prints)
    Store, Reader                           the database's writer and read-only reader (context managers)
    ScalesearchError                        the root of every error a user catches (SpecError, FieldError,
                                            StoreWriteError, ... subclass it and keep their builtin bases)

Example (the README's "Python API" section runs a complete search):
    >>> import scalesearch
    >>> scalesearch.count("cifar_resnet20").params
    269722
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> the module that defines it (imported on first use)
_EXPORTS = {
    "load_spec": "scalesearch.api",
    "create_model": "scalesearch.api",
    "count": "scalesearch.api",
    "run": "scalesearch.search.launch",
    "resume": "scalesearch.search.launch",
    "Outcome": "scalesearch.search.launch",
    "load_trials": "scalesearch.results",
    "load_epochs": "scalesearch.results",
    "load_studies": "scalesearch.results",
    "aggregate": "scalesearch.results",
    "compare_arms": "scalesearch.results.compare",
    "Store": "scalesearch.store",
    "Reader": "scalesearch.store",
    "SearchSpec": "scalesearch.spec",
    "NetSpec": "scalesearch.nets",
    "ScalesearchError": "scalesearch.errors",
    "InputError": "scalesearch.errors",
    "NotFoundError": "scalesearch.errors",
    "ConflictError": "scalesearch.errors",
    "ClusterError": "scalesearch.errors",
    "SpecError": "scalesearch.spec",
    "FieldError": "scalesearch.util.checks",
    "ExprError": "scalesearch.spec.expr",
    "StoreWriteError": "scalesearch.store",
}

# Written out so that tools read it without running the module; it names __version__ and every key of _EXPORTS,
# sorted (tests/test_api.py checks that the two agree).
__all__ = [
    "ClusterError",
    "ConflictError",
    "ExprError",
    "FieldError",
    "InputError",
    "NetSpec",
    "NotFoundError",
    "Outcome",
    "Reader",
    "ScalesearchError",
    "SearchSpec",
    "SpecError",
    "Store",
    "StoreWriteError",
    "__version__",
    "aggregate",
    "compare_arms",
    "count",
    "create_model",
    "load_epochs",
    "load_spec",
    "load_studies",
    "load_trials",
    "resume",
    "run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
