"""Matching an integer to a cost target: the search behind spec files' `match:` parameters and ResNeXt's rule
for the bottleneck width d that keeps a complexity fixed as the cardinality C changes (the paper's Table 2).

It lives above `cost` (it costs candidates) and below `spec`; `nets.specs` knows nothing of it.

Example:
    >>> [match_bottleneck_width(c) for c in (1, 2, 4, 8, 32)]
    [64, 40, 24, 14, 4]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scalesearch.errors import InputError
from scalesearch.nets import GENERATORS
from scalesearch.nets.cost import count
from scalesearch.util.checks import FieldError, check_choice, check_int

__all__ = ["match_bottleneck_width", "match_integer", "resnext_block_params", "search_int"]

def resnext_block_params(cardinality: int, bottleneck_width: int, width: int = 256) -> int:
    """Conv weights of one ResNeXt template block (BN ignored, as in the paper): C * (w*d + 9*d^2 + d*w)."""
    return cardinality * (width * bottleneck_width + 9 * bottleneck_width ** 2 + bottleneck_width * width)


def search_int(cost: Callable[[int], int | None], target: float, values: range) -> tuple[int | None, int]:
    """(value, its cost) of the value in `values` whose cost is closest to target (ties: the smaller value),
    skipping values whose cost is None (invalid); (None, 0) when every value is invalid.

    Bisection on a non-decreasing cost, falling back to a full scan as soon as a probe is invalid or out of order.
    """
    memo: dict[int, int | None] = {}

    def c(i: int) -> int | None:
        if i not in memo:
            memo[i] = cost(values[i])
        return memo[i]

    def scan() -> tuple[int | None, int]:
        best: tuple[float, int] | None = None
        for i in range(len(values)):
            ci = c(i)
            if ci is not None and (best is None or abs(ci - target) < best[0]):
                best = (abs(ci - target), i)
        if best is None:
            return None, 0
        return values[best[1]], c(best[1])  # type: ignore[return-value]

    n = len(values)
    if n <= 8:
        return scan()
    lo_c, hi_c = c(0), c(n - 1)
    if lo_c is None or hi_c is None or lo_c > hi_c:
        return scan()

    def first_at_least(t: float, lo: int, hi: int, c_lo: int, c_hi: int) -> int | None:
        """Smallest i in [lo, hi+1] with c(i) >= t (hi+1: none); None if a probe breaks monotonicity."""
        if c_lo >= t:
            return lo
        if c_hi < t:
            return hi + 1
        # invariant: c(lo) < t <= c(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            cm = c(mid)
            if cm is None or cm < c_lo or cm > c_hi:
                return None
            if cm >= t:
                hi, c_hi = mid, cm
            else:
                lo, c_lo = mid, cm
        return hi

    i = first_at_least(target, 0, n - 1, lo_c, hi_c)
    if i is None:
        return scan()
    cands = []
    if i < n:
        cands.append(i)
    if i > 0:
        below = c(i - 1)
        if below is None:
            return scan()
        j = first_at_least(below, 0, i - 1, lo_c, below)  # first of the plateau at cost c(i-1)
        if j is None:
            return scan()
        cands.append(j)
    best = min(cands, key=lambda k: (abs(c(k) - target), k))  # type: ignore[operator]
    return values[best], c(best)  # type: ignore[return-value]


def match_integer(cost: Callable[[int], int], target: float, low: int, high: int) -> int:
    """The integer x in [low, high] whose cost(x) is closest to target (ties go to the smaller x): `search_int`
    over range(low, high + 1)."""
    if low > high:
        raise InputError(f"match range: low {low} > high {high}")
    return search_int(cost, target, range(low, high + 1))[0]  # type: ignore[return-value]


def match_bottleneck_width(cardinality: int, target: float | None = None, *, metric: str = "params",
                           family: str = "block", low: int = 1, high: int = 512, **kwargs: Any) -> int:
    """The bottleneck width d that, at cardinality C, brings a complexity closest to `target`.

    Args:
        cardinality: C.
        target: the complexity to match; None = that of C=1, d=64 (ResNet-50's template).
        metric: "params" or "macs".
        family: "block" for the paper's Table 2 rule on one template block (params of C*(256d + 9d^2 + 256d); the
            default gives d = 64, 40, 24, 14, 4 for C = 1, 2, 4, 8, 32), or a generator name taking `cardinality`
            and `bottleneck_width` ("resnext", "cifar_resnext"): then the whole network's analytic cost is
            matched, with `kwargs` passed to the generator.
        low, high: the range of d searched.
    """
    cardinality = check_int("cardinality", cardinality, 1)
    low, high = check_int("low", low, 1), check_int("high", high, 1)
    check_choice("metric", metric, ("params", "macs"))
    check_choice("family", family, ("block", "resnext", "cifar_resnext"))
    if family == "block":
        if kwargs:
            raise FieldError(min(kwargs), problem="not an argument of the block rule")
        width = 256
        if metric == "params":
            cost_fn = lambda d: resnext_block_params(cardinality, d, width)
            base = resnext_block_params(1, 64, width)
        else:  # at 56x56, the block's MACs are its params times the spatial size
            cost_fn = lambda d: resnext_block_params(cardinality, d, width) * 56 * 56
            base = resnext_block_params(1, 64, width) * 56 * 56
    else:
        gen = GENERATORS[family]
        # The template (C=1, d=64) first: a bad generator argument is the caller's error, raised here ...
        base = getattr(count(gen(cardinality=1, bottleneck_width=64, **kwargs)), metric)

        def cost_fn(d: int) -> int | None:  # ... so that a failure below is a width C cannot build: skipped
            try:
                return getattr(count(gen(cardinality=cardinality, bottleneck_width=d, **kwargs)), metric)
            except ValueError:
                return None

    if low > high:
        raise FieldError("high", f"an integer >= low = {low}", high)
    d, _ = search_int(cost_fn, base if target is None else target, range(low, high + 1))
    if d is None:
        raise FieldError("bottleneck_width", problem=f"no width in [{low}, {high}] builds a {family} network at "
                         f"cardinality {cardinality}", expected="a wider range")
    return d
