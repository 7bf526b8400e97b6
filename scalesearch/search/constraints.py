"""A spec's constraints in Optuna's terms: one value per constraint, <= 0 where it holds, > 0 where it fails.

Optuna's TPE and NSGA-II samplers read constraint values (`Trial.set_constraint`, Optuna >= 5; `constraints_func`
before) and steer away from infeasible regions, ranking infeasible trials by their total violation. A
comparison gives a graded value, the relative gap between its sides, so that a candidate 10% over a MACs budget
ranks better than one 3x over:

    a <= b, a < b  ->  (a - b) / scale        a >= b, a > b  ->  (b - a) / scale
    a == b         ->  |a - b| / scale        a != b         ->  0 or 1
    x and y        ->  max(x, y)              x or y         ->  min(x, y)

with scale = max(|a|, |b|) (1 if both are 0); chained comparisons (`1.9 <= x <= 2.1`) take the max of their
links; anything else (`not`, a boolean parameter) gives 0 or 1. The scalesearch verdict is authoritative: a value
is clamped to be > 0 exactly where the constraint rejects the candidate (a strict `<` that ties, for instance).

Example:
    >>> from scalesearch.spec.expr import parse_expr
    >>> round(violation(parse_expr("macs <= 2 * base"), {"macs": 330, "base": 100}, holds=False), 3)
    0.394
    >>> violation(parse_expr("macs <= 2 * base"), {"macs": 150, "base": 100}, holds=True) < 0
    True
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from typing import Any

from scalesearch.spec import Candidate, SearchSpec
from scalesearch.spec.expr import Expr, ExprError, parse_expr

__all__ = ["constraint_values", "set_constraints", "violation"]

_MIN_VIOLATION = 1e-9


@functools.lru_cache(maxsize=512)
def _tree(source: str) -> ast.expr | None:
    try:
        return ast.parse(source, mode="eval").body
    except SyntaxError:  # pragma: no cover - the spec reader parsed it already
        return None


def _num(source: str, node: ast.AST, env: Mapping[str, Any]) -> float | None:
    seg = ast.get_source_segment(source, node)
    if seg is None:
        return None
    try:
        v = parse_expr(seg)(env)
    except ExprError:
        return None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _pair(op: ast.cmpop, a: float, b: float) -> float | None:
    scale = max(abs(a), abs(b)) or 1.0
    if isinstance(op, (ast.Lt, ast.LtE)):
        return (a - b) / scale
    if isinstance(op, (ast.Gt, ast.GtE)):
        return (b - a) / scale
    if isinstance(op, ast.Eq):
        return abs(a - b) / scale
    return None


def _graded(source: str, node: ast.AST, env: Mapping[str, Any]) -> float | None:
    if isinstance(node, ast.Compare):
        parts = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            a, b = _num(source, left, env), _num(source, right, env)
            if a is None or b is None:
                return None
            v = _pair(op, a, b)
            if v is None:
                return None
            parts.append(v)
            left = right
        return max(parts)
    if isinstance(node, ast.BoolOp):
        vals = [_graded(source, v, env) for v in node.values]
        if any(v is None for v in vals):
            return None
        return max(vals) if isinstance(node.op, ast.And) else min(vals)  # type: ignore[type-var]
    return None


def violation(expr: Expr, env: Mapping[str, Any], *, holds: bool) -> float:
    """The Optuna constraint value of `expr` at `env`: <= 0 when `holds`, > 0 otherwise (see the module doc)."""
    tree = _tree(expr.source)
    v = _graded(expr.source, tree, env) if tree is not None else None
    if v is None:
        v = 0.0 if holds else 1.0
    return min(v, 0.0) if holds else max(v, _MIN_VIOLATION)


def constraint_values(spec: SearchSpec, candidate: Candidate, base: tuple[int, int, int] | None) -> dict[str, float]:
    """name -> constraint value of every spec constraint at a resolved candidate (names: `c0: <source>`, ...).

    Args:
        spec: the SearchSpec.
        candidate: the resolved candidate (values, macs, params, acts, rejected_by).
        base: the baseline's (macs, params, acts), or None without a baseline.
    """
    env: dict[str, Any] = dict(candidate.values)
    env.update(macs=candidate.macs, params=candidate.params, acts=candidate.acts)
    if base is not None:
        env.update(base_macs=base[0], base_params=base[1], base_acts=base[2])
    rejected = set(candidate.rejected_by)
    out = {}
    for i, c in enumerate(spec.constraints):
        src = c.expr.source
        out[f"c{i}: {src}"[:200]] = violation(c.expr, env, holds=src not in rejected)
    return out


def set_constraints(trial: Any, spec: SearchSpec, candidate: Candidate, base: tuple[int, int, int] | None) -> None:
    """Hand an Optuna trial (None: nothing to hand) the constraint values of its candidate, when the spec has
    constraints (see `constraint_values`)."""
    if trial is None or not spec.constraints:
        return
    for k, v in constraint_values(spec, candidate, base).items():
        trial.set_constraint(k, v)
