"""A resolved candidate and how its matched parameters were chosen."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Match:
    """How a matched parameter was resolved at one candidate."""

    name: str
    metric: str
    target: float
    value: int
    achieved: int

    @property
    def rel_error(self) -> float:
        """(achieved - target) / target."""
        return (self.achieved - self.target) / self.target if self.target else math.inf * (self.achieved != 0)


@dataclass(frozen=True)
class Candidate:
    """One resolved candidate.

    Attributes:
        values: every parameter's value (sampled, fixed, derived, matched), in spec order.
        netspec: the network (with the dataset's in_channels and classes).
        macs, params, acts: its analytic cost.
        train: the training overrides evaluated at this candidate.
        matches: how each active matched parameter was chosen.
        rejected_by: the sources of the constraints it violates (empty: feasible).
    """

    values: dict[str, Any]
    netspec: Any
    macs: int
    params: int
    acts: int
    train: dict[str, Any]
    matches: tuple[Match, ...] = ()
    rejected_by: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.rejected_by

    @property
    def hash(self) -> str:
        return self.netspec.hash
