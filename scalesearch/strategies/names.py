"""The one table of the strategies a spec, the driver, the simulator and the CLI name: the samplers, the
early-stopping schedulers and the prefilter's scores, each with the words help texts and messages use.

Plain data (no Optuna, no Ray, no torch), so the spec reader checks a name without importing either; the classes
behind the names are built where they run (`scalesearch.search.study.make_sampler`, `scalesearch.strategies.moasha`,
`scalesearch.train.scores`).
"""

from __future__ import annotations

__all__ = ["PREFILTER_SCORES", "SAMPLERS", "SCHEDULERS", "SIMULATED_SCHEDULERS", "SIMULATED_STRATEGIES",
           "TRAINING_FREE_SCORES"]

# name -> what it is: Optuna's samplers and our own (rea, an Optuna sampler in scalesearch.strategies.rea)
SAMPLERS: dict[str, str] = {
    "grid": "every point of the grid, in order",
    "random": "uniform random points",
    "tpe": "Optuna's tree-structured Parzen estimator (constant liar for parallel trials)",
    "nsga2": "Optuna's NSGA-II (multi-objective genetic search)",
    "rea": "regularized evolution (Real et al. 2019), multi-objective by non-dominated rank",
}
# name -> its name in messages: the early-stopping schedulers of `search.early_stopping.type`
SCHEDULERS: dict[str, str] = {"asha": "ASHA", "moasha": "MO-ASHA", "hyperband": "Hyperband"}
# the training-free scores of an untrained network (their functions: scalesearch.train.scores)
TRAINING_FREE_SCORES: tuple[str, ...] = ("naswot", "synflow", "snip", "grad_norm")
# what a prefilter ranks candidates by: a training-free score or an exact cost; higher is better for each score, and
# for params and macs (a bigger net of a family trains to more accuracy)
PREFILTER_SCORES: tuple[str, ...] = (*TRAINING_FREE_SCORES, "params", "macs")
# what the simulator compares: the recorded order ("replay") or a sampler, without early stopping ("none") or with
SIMULATED_STRATEGIES: tuple[str, ...] = ("replay", *SAMPLERS)
SIMULATED_SCHEDULERS: tuple[str, ...] = ("none", *SCHEDULERS)
