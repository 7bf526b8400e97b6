"""Statistics for claims declared before the data: planned looks with O'Brien-Fleming alpha spending, Holm's
step-down adjustment over secondary claims, and the pooled-variance omnibus test that must pass before many arms
are ranked.

- `obf_spent(t, alpha)`: the Lan-DeMets O'Brien-Fleming-type spending function, one-sided: the part of `alpha`
  spent by information fraction t, 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)).
- `look_bounds(fractions, alpha)`: the one-sided z boundary of each planned look, so that the probability of
  crossing any boundary by look k under no effect is exactly `obf_spent(t_k)` (the looks' statistics are jointly
  normal with corr(Z_i, Z_j) = sqrt(t_i / t_j)).
- `sequential_test(diffs, look, fractions, ...)`: a paired one-sided t test at one look, against that look's
  nominal level 1 - Phi(c_k), with the repeated confidence interval at the same level.
- `holm(pvalues)`: Holm-adjusted p-values (step-down, monotone, capped at 1).
- `omnibus(groups)`: one-way ANOVA over arms with the pooled within-arm variance.

Example (two looks at half and full information, one-sided alpha 0.025: the classic 2.963 and 1.969):
    >>> [round(c, 3) for c in look_bounds([0.5, 1.0], 0.025)]
    [2.963, 1.969]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from scalesearch.errors import InputError

__all__ = ["LookTest", "holm", "look_bounds", "obf_spent", "omnibus", "sequential_test"]


def obf_spent(t: float, alpha: float = 0.025) -> float:
    """The one-sided alpha spent by information fraction t (0 < t <= 1) under O'Brien-Fleming-type spending."""
    if not 0 < t <= 1:
        raise InputError(f"information fraction {t}: expected 0 < t <= 1")
    return float(2.0 - 2.0 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(t)))


def look_bounds(fractions: Sequence[float], alpha: float = 0.025) -> list[float]:
    """The z boundary of each look (information fractions increasing, the last 1.0 for the planned end).

    Raises:
        InputError: fractions not strictly increasing in (0, 1], or alpha outside (0, 0.5).
    """
    ts = [float(t) for t in fractions]
    if not ts or any(not 0 < t <= 1 for t in ts) or any(b <= a for a, b in itertools.pairwise(ts)):
        raise InputError(f"looks at information fractions {ts}: expected strictly increasing values in (0, 1]")
    if not 0 < alpha < 0.5:
        raise InputError(f"alpha {alpha}: expected 0 < alpha < 0.5")
    bounds = [float(stats.norm.ppf(1 - obf_spent(ts[0], alpha)))]
    for k in range(1, len(ts)):
        cov = np.array([[math.sqrt(min(ti, tj) / max(ti, tj)) for tj in ts[:k + 1]] for ti in ts[:k + 1]])
        # P(no crossing before look k): the earlier looks' joint normal below their bounds
        below = _mvn_cdf(np.array(bounds), cov[:k, :k]) if k > 1 else float(stats.norm.cdf(bounds[0]))
        target = obf_spent(ts[k], alpha) - obf_spent(ts[k - 1], alpha)  # new crossings allowed at look k
        bounds.append(float(optimize.brentq(_new_crossings, 0.0, 10.0, xtol=1e-7,
                                            args=(cov, np.array(bounds), below, target))))
    return bounds


def _mvn_cdf(x: np.ndarray, cov: np.ndarray) -> float:
    """P(Z < x) for Z ~ N(0, cov). scipy integrates it by randomised quasi-Monte Carlo: a fixed generator makes the
    boundaries, and so every verdict recomputed from committed files, the same on every run (with scipy's default
    generator look 3's boundary moved by about 1e-7 between runs)."""
    return float(stats.multivariate_normal.cdf(x, mean=np.zeros(len(x)), cov=cov,
                                               rng=np.random.default_rng(0)))


def _new_crossings(c: float, cov: np.ndarray, upper: np.ndarray, below: float, target: float) -> float:
    """P(no crossing before look k, Z_k >= c) - target, with P(...) = P(Z_<k < upper) - P(Z_<k < upper, Z_k < c)."""
    return below - _mvn_cdf(np.append(upper, c), cov) - target


@dataclass(frozen=True)
class LookTest:
    """One look's test of a one-sided claim (diff > 0 is the claim's direction)."""

    look: int                  # 1-based
    looks: int
    n: int                     # pairs at this look
    diff: float
    lo: float                  # repeated confidence interval at the look's nominal level (two-sided)
    hi: float
    t: float
    p: float                   # one-sided p of the paired t test
    bound_z: float
    nominal: float             # the look's one-sided nominal level, 1 - Phi(bound_z)

    @property
    def crossed(self) -> bool:
        return self.p < self.nominal

    @property
    def decision(self) -> str:
        if self.crossed:
            return "reproduced" if self.look == self.looks else f"reproduced (stopped at look {self.look})"
        return "not crossed" if self.look == self.looks else f"continue to look {self.look + 1}"


def sequential_test(diffs: Sequence[float], look: int, fractions: Sequence[float], *,
                    alpha: float = 0.025) -> LookTest:
    """Test a one-sided claim at look `look` (1-based) of the planned looks `fractions` from the per-pair
    differences seen so far (oriented: positive is the claim's direction), with a paired t test whose p is
    compared with the look's O'Brien-Fleming nominal level.

    Raises:
        InputError: fewer than two differences, or a look outside the plan.
    """
    x = np.asarray([d for d in diffs if not math.isnan(d)], dtype=float)
    if not 1 <= look <= len(fractions):
        raise InputError(f"look {look}: expected 1..{len(fractions)}")
    if len(x) < 2:
        raise InputError(f"look {look}: {len(x)} paired differences; expected at least 2")
    c = look_bounds(fractions, alpha)[look - 1]
    nominal = float(1 - stats.norm.cdf(c))
    n, mean, sd = len(x), float(x.mean()), float(x.std(ddof=1))
    se = sd / math.sqrt(n)
    t = mean / se if se > 0 else (math.inf if mean > 0 else -math.inf if mean < 0 else 0.0)
    p = float(stats.t.sf(t, n - 1))
    h = float(stats.t.ppf(1 - nominal, n - 1)) * se
    return LookTest(look, len(fractions), n, mean, mean - h, mean + h, t, p, c, nominal)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order (reject claim i at level a when adjusted <= a).

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = [float(v) for v in pvalues]
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = round(running, 12)
    return out


@dataclass(frozen=True)
class Omnibus:
    """A one-way ANOVA over arms: F, its degrees of freedom, p and the pooled within-arm SD."""

    f: float
    df_between: int
    df_within: int
    p: float
    pooled_sd: float

    def text(self) -> str:
        return (f"one-way ANOVA over {self.df_between + 1} arms: F({self.df_between}, {self.df_within}) = "
                f"{self.f:.3f}, p = {self.p:.4g} (pooled within-arm SD {self.pooled_sd:.4g})")


def omnibus(groups: Sequence[Sequence[float]]) -> Omnibus:
    """One-way ANOVA with the pooled within-arm variance: the test that must pass before arms are ranked.

    Raises:
        InputError: fewer than two arms, or no arm with two values.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    n = sum(len(a) for a in arrays)
    k = len(arrays)
    if k < 2 or n - k < 1:
        raise InputError(f"omnibus test: {k} arm(s) with {n} values; expected at least 2 arms and a repeated one")
    grand = np.concatenate(arrays).mean()
    ss_between = sum(len(a) * (a.mean() - grand) ** 2 for a in arrays)
    ss_within = sum(((a - a.mean()) ** 2).sum() for a in arrays)
    ms_within = ss_within / (n - k)
    f = (ss_between / (k - 1)) / ms_within if ms_within > 0 else math.inf
    return Omnibus(float(f), k - 1, n - k, float(stats.f.sf(f, k - 1, n - k)), float(math.sqrt(ms_within)))
