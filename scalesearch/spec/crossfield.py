"""Checks across fields of a parsed spec: names, cycles, base_* without a baseline, grid size, ASHA."""

from __future__ import annotations

from scalesearch.expr import Expr
from scalesearch.spec.constants import BASE_NAMES, MAX_GRID
from scalesearch.spec.errors import NOLOC, Loc
from scalesearch.spec.readers import check_names
from scalesearch.spec.schema import SearchSpec
from scalesearch.spec.space import grid_size
from scalesearch.spec.yamlnodes import Node
from scalesearch.text import short


def check_spec(spec: SearchSpec, top: dict[str, Node]) -> None:
    names = set(spec.params_by_name)
    pn = top.get("parameters")
    pm = pn.v if pn is not None else {}
    # names used by parameter expressions
    for p in spec.parameters:
        for key, e in p.exprs():
            node = pm[p.name].v[p.kind]  # the kind's node: the expression itself, or the mapping holding it
            node = node if key == p.kind else node.v[key]
            if p.name in e.names:
                raise node.err(f"parameters form a cycle: {p.name} -> {p.name} ({key} refers to itself)",
                               "an expression of other parameters")
            check_names(node, e, names - {p.name}, f"parameter {p.name}", BASE_NAMES)
    # cycles among derived and matched parameters
    deps = {p.name: p.deps & names for p in spec.parameters}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
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
    # base_* need a baseline
    if spec.baseline is None:
        uses: list[tuple[Loc | None, Expr]] = [(c.loc, c.expr) for c in spec.constraints]
        for p in spec.parameters:
            uses += [(p.loc, e) for _, e in p.exprs()]
        for loc, e in uses:
            used = sorted(e.names & set(BASE_NAMES))
            if used:
                raise (loc or NOLOC).error(f"{short(e.source)!r} uses {used[0]}, but the spec has no baseline",
                                            "a `baseline:` point (it defines base_macs, base_params, base_acts)")
    # the grid sampler needs enumerable parameters
    s = spec.search
    if s.sampler == "grid" and not s.points_only:
        for p in spec.sampled:
            if not p.enumerable:
                raise (p.loc or NOLOC).error(f"the grid sampler cannot enumerate the float range {p.name!r}",
                                              "a step, a grid: [...] list, or another sampler")
        size = grid_size(spec)
        if size > MAX_GRID:
            raise (s.loc or NOLOC).error(f"the grid has {size} points", f"at most {MAX_GRID}")
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
