"""Planned looks (O'Brien-Fleming spending), Holm and the omnibus test, against published values and computations
made here by other means (simulation, the definition, scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scalesearch.analysis.sequential import holm, look_bounds, obf_spent, omnibus, sequential_test
from scalesearch.errors import InputError


def test_obf_spending_spends_all_alpha_at_the_end_and_little_early():
    assert obf_spent(1.0, 0.025) == pytest.approx(0.025, abs=1e-12)
    assert obf_spent(0.5, 0.025) == pytest.approx(0.001525, abs=2e-6)
    assert obf_spent(0.25, 0.025) < obf_spent(0.5, 0.025) < obf_spent(0.75, 0.025)


@pytest.mark.parametrize(("fractions", "expected"), [
    ([0.5, 1.0], [2.963, 1.969]),               # Lan-DeMets O'Brien-Fleming, one-sided 0.025 (Jennison-Turnbull)
    ([1 / 3, 2 / 3, 1.0], [3.710, 2.511, 1.993]),
])
def test_bounds_match_the_published_values(fractions, expected):
    assert [round(c, 3) for c in look_bounds(fractions, 0.025)] == pytest.approx(expected, abs=1.5e-3)


def test_bounds_are_the_same_on_every_call():
    # scipy's multivariate normal cdf is randomised quasi-Monte Carlo; with its default generator a 4-look boundary
    # moved by about 1e-7 between runs, and a verdict recomputed from committed CSVs differed from the stored one.
    first = look_bounds([0.25, 0.5, 0.75, 1.0], 0.025)
    assert [round(c, 3) for c in first] == pytest.approx([4.333, 2.963, 2.359, 2.014], abs=1.5e-3)
    assert all(look_bounds([0.25, 0.5, 0.75, 1.0], 0.025) == first for _ in range(3))


def test_bounds_keep_the_overall_error_rate_by_simulation():
    # Z_k = S_k / sqrt(n_k) of a random walk under no effect: P(cross any boundary) must be alpha.
    rng = np.random.default_rng(0)
    fractions = [1 / 3, 2 / 3, 1.0]
    c = look_bounds(fractions, 0.025)
    steps = rng.standard_normal((200_000, 3)) * math.sqrt(1 / 3)
    s = steps.cumsum(axis=1)
    z = s / np.sqrt(np.array(fractions))
    crossed = (z >= np.array(c)).any(axis=1).mean()
    assert crossed == pytest.approx(0.025, abs=0.0015)
    first = (z[:, 0] >= c[0]).mean()
    assert first == pytest.approx(obf_spent(1 / 3), abs=0.0004)


def test_sequential_test_stops_early_only_past_the_boundary():
    strong = sequential_test([0.30, 0.25, 0.35, 0.28], 1, [0.5, 1.0])
    assert strong.crossed and strong.decision == "reproduced (stopped at look 1)"
    t = 0.295 / (np.std([0.30, 0.25, 0.35, 0.28], ddof=1) / 2)
    assert strong.t == pytest.approx(t)
    assert strong.p == pytest.approx(stats.t.sf(t, 3))
    assert strong.nominal == pytest.approx(1 - stats.norm.cdf(2.9626), abs=1e-5)
    # significant at 0.025 on its own, but not past look 1's boundary: continue
    weak = sequential_test([0.10, 0.02, 0.08, 0.05], 1, [0.5, 1.0])
    assert weak.p < 0.025 and not weak.crossed and weak.decision == "continue to look 2"
    # the repeated interval is wider than the plain 95% one
    h95 = stats.t.ppf(0.975, 3) * np.std([0.10, 0.02, 0.08, 0.05], ddof=1) / 2
    assert (weak.hi - weak.lo) / 2 > h95
    final = sequential_test([0.10, 0.02, 0.08, 0.05, 0.07, 0.06, 0.04, 0.09], 2, [0.5, 1.0])
    assert final.crossed and final.decision == "reproduced"


def test_sequential_test_refuses_what_it_cannot_test():
    with pytest.raises(InputError, match="look 3: expected 1..2"):
        sequential_test([0.1, 0.2], 3, [0.5, 1.0])
    with pytest.raises(InputError, match="at least 2"):
        sequential_test([0.1], 1, [0.5, 1.0])
    with pytest.raises(InputError, match="strictly increasing"):
        look_bounds([0.5, 0.5, 1.0])


def test_holm_by_its_definition():
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted: 0.01*4 = 0.04, 0.03*3 = 0.09, 0.04*2 = 0.08 -> 0.09 (monotone), 0.2*1 -> 0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []


def test_omnibus_equals_the_anova_computed_by_scipy():
    groups = [[0.80, 0.81, 0.79], [0.82, 0.84, 0.83, 0.85], [0.80, 0.80, 0.82]]
    o = omnibus(groups)
    ref = stats.f_oneway(*groups)
    assert o.f == pytest.approx(ref.statistic) and o.p == pytest.approx(ref.pvalue)
    assert (o.df_between, o.df_within) == (2, 7)
    pooled = math.sqrt(sum(((np.array(g) - np.mean(g)) ** 2).sum() for g in groups) / 7)
    assert o.pooled_sd == pytest.approx(pooled)
    assert "F(2, 7)" in o.text()
    with pytest.raises(InputError, match="at least 2 arms"):
        omnibus([[0.8, 0.9]])
