"""REA in the simulator without an Optuna study: the same policy (`strategies.rea.Evolution`, the functions
`REASampler` runs) asked and told in memory, so that a simulated REA run costs little beside the event queue.

`EvolutionStudy` answers the simulator's `ask` and `tell` as the Optuna study it replaces would with an REASampler
seeded alike: while fewer than P results are told, every parameter is drawn by an Optuna RandomSampler seeded
`seed + 1` (REASampler's own, asked for each parameter in the spec's order, as `sample_params` asks a trial);
then each ask is the child of a tournament over the population; a COMPLETE result joins the population, anything
else is not a result. What differs: the population is ordered by when results were told here, REASampler's by
their stored completion time (trial number on a tie; two tells within a microsecond can order differently), and
there is no study to keep (`simulate(keep_study=True)` runs REASampler in an Optuna study).
"""

from __future__ import annotations

from typing import Any

from scalesearch.strategies.rea import Evolution

__all__ = ["EvolutionStudy", "EvolutionTrial"]


class EvolutionTrial:
    """One ask: the child's values (empty while the population fills) and a random draw for the others, through
    the suggest methods `sample_params` calls."""

    def __init__(self, study: EvolutionStudy, child: dict[str, Any] | None) -> None:
        self.study = study
        self.child = child or {}
        self.params: dict[str, Any] = {}

    def _value(self, name: str) -> Any:
        value = self.child[name] if name in self.child else self.study.draw(name)
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._value(name)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return self._value(name)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._value(name)


class EvolutionStudy:
    """An in-memory stand-in for the simulator's Optuna study under REA (module docstring).

    Args:
        spec: the table's SearchSpec (its sampled parameters' distributions are read once).
        population, tournament: REA's P and S.
        directions: "maximize" or "minimize" per objective.
        seed: as `make_sampler`'s seed for REASampler.
    """

    def __init__(self, spec: Any, population: int, tournament: int, directions: list[str], seed: int) -> None:
        import optuna

        from scalesearch.search.study import distributions_of

        self.space = distributions_of(spec)
        self.evolution = Evolution(population, tournament, directions, seed=seed)
        self.random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 1)

    def draw(self, name: str) -> Any:
        """A random value of parameter `name` (RandomSampler's, which reads neither study nor trial)."""
        return self.random.sample_independent(None, None, name, self.space[name])  # type: ignore[arg-type]

    def ask(self) -> EvolutionTrial:
        return EvolutionTrial(self, self.evolution.ask(self.space))

    def tell(self, trial: EvolutionTrial, values: list[float] | None = None, *, state: Any = None) -> None:
        """A result: COMPLETE values join the population; a state (PRUNED, FAIL) is not a result."""
        if values is not None:
            self.evolution.tell(trial.params, values)
