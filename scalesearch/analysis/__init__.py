"""Analysis of search results: Pareto fronts, hypervolume, repeats, iso-complexity comparisons, EDFs, scaling laws.

Everything here works on plain numpy arrays or on the pandas DataFrame the store's reader returns: one row per
trial with `study`, `number`, `state` ("COMPLETE", "FAILED", "PRUNED", "REJECTED", ...), one column per spec
parameter, the costs `macs`, `params`, `acts`, metrics such as `val_acc`, `test_acc`, `train_loss`, and `seed`,
`repeat`, `family`, `arch` (a short architecture label) and `config_key` (one configuration across its repeats).
Only numpy and pandas are imported with it (scipy inside the functions that use it): no torch, ray or optuna.

Modules: `columns` (column names, directions, errors), `pareto` (fronts, dominance, hypervolume), `stats`
(t quantiles, aggregation over repeats, complexity bins), `compare` (matched pairs, comparisons, verdicts), `edf`
(error EDFs), `fits` (power laws, scaling fits). This package re-exports their public names.

Conventions:
    directions   "min" or "max" per objective ("minimize"/"maximize" are accepted too).
    dominance    a dominates b when a is at least as good in every objective and strictly better in one.
    complete     DataFrame functions consider only rows whose `state` is "COMPLETE" when that column exists
                 (as Optuna's `best_trials` does), and never rows with NaN in a column they use.
    error        the error of an accuracy metric (a name containing "acc", as a fraction) is 1 - accuracy; any
                 other metric (a loss, an error) is used as it is (`to_error`).
    randomness   every bootstrap draws from `np.random.default_rng(seed)`: equal inputs give equal outputs.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arch": ["a", "b", "c", "d"], "macs": [1e6, 2e6, 2e6, 4e6],
    ...                    "val_acc": [0.80, 0.85, 0.83, 0.85], "state": ["COMPLETE"] * 4})
    >>> pareto_front(df)["arch"].tolist()
    ['a', 'b']
    >>> hypervolume([[1, 3], [2, 2], [3, 1]], reference=[4, 4], directions=["min", "min"])
    6.0
"""

from scalesearch.analysis.columns import (
    COMPLETE,
    COST_COLUMNS,
    DEFAULT_OBJECTIVES,
    ID_COLUMNS,
    METRIC_COLUMNS,
    parameter_columns,
    to_error,
)
from scalesearch.analysis.edf import complexity_weights, edf, error_edf
from scalesearch.analysis.fits import PowerLaw, ScalingFit, fit_power_law, fit_scaling
from scalesearch.analysis.paired import Verdict, compare, match_pairs, verdict, verdicts
from scalesearch.analysis.pareto import dominates, hypervolume, is_dominated, pareto_front, pareto_mask
from scalesearch.analysis.stats import aggregate, complexity_bins, t_quantile

__all__ = [
    "COMPLETE", "COST_COLUMNS", "DEFAULT_OBJECTIVES", "ID_COLUMNS", "METRIC_COLUMNS", "PowerLaw", "ScalingFit",
    "Verdict", "aggregate", "compare", "complexity_bins", "complexity_weights", "dominates", "edf", "error_edf",
    "fit_power_law", "fit_scaling", "hypervolume", "is_dominated", "match_pairs", "parameter_columns",
    "pareto_front", "pareto_mask", "t_quantile", "to_error", "verdict", "verdicts",
]
