"""The rediscovery experiments at toy size, second half: EfficientNet's withdrawn steps 1 and 2 and the withdrawn
ResNeXt studies, end to end through the real engine, the report and the verdicts (tests/support/toy_rediscover.py;
the other half is test_rediscover_toy_looks.py)."""

from __future__ import annotations

import math

import pytest
from support.toy_rediscover import STEPS_HALF, check_end_to_end

from scalesearch import rediscover as rd

EXPERIMENTS = STEPS_HALF  # what the `toy_db` fixture (conftest.py) trains for this file


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_end_to_end_through_report_and_verdict(toy_db, experiment):
    check_end_to_end(toy_db, experiment)


def test_resnext_regime_change_is_a_paired_interaction_over_seeds(toy_db):
    """(cardinality - depth) at the long training minus at the short one, per seed, with a t interval."""
    from scalesearch.analysis import t_quantile
    from scalesearch.results import load_trials

    db, studies, folder = toy_db
    o = rd.analyse("resnext", db, studies=studies["resnext"], out_root=folder / "results")
    t = load_trials(db, studies["resnext"][0])
    t = t[t.state == "COMPLETE"]
    w = t.pivot_table(index="seed", columns=["grow", "epochs"], values="val_acc")
    x = ((w[("cardinality", 2)] - w[("depth", 2)]) - (w[("cardinality", 1)] - w[("depth", 1)])).to_numpy()
    h = t_quantile(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    f = next(f for f in o.findings if f.claim.startswith("the training length changes cardinality - depth"))
    assert (f.diff, f.lo, f.hi) == pytest.approx((x.mean(), x.mean() - h, x.mean() + h))
    assert f.n_seeds == 2 and f.verdict == ("reproduced" if f.lo > 0 or f.hi < 0 else "not reproduced"
                                            if -0.005 < f.lo and f.hi < 0.005 else "inconclusive")
