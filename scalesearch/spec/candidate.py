"""A resolved candidate (`Candidate`, one type for grid points, samples and named points) and how its matched
parameters were chosen (`Match`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scalesearch.arch import NetSpec


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
    """One candidate of a space: the values it was given, every parameter's value, its network, cost and verdict.

    A candidate whose architecture the family rejects (a grid point or a sample `check_space` costs) has no
    network: `netspec`, `hash`, `macs`, `params` and `acts` are None and `rejected_by` holds
    "architecture: <why>".

    Attributes:
        values: every parameter's value (sampled, fixed, derived, matched), in spec order.
        netspec: the network (with the dataset's in_channels and classes), None if the family rejects it.
        macs, params, acts: its analytic cost (None without a network).
        train: the training overrides evaluated at this candidate.
        matches: how each active matched parameter was chosen.
        rejected_by: the sources of the constraints it violates (empty: feasible).
        sampled: the values it was resolved from: the sampled parameters' (and those a point pins).
    """

    values: dict[str, Any]
    netspec: NetSpec | None
    macs: int | None
    params: int | None
    acts: int | None
    train: dict[str, Any] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()
    rejected_by: tuple[str, ...] = ()
    sampled: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def invalid(cls, sampled: dict[str, Any], values: dict[str, Any], reason: str) -> Candidate:
        """A candidate whose architecture the family rejects, for `reason`."""
        return cls(values, None, None, None, None, rejected_by=(f"architecture: {reason}",), sampled=sampled)

    @property
    def feasible(self) -> bool:
        """Whether it has a network and satisfies every constraint."""
        return not self.rejected_by

    @property
    def hash(self) -> str | None:
        """The NetSpec's hash (the search's dedupe key), None without a network."""
        return self.netspec.hash if self.netspec is not None else None

    def summary(self) -> dict[str, Any]:
        """The JSON-able form `scalesearch validate --json` prints (no network, no matches)."""
        return {"sampled": self.sampled, "values": self.values, "feasible": self.feasible,
                "rejected_by": list(self.rejected_by), "hash": self.hash, "macs": self.macs, "params": self.params,
                "acts": self.acts}


# The name a grid's points went by: one candidate type serves grids, samples and named points.
GridPoint = Candidate
