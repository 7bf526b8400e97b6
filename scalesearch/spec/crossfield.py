"""Checks across fields of a parsed spec: names, cycles, base_* without a baseline, grid size, ASHA."""

from __future__ import annotations

from scalesearch.expr import Expr
from scalesearch.spec.constants import BASE_NAMES
from scalesearch.spec.errors import NOLOC, Loc
from scalesearch.spec.readers import check_names
from scalesearch.spec.schema import SearchSpec
from scalesearch.spec.space import check_grid
from scalesearch.spec.yamlnodes import Node
from scalesearch.text import short


def check_spec(spec: SearchSpec, top: dict[str, Node]) -> None:
    """Checks no single field can make: names and cycles among parameters, base_* without a baseline, the grid's
    size, points_only without points, ASHA's grace period against the epochs. `top` holds the file's nodes."""
    _check_parameters(spec, top)
    _check_base_names(spec)
    _check_search(spec)


def _check_parameters(spec: SearchSpec, top: dict[str, Node]) -> None:
    """Parameter expressions use known names, and derived and matched parameters depend on each other acyclically."""
    names = set(spec.params_by_name)
    pn = top.get("parameters")
    pm = pn.v if pn is not None else {}
    for p in spec.parameters:
        for key, e in p.exprs():
            node = pm[p.name].v[p.kind]  # the kind's node: the expression itself, or the mapping holding it
            node = node if key == p.kind else node.v[key]
            if p.name in e.names:
                raise node.err(f"parameters form a cycle: {p.name} -> {p.name} ({key} refers to itself)",
                               "an expression of other parameters")
            check_names(node, e, names - {p.name}, f"parameter {p.name}", BASE_NAMES)
    deps = {p.name: p.deps & names for p in spec.parameters}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
        """Depth-first search from u; a name met again while on the stack closes a cycle."""
        state[u] = 1
        stack.append(u)
        for w in sorted(deps[u]):
            if state.get(w) == 1:
                cyc = stack[stack.index(w):] + [w]
                p = spec.params_by_name[w]
                raise (p.loc or NOLOC).error(f"parameters form a cycle: {' -> '.join(cyc)}",
                                              "derived and matched parameters that depend on each other acyclically")
            if state.get(w) is None:
                visit(w)
        stack.pop()
        state[u] = 2

    for p in spec.parameters:
        if state.get(p.name) is None:
            visit(p.name)


def _check_base_names(spec: SearchSpec) -> None:
    """base_macs, base_params and base_acts need a baseline."""
    if spec.baseline is None:
        uses: list[tuple[Loc | None, Expr]] = [(c.loc, c.expr) for c in spec.constraints]
        for p in spec.parameters:
            uses += [(p.loc, e) for _, e in p.exprs()]
        for loc, e in uses:
            used = sorted(e.names & set(BASE_NAMES))
            if used:
                raise (loc or NOLOC).error(f"{short(e.source)!r} uses {used[0]}, but the spec has no baseline",
                                            "a `baseline:` point (it defines base_macs, base_params, base_acts)")


def _check_search(spec: SearchSpec) -> None:
    """The search settings against the rest: a grid sampler's parameters and size, points, ASHA and epochs."""
    s = spec.search
    if s.sampler == "grid" and not s.points_only:
        check_grid(spec)
    if s.points_only and not spec.points and spec.baseline is None:
        raise (s.loc or NOLOC).error("points_only is set but the spec has no points", "points: or a baseline:")
    es = s.early_stopping
    if es is not None:
        epochs = spec.train_dict.get("epochs")
        if isinstance(epochs, int) and 1 <= epochs <= es.grace_epochs:  # epochs < 1: TrainConfig's error
            raise (es.loc or s.loc or NOLOC).error(
                f"grace_epochs {es.grace_epochs} leaves nothing to stop in {epochs} epochs",
                f"grace_epochs < train.epochs ({epochs})")
    if len({o.name for o in s.objectives}) != len(s.objectives):  # pragma: no cover - mapping keys are unique
        raise (s.loc or NOLOC).error("duplicate objective", "each objective once")
