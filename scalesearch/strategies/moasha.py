"""Rung schedulers for Ray Tune on `Rungs` (shared with the simulator, as is `rungs.rung_plan`): ASHA (one
objective: Ray's rule, see `rungs`), MO-ASHA (Schmucker et al. 2021, "Multi-objective Asynchronous Successive
Halving"): ASHA's rungs, with the trials at a rung ranked by all of the search's objectives at once; and
asynchronous Hyperband (Li et al. 2018) over several brackets, on one objective or several, the trials dealt to
the brackets in a fixed order with Hyperband's shares (`rungs.hyperband_order`; Ray's own draws a bracket from the
unseeded global numpy RNG).

The rung metric (`early_stopping.metric`, val_acc) is read from each epoch's result; the static costs among the
objectives (macs, params) from the trial's config (`costs`, set by the driver from the counted candidate). A trial
it stops is stored as stopped with its last epoch's metrics. A resumed search first `restore`s the stored trials
at their rungs (Ray's own schedulers start empty after a restart: the trials after a kill would be ranked only
against each other).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from scalesearch.strategies.rungs import Rungs

__all__ = ["STATIC_OBJECTIVES", "MOASHAScheduler", "RungScheduler"]

STATIC_OBJECTIVES = ("macs", "params")  # known before training: the candidate's counted cost


class RungScheduler(FIFOScheduler):
    """Stops trials at the rungs of their bracket by non-dominated rank (see the module docstring).

    Args:
        rungs: the brackets' rung ladders (one: ASHA or MO-ASHA; several: Hyperband), or one ladder.
        deal: the brackets' indices in the order trials are dealt to them, over and over (default: in turn).
        metric: the result field ranked in place of the `val_acc` objective.
        objectives: (name, "max" or "min") of the search, in order; each is the metric's `val_acc` or one of
            STATIC_OBJECTIVES.
    """

    def __init__(self, rungs: Rungs | Sequence[Rungs], metric: str, objectives: Sequence[tuple[str, str]], *,
                 deal: Sequence[int] | None = None) -> None:
        super().__init__()
        self.brackets = [rungs] if isinstance(rungs, Rungs) else list(rungs)
        self.deal = list(deal) if deal else list(range(len(self.brackets)))
        self._bracket: dict[str, Rungs] = {}
        self._rung_metric = metric
        self.objectives = tuple(objectives)
        self.stopped = 0

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def _vector(self, trial: Any, result: Mapping[str, Any]) -> list[float] | None:
        return self._values((trial.config or {}).get("costs") or {}, result)

    def _values(self, costs: Mapping[str, Any], result: Mapping[str, Any]) -> list[float] | None:
        out = []
        for name, direction in self.objectives:
            v = result.get(self._rung_metric) if name == "val_acc" else costs.get(name)
            if v is None:
                return None
            out.append(-float(v) if direction == "max" else float(v))
        return out

    def _decide(self, trial: Any, result: dict[str, Any]) -> Any:
        if "epoch" not in result or result.get(self._rung_metric) is None:
            return None
        vector = self._vector(trial, result)
        if vector is None:
            return None
        return self._of(trial).on_result(trial.trial_id, int(result["epoch"]), vector)

    def _of(self, trial: Any) -> Rungs:
        """The trial's bracket: dealt in turn, in the order trials are added (the order they start)."""
        return self._of_key(trial.trial_id)

    def _of_key(self, key: Hashable) -> Rungs:
        return self._bracket.setdefault(key, self.brackets[self.deal[len(self._bracket) % len(self.deal)]])

    def restore(self, history: Iterable[tuple[Hashable, Mapping[str, Any], Sequence[tuple[int, Any]]]]) -> int:
        """Record a resumed study's finished trials at the rungs they reached, in the order they started (each
        dealt to its bracket in that order, as when they ran), so that the trials still to come are ranked against
        them as in one uninterrupted run. `history`: (key, costs, [(epoch, rung metric), ...]) per trial. Returns
        how many trials reached a rung."""
        recorded = 0
        for key, costs, curve in history:
            rungs = self._of_key(key)
            hit = False
            for epoch, value in curve:
                vector = None if value is None else self._values(costs, {self._rung_metric: value})
                if vector is not None and rungs.on_result(key, int(epoch), vector) is not None:
                    hit = True
            recorded += hit
        return recorded

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._of(trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision = self._decide(trial, result)
        if decision is None or decision.go_on:
            return TrialScheduler.CONTINUE
        self.stopped += 1
        return TrialScheduler.STOP

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self._decide(trial, result)  # recorded at its rung, as ASHA records a finished trial's last result

    def debug_string(self) -> str:
        return f"Using rungs at epochs {[b.milestones for b in self.brackets]}, {self.stopped} stopped"


MOASHAScheduler = RungScheduler  # one bracket ranked by every objective (and ASHA: one bracket, one objective)
