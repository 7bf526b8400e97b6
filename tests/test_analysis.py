"""Analysis against brute-force references and synthetic data with known answers."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalesearch import analysis as an

# ---------------------------------------------------------------------------------------------------------------
# References


def brute_front(values: np.ndarray, directions) -> np.ndarray:
    """O(n^2) Pareto front: a row is on it unless another row is <= everywhere and < somewhere (NaN rows never)."""
    s = np.array([1.0 if d == "min" else -1.0 for d in directions])
    v = np.asarray(values, dtype=float) * s
    ok = ~np.isnan(v).any(axis=1)
    cand = v[ok]
    out = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero(ok):  # every candidate against every candidate
        out[i] = not np.any(np.all(cand <= v[i], axis=1) & np.any(cand < v[i], axis=1))
    return out


def grid_hypervolume(points, ref) -> int:
    """Hypervolume of integer points (minimisation) by counting the unit cells they dominate."""
    pts = np.asarray(points, dtype=int)
    ref = np.asarray(ref, dtype=int)
    lo = np.minimum(pts.min(axis=0), ref) if len(pts) else ref
    axes = [np.arange(lo[d], ref[d]) for d in range(len(ref))]
    cells = np.array(list(itertools.product(*axes))) if all(len(a) for a in axes) else np.zeros((0, len(ref)))
    if len(cells) == 0 or len(pts) == 0:
        return 0
    covered = np.zeros(len(cells), dtype=bool)
    for p in pts:
        covered |= np.all(cells >= p, axis=1)
    return int(covered.sum())


# ---------------------------------------------------------------------------------------------------------------
# Pareto front


small_points = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.lists(st.integers(0, 5), min_size=k, max_size=k), min_size=0, max_size=60),
        st.lists(st.sampled_from(["min", "max"]), min_size=k, max_size=k)))


@settings(deadline=None)  # no per-example time limit: the verdict is the front, not how fast a busy machine got it
@given(small_points)
def test_front_matches_brute_force_with_ties_and_duplicates(case):
    rows, dirs = case
    v = np.asarray(rows, dtype=float).reshape(len(rows), len(dirs))
    assert an.pareto_mask(v, dirs).tolist() == brute_front(v, dirs).tolist()


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("kind", ["ties", "floats", "anticorrelated", "nan"])
def test_front_matches_brute_force_seeded(k, kind):
    rng = np.random.default_rng(k * 10 + len(kind))
    for n in (0, 1, 2, 5, 50, 400):
        if kind == "ties":
            v = rng.integers(0, 6, size=(n, k)).astype(float)
            v = np.concatenate([v, v[: n // 4]])  # exact duplicates of some rows
        elif kind == "floats":
            v = rng.random((n, k))
        elif kind == "anticorrelated":
            v = rng.random((n, k))
            v = v / v.sum(axis=1, keepdims=True) + rng.integers(0, 2, size=(n, 1)) * 0.1
        else:
            v = rng.integers(0, 8, size=(n, k)).astype(float)
            v[rng.random(v.shape) < 0.05] = np.nan
        dirs = [("min", "max")[i % 2] for i in range(k)]
        assert an.pareto_mask(v, dirs).tolist() == brute_front(v, dirs).tolist()
        assert (~an.pareto_mask(v, dirs)).tolist() == an.is_dominated(v, None, dirs).tolist()


def test_front_handles_infinities_and_negative_zero():
    v = np.array([[0.0, 1.0], [-0.0, 1.0], [-np.inf, 5.0], [1.0, -np.inf], [2.0, 2.0]])
    assert an.pareto_mask(v, ["min", "min"]).tolist() == brute_front(v, ["min", "min"]).tolist()
    assert an.pareto_mask(v, ["min", "min"]).tolist() == [True, True, True, True, False]


def test_dataframe_front_directions_states_and_duplicates():
    df = pd.DataFrame({
        "number": range(8),
        "arch": list("abcdefgh"),
        "macs": [1e6, 2e6, 2e6, 2e6, 4e6, 4e6, 1e5, np.nan],
        "val_acc": [0.80, 0.85, 0.85, 0.83, 0.85, 0.90, 0.99, 0.99],
        "state": ["COMPLETE"] * 6 + ["FAILED", "COMPLETE"],
    })
    front = an.pareto_front(df)
    assert front["arch"].tolist() == ["a", "b", "c", "f"]  # b and c are exact duplicates: both kept
    assert front.index.tolist() == [0, 1, 2, 5]
    # a failed trial is not a candidate unless asked; then it dominates everything slower
    assert an.pareto_front(df, complete_only=False)["arch"].tolist() == ["g"]
    three = an.pareto_front(df, {"val_acc": "max", "macs": "min", "number": "min"})
    assert three["arch"].tolist() == ["a", "b", "f"]  # c ties b in both but has a larger number


def test_front_same_members_as_optuna_best_trials():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(3)
    vals = rng.integers(0, 5, size=(120, 2)).astype(float)
    vals = np.concatenate([vals, vals[:30]])
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = optuna.distributions.FloatDistribution(0, 1)
    study.add_trials([optuna.trial.create_trial(values=list(v), params={"x": 0.5}, distributions={"x": dist})
                      for v in vals])
    theirs = sorted(t.number for t in study.best_trials)
    ours = np.flatnonzero(an.pareto_mask(vals, ["max", "min"])).tolist()
    assert ours == theirs


def test_front_user_errors():
    df = pd.DataFrame({"macs": [1.0], "val_acc": [0.5]})
    with pytest.raises(ValueError, match="unknown objective 'acc'.*macs, val_acc"):
        an.pareto_front(df, {"acc": "max"})
    with pytest.raises(ValueError, match="direction 'up'"):
        an.pareto_front(df, {"val_acc": "up"})
    with pytest.raises(ValueError, match="directions: 1 given for 2"):
        an.pareto_mask([[1, 2]], ["min"])


def test_front_is_fast_at_100k():
    import time

    rng = np.random.default_rng(0)
    for k in (2, 3):
        v = rng.random((100_000, k))
        v = v / v.sum(axis=1, keepdims=True)  # every point on the front: the hardest case for a sweep
        t0 = time.perf_counter()
        mask = an.pareto_mask(v, ["min"] * k)
        assert time.perf_counter() - t0 < 5.0
        sub = v[:1500]
        assert an.pareto_mask(sub, ["min"] * k).tolist() == brute_front(sub, ["min"] * k).tolist()
        assert mask.sum() > 0


def test_is_dominated_and_dominates():
    rng = np.random.default_rng(1)
    by = rng.integers(0, 6, size=(40, 3)).astype(float)
    pts = rng.integers(0, 6, size=(80, 3)).astype(float)
    dirs = ["max", "min", "min"]
    s = np.array([-1, 1, 1.0])
    expect = [any(np.all(b * s <= p * s) and np.any(b * s < p * s) for b in by) for p in pts]
    assert an.is_dominated(pts, by, dirs, block=64).tolist() == expect
    assert an.dominates([0.9, 1], [0.8, 1], ["max", "min"]) and not an.dominates([0.9, 1], [0.9, 1], ["max", "min"])


# ---------------------------------------------------------------------------------------------------------------
# Hypervolume


def test_hypervolume_hand_computed():
    # 2-D staircase: (1,3), (2,2), (3,1) up to (4,4): 1*1 + 1*2 + 1*3
    assert an.hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == 6.0
    # dominated, duplicate and out-of-reference points change nothing
    assert an.hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [2, 2], [5, 0]], [4, 4]) == 6.0
    # maximise accuracy, minimise MACs: boxes [0.8,0.9]x[2,4] and [0.5,0.8]x[1,4]
    assert an.hypervolume([[0.9, 2.0], [0.8, 1.0]], [0.5, 4.0], ["max", "min"]) == pytest.approx(0.2 + 0.9)
    # 3-D: two boxes 2x2x2 and 1x1x3 (overlap 1x1x2): 8 + 3 - 2
    assert an.hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 3]) == 9.0
    # 3-D: a unit cube and the same with a corner removed
    assert an.hypervolume([[0, 0, 0]], [1, 1, 1]) == 1.0
    assert an.hypervolume([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]], [1, 1, 1]) == pytest.approx(1 - 0.125)
    assert an.hypervolume(np.zeros((0, 3)), [1, 1, 1]) == 0.0
    assert an.hypervolume([[2.0]], [5.0]) == 3.0


@pytest.mark.parametrize("k", [2, 3])
def test_hypervolume_matches_cell_counting(k):
    rng = np.random.default_rng(k)
    for _ in range(25):
        pts = rng.integers(0, 7, size=(int(rng.integers(1, 25)), k))
        ref = [7] * k
        assert an.hypervolume(pts, ref) == grid_hypervolume(pts, ref)
        # directions: maximising the negated points is the same volume
        assert an.hypervolume(-pts, [-7] * k, ["max"] * k) == grid_hypervolume(pts, ref)


def test_hypervolume_matches_optuna():
    pytest.importorskip("optuna")
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(5)
    for k in (2, 3):
        pts = rng.random((300, k))
        ref = np.full(k, 1.1)
        front = pts[an.pareto_mask(pts, ["min"] * k)]
        assert an.hypervolume(pts, ref) == pytest.approx(compute_hypervolume(front, ref), rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Repeats


@pytest.mark.parametrize("p,df,expected", [
    (0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 5, 2.5706), (0.975, 10, 2.2281), (0.975, 30, 2.0423),
    (0.95, 3, 2.3534), (0.995, 4, 4.6041), (0.025, 7, -2.3646), (0.975, 1000, 1.9623)])
def test_t_quantile_matches_tables(p, df, expected):
    assert an.t_quantile(p, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_at_infinite_df_is_the_normal_and_bad_arguments_are_refused():
    assert an.t_quantile(0.975, math.inf) == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-12)
    assert an.t_quantile(0.5, 3) == 0.0
    for p, df in ((0.0, 3), (1.0, 3), (0.9, 0), (0.9, -1)):
        with pytest.raises(ValueError):
            an.t_quantile(p, df)


def test_aggregate_against_hand_computation():
    df = pd.DataFrame({
        "study": "s", "config_key": ["k1", "k1", "k1", "k2", "k2", "k3", "k1"],
        "number": range(7), "seed": [0, 1, 2, 0, 1, 0, 3], "arch": ["A", "A", "A", "B", "B", "C", "A"],
        "macs": [10, 10, 10, 20, 20, 30, 10], "depth": [2, 2, 2, 4, 4, 6, 2],
        "val_acc": [0.70, 0.74, 0.78, 0.80, np.nan, 0.9, 0.1],
        "test_acc": [0.69, 0.73, 0.77, 0.79, 0.81, 0.88, 0.1],
        "state": ["COMPLETE"] * 6 + ["FAILED"]})
    out = an.aggregate(df).set_index("config_key")
    assert out.loc["k1", "n"] == 3 and out.loc["k1", "n_incomplete"] == 1
    vals = np.array([0.70, 0.74, 0.78])
    sd = vals.std(ddof=1)
    assert out.loc["k1", "val_acc_mean"] == pytest.approx(0.74)
    assert out.loc["k1", "val_acc_std"] == pytest.approx(sd)
    assert out.loc["k1", "val_acc_se"] == pytest.approx(sd / math.sqrt(3))
    assert out.loc["k1", "val_acc_hi"] == pytest.approx(0.74 + 4.302653 * sd / math.sqrt(3), rel=1e-6)
    assert out.loc["k1", "val_acc_lo"] == pytest.approx(0.74 - 4.302653 * sd / math.sqrt(3), rel=1e-6)
    # a NaN metric is not counted; one value has no interval
    assert out.loc["k2", "val_acc_n"] == 1 and np.isnan(out.loc["k2", "val_acc_lo"])
    assert out.loc["k2", "test_acc_n"] == 2 and out.loc["k2", "test_acc_mean"] == pytest.approx(0.80)
    # constant columns are carried, varying per-trial ones dropped
    assert out.loc["k2", "arch"] == "B" and out.loc["k3", "macs"] == 30 and out.loc["k1", "depth"] == 2
    assert "number" not in out.columns and "seed" not in out.columns
    assert list(out.index) == ["k1", "k2", "k3"]
    by_two = an.aggregate(df, by=["arch", "macs"], metrics=["val_acc"], level=0.9)
    assert by_two["val_acc_hi"].iloc[0] == pytest.approx(0.74 + 2.919986 * sd / math.sqrt(3), rel=1e-6)
    with pytest.raises(ValueError, match="unknown metric 'loss'"):
        an.aggregate(df, metrics=["loss"])


def test_aggregate_count_does_not_collide_with_a_parameter_named_n():
    # quickstart's spec has a parameter n (depth 6n+2): it keeps its values, the count is n_trials
    df = pd.DataFrame({"config_key": ["a", "a", "a", "b"], "n": [5, 5, 5, 7], "val_acc": [0.8, 0.82, 0.84, 0.9],
                       "state": "COMPLETE"})
    out = an.aggregate(df).set_index("config_key")
    assert out["n"].tolist() == [5, 7] and out["n_trials"].tolist() == [3, 1]
    assert "n_trials" not in an.aggregate(df.drop(columns="n")).columns  # without a column n the count is n


def test_parameter_columns_prefers_the_recorded_parameters():
    df = pd.DataFrame(columns=["study", "point", "n", "width", "device", "steps", "attempts", "optuna_trial",
                               "rejected_by", "macs", "val_acc"])
    assert an.parameter_columns(df) == ["n", "width"]  # the heuristic knows load_trials' other columns
    df.attrs["parameters"] = ["width", "gone"]
    assert an.parameter_columns(df) == ["width"]  # load_trials' record wins; names not present are dropped


# ---------------------------------------------------------------------------------------------------------------
# Iso-complexity comparisons and verdicts


def test_complexity_bins_are_log_spaced_and_stable():
    b = an.complexity_bins(pd.Series([1e6, 1.7e6, 1.8e6, 9.9e6, 1e7, 0.0], index=list("abcdef")), per_decade=4)
    assert b.index.tolist() == list("abcdef")
    assert b["a"] == b["b"] and b["b"] != b["c"] and b["d"] != b["e"] and pd.isna(b["f"])
    assert b["a"].left == 1e6 and b["e"].left == 1e7
    # the same value falls in the same bin whatever else is binned with it
    assert an.complexity_bins([1.7e6, 1e9], per_decade=4)[0] == b["b"]


def test_match_pairs():
    df = pd.DataFrame({"strategy": ["base"] * 4 + ["deep"] * 2 + ["wide"] * 2,
                       "config_key": ["b1", "b1", "b2", "b2", "d", "d", "w", "w"],
                       "macs": [1e6, 1e6, 2e6, 2e6, 1.9e6, 1.9e6, 3e6, 3e6]})
    m = an.match_pairs(df, "strategy", "base", rtol=0.1)
    assert m.tolist()[:6] == ["b1", "b1", "b2", "b2", "b2", "b2"] and m.iloc[6:].isna().all()
    assert an.match_pairs(df, "strategy", "base", rtol=0.6).iloc[6] == "b2"
    with pytest.raises(ValueError, match="baseline 'x'"):
        an.match_pairs(df, "strategy", "x")


def _arms(rng, n_seeds, diff, noise=0.01, shared=0.02):
    seed_effect = rng.normal(0, shared, n_seeds)  # common to both arms: pairing removes it
    a = 0.9 + diff + seed_effect + rng.normal(0, noise, n_seeds)
    b = 0.9 + seed_effect + rng.normal(0, noise, n_seeds)
    return pd.DataFrame({"arm": ["A"] * n_seeds + ["B"] * n_seeds, "seed": list(range(n_seeds)) * 2,
                         "val_acc": np.concatenate([a, b])})


def test_compare_paired_t_matches_hand_computation():
    df = _arms(np.random.default_rng(0), 6, 0.01)
    r = an.compare(df, "arm", baseline="B", method="t").iloc[0]
    d = df[df.arm == "A"].val_acc.to_numpy() - df[df.arm == "B"].val_acc.to_numpy()
    h = 2.570582 * d.std(ddof=1) / math.sqrt(6)
    assert bool(r.paired) and r.n_pairs == 6
    assert r["diff"] == pytest.approx(d.mean())
    assert (r.lo, r.hi) == pytest.approx((d.mean() - h, d.mean() + h), rel=1e-6)


def test_compare_bootstrap_is_deterministic_and_paired_narrower():
    df = _arms(np.random.default_rng(1), 10, 0.01)
    a = an.compare(df, "arm", baseline="B", seed=7)
    assert a.equals(an.compare(df, "arm", baseline="B", seed=7))
    unpaired = an.compare(df, "arm", baseline="B", paired=False, seed=7).iloc[0]
    paired = a.iloc[0]
    assert paired.paired and not unpaired.paired
    assert paired["diff"] == pytest.approx(unpaired["diff"])
    assert paired.hi - paired.lo < unpaired.hi - unpaired.lo  # the shared seed effect cancels


@pytest.mark.parametrize("method,paired", [("bootstrap", "auto"), ("t", "auto"), ("bootstrap", False),
                                           ("t", False)])
def test_compare_interval_covers_the_truth(method, paired):
    rng = np.random.default_rng(11)
    truth, hits, reps = 0.005, 0, 200
    shared = 0.02 if paired else 0.0  # unpaired data: no seed effect shared by the arms
    for i in range(reps):
        r = an.compare(_arms(rng, 15, truth, shared=shared), "arm", baseline="B", method=method, paired=paired,
                       n_boot=400, seed=i).iloc[0]
        hits += r.lo <= truth <= r.hi
    assert 0.85 <= hits / reps <= 0.99


def test_compare_groups_pairs_and_unpaired_seeds():
    df = pd.DataFrame({
        "bin": ["x"] * 6 + ["y"] * 5,
        "arm": ["depth", "depth", "width", "width", "card", "card", "depth", "depth", "width", "width", "width"],
        "seed": [0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 4],
        "val_acc": [0.80, 0.82, 0.81, 0.84, 0.85, 0.86, 0.7, 0.72, 0.8, 0.81, 0.79]})
    out = an.compare(df, "arm", by="bin")
    assert out[["bin", "arm", "baseline"]].values.tolist() == [
        ["x", "depth", "width"], ["x", "depth", "card"], ["x", "width", "card"], ["y", "depth", "width"]]
    assert out.paired.tolist() == [True, True, True, False]
    assert out["diff"].iloc[3] == pytest.approx(0.71 - 0.80)
    by_series = an.compare(df, "arm", baseline="depth", by=df["bin"].rename("level"))
    assert by_series["level"].tolist() == ["x", "x", "y"]
    with pytest.raises(ValueError, match="'n' clashes"):
        an.compare(df.rename(columns={"bin": "n"}), "arm", by="n")
    single = an.compare(df[df.seed == 0], "arm", baseline="depth")
    assert single.lo.isna().all()  # one seed per arm: no interval


def test_verdict_rules():
    assert an.verdict((0.01, 0.002, 0.018), 0.005).label == "reproduced"
    assert an.verdict((0.001, -0.001, 0.003), 0.005).label == "not reproduced"  # rules out 0.005
    assert an.verdict((-0.02, -0.03, -0.01), 0.005).label == "not reproduced"  # the other way round
    assert an.verdict((0.0, -0.01, 0.01), 0.005).label == "inconclusive"
    assert an.verdict((math.nan, math.nan), 0.005).label == "inconclusive"
    # claim "less" (e.g. error goes down): -0.01 [-0.018, -0.002] reproduces
    v = an.verdict({"diff": -0.01, "lo": -0.018, "hi": -0.002}, 0.005, claim="less")
    assert v.label == "reproduced" and v.diff == 0.01 and (v.lo, v.hi) == (0.002, 0.018)
    # detectable: half-width 0.01 at 95% -> se 0.0051; (1.96 + 0.8416) * se
    assert an.verdict((-0.01, 0.01), 0.0).detectable == pytest.approx((1.959964 + 0.841621) * 0.01 / 1.959964)
    assert "inconclusive" in str(an.verdict((-0.01, 0.01), 0.005))
    table = an.verdicts(pd.DataFrame({"diff": [0.01], "lo": [0.002], "hi": [0.018], "ci_level": [0.9]}), 0.005)
    assert table.verdict.tolist() == ["reproduced"]
    with pytest.raises(ValueError, match="min_effect"):
        an.verdict((0, 1), -1)


# ---------------------------------------------------------------------------------------------------------------
# EDFs


def test_edf_exact_and_weighted():
    _, f = an.edf([0.3, 0.1, 0.2, 0.2, np.nan], grid=[0.0, 0.1, 0.15, 0.2, 0.3, 1.0])
    assert f.tolist() == [0.0, 0.25, 0.25, 0.75, 1.0, 1.0]
    _, fw = an.edf([0.1, 0.2], grid=[0.1, 0.2], weights=[3, 1])
    assert fw.tolist() == [0.75, 1.0]


def test_error_edf_from_trials_with_complexity_weights_and_range():
    df = pd.DataFrame({"macs": [1e6, 1.1e6, 1.2e6, 1e8], "val_acc": [0.9, 0.8, 0.7, 0.6],
                       "state": ["COMPLETE"] * 4})
    e = an.error_edf(df, n_boot=0)
    assert e.error.round(6).tolist() == [0.1, 0.2, 0.3, 0.4] and e.edf.tolist() == [0.25, 0.5, 0.75, 1.0]
    w = an.error_edf(df, weights="complexity", n_boot=0)
    assert w.edf.round(6).tolist() == [round(1 / 6, 6), round(2 / 6, 6), 0.5, 1.0]  # the 1e8 model weighs 1/2
    r = an.error_edf(df, complexity_range=(0, 2e6), n_boot=0)
    assert r.attrs["n"] == 3 and r.edf.iloc[-1] == 1.0
    with pytest.raises(ValueError, match="complexity"):
        an.error_edf([0.1, 0.2], weights="complexity")


def test_error_edf_band_covers_the_true_cdf():
    rng = np.random.default_rng(2)
    grid, hits, reps = np.array([0.3]), 0, 200
    for i in range(reps):
        e = an.error_edf(rng.random(100), grid=grid, n_boot=300, seed=i)
        hits += e.lo.iloc[0] <= 0.3 <= e.hi.iloc[0]  # uniform errors: F(0.3) = 0.3
    assert 0.88 <= hits / reps <= 0.99
    a = an.error_edf(rng.random(50), n_boot=100, seed=3)
    assert (a.lo <= a.edf + 1e-12).all() and (a.edf <= a.hi + 1e-12).all()


def test_error_edf_is_deterministic():
    v = np.random.default_rng(4).random(80)
    assert an.error_edf(v, seed=1, n_boot=50).equals(an.error_edf(v, seed=1, n_boot=50))


# ---------------------------------------------------------------------------------------------------------------
# Scaling laws


def test_power_law_recovers_a_known_exponent_with_noise():
    rng = np.random.default_rng(0)
    x = np.repeat(np.logspace(5, 9, 12), 3)
    err = 3.0 * x ** -0.3 * np.exp(rng.normal(0, 0.03, len(x)))
    p = an.fit_power_law(x, err)
    assert p.b == pytest.approx(-0.3, abs=0.02) and p.c == 0.0 and not p.offset
    assert p.rmse == pytest.approx(0.03, rel=0.35)


def test_power_law_with_offset_recovers_the_irreducible_error():
    rng = np.random.default_rng(1)
    x = np.logspace(5, 10, 20)
    err = 40.0 * x ** -0.35 + 0.05
    p = an.fit_power_law(x, err * np.exp(rng.normal(0, 0.002, len(x))), offset=True)
    assert p.b == pytest.approx(-0.35, abs=0.03)
    assert p.c == pytest.approx(0.05, abs=0.004)
    assert np.allclose(p.predict(x), err, rtol=0.02)
    exact = an.fit_power_law(x, err, offset=True)
    assert (exact.a, exact.b, exact.c) == pytest.approx((40.0, -0.35, 0.05), rel=1e-4)
    with pytest.raises(ValueError, match="at least 4"):
        an.fit_power_law(x[:3], err[:3], offset=True)


def test_power_law_offset_stays_at_zero_on_a_pure_power_law_and_is_a_local_minimum():
    x = np.logspace(5, 9, 8)
    for b in (-0.1, -0.25, -0.5):
        p = an.fit_power_law(x, 3.0 * x ** b, offset=True)
        assert p.c == 0.0 and (p.a, p.b) == pytest.approx((3.0, b), rel=1e-9) and p.rmse < 1e-12
    rng = np.random.default_rng(2)
    err = (5.0 * x ** -0.3 + 0.02) * np.exp(rng.normal(0, 0.05, len(x)))
    p = an.fit_power_law(x, err, offset=True)

    def sse(a: float, b: float, c: float) -> float:
        return float(np.sum((np.log(a * x ** b + c) - np.log(err)) ** 2))

    best = sse(p.a, p.b, p.c)
    assert best == pytest.approx(p.rmse ** 2 * len(x), rel=1e-9)
    for da, db, dc in itertools.product((-1e-4, 0, 1e-4), repeat=3):
        if p.c + dc >= 0:
            assert sse(p.a * (1 + da), p.b + db, p.c + dc) >= best - 1e-12


@pytest.mark.parametrize("offset", [False, True])
def test_power_law_prediction_interval_covers_a_held_out_point_at_its_level(offset):
    # the true law with log-normal noise; fit on the small models, predict the largest: over 400 seeded draws the
    # 95% prediction interval holds the new observation 95% of the time (binomial SD 1.1 pp)
    rng = np.random.default_rng(3)
    x = np.logspace(6, 8, 7 if offset else 6)
    law = (lambda v: 0.05 + 2.0 * v ** -0.2) if offset else (lambda v: 2.0 * v ** -0.2)
    sd = 0.01 if offset else 0.03
    hits = []
    for _ in range(400):
        err = law(x) * np.exp(rng.normal(0, sd, len(x)))
        p = an.fit_power_law(x[:-1], err[:-1], offset=offset)
        lo, hi = p.interval(x[-1])
        assert lo[0] < p.predict(x[-1]) < hi[0]
        hits.append(lo[0] <= err[-1] <= hi[0])
    assert 0.92 <= np.mean(hits) <= 0.98
    assert p.dof == len(x) - 1 - (3 if offset else 2)


def test_power_law_interval_is_nan_without_degrees_of_freedom():
    x = np.array([1e6, 1e7])
    p = an.fit_power_law(x, 3.0 * x ** -0.3)
    assert p.dof == 0 and all(np.isnan(v).all() for v in p.interval(1e8))


def test_fit_scaling_small_to_large_per_group():
    rows = []
    for fam, a, b in (("depth", 2.0, -0.15), ("width", 3.0, -0.25)):
        for phi in range(4):
            macs = 1e6 * 2.0 ** phi
            for seed in range(2):
                rows.append({"family": fam, "phi": phi, "seed": seed, "macs": macs,
                             "val_acc": 1 - a * macs ** b, "state": "COMPLETE"})
    rows.append({"family": "width", "phi": 9, "seed": 0, "macs": 1e9, "val_acc": np.nan, "state": "FAILED"})
    df = pd.DataFrame(rows)
    fit = an.fit_scaling(df, fit_on=df.phi <= 2)
    f = fit.fits.set_index("group")
    assert f.loc["depth", "b"] == pytest.approx(-0.15) and f.loc["width", "a"] == pytest.approx(3.0)
    assert f.loc["depth", "n_fit"] == 6 and f.loc["depth", "n_held_out"] == 2
    assert f.loc["width", "mape_held_out"] == pytest.approx(0.0, abs=1e-9)
    assert fit.points.loc[df.phi == 3].held_out.all() and not fit.points.loc[df.phi < 3].held_out.any()
    assert fit.law("width").predict(8e6) == pytest.approx(3.0 * 8e6 ** -0.25)
    by_fraction = an.fit_scaling(df, fit_on=0.75, by="family")
    assert by_fraction.fits.n_held_out.tolist() == [2, 2]
    # a biased large model: the held-out error shows it
    df.loc[(df.family == "depth") & (df.phi == 3), "val_acc"] -= 0.05
    df["small"] = df.phi <= 2
    off = an.fit_scaling(df, fit_on="small").fits.set_index("group")
    assert off.loc["depth", "mape_held_out"] > 0.1 and off.loc["width", "mape_held_out"] < 1e-9
    with pytest.raises(ValueError, match="fit_on"):
        an.fit_scaling(df, fit_on=1.5)


def test_parameter_columns_and_to_error():
    df = pd.DataFrame(columns=["study", "number", "state", "alpha", "beta", "macs", "params", "acts", "val_acc",
                               "train_loss", "seed", "repeat", "family", "arch", "config_key", "started_at"])
    assert an.parameter_columns(df) == ["alpha", "beta"]
    assert an.to_error([0.25], "test_acc").tolist() == [0.75] and an.to_error([0.3], "val_loss").tolist() == [0.3]


def test_compare_within_complexity_bins_and_matched_pairs():
    rng = np.random.default_rng(8)
    rows = []
    for strategy, macs, gain in (("base", 1.0e6, 0.0), ("base", 2.0e6, 0.01), ("width", 2.1e6, 0.02),
                                 ("depth", 1.9e6, 0.005), ("width", 9.0e6, 0.05)):
        for seed in range(5):
            rows.append({"strategy": strategy, "config_key": f"{strategy}{macs:g}", "macs": macs, "seed": seed,
                         "val_acc": 0.8 + gain + 0.001 * seed + rng.normal(0, 1e-4)})
    df = pd.DataFrame(rows)
    bins = an.complexity_bins(df["macs"], per_decade=4).rename("macs_bin")
    by_bin = an.compare(df, "strategy", baseline="base", by=bins, method="t")
    assert len(by_bin) == 2 and set(by_bin.arm) == {"width", "depth"}
    assert by_bin.set_index("arm").loc["width", "diff"] == pytest.approx(0.01, abs=1e-3)
    assert by_bin.paired.all()
    match = an.match_pairs(df, "strategy", "base", rtol=0.1)
    by_match = an.compare(df, "strategy", baseline="base", by=match, method="t")
    assert by_match[["match", "arm"]].values.tolist() == [["base2e+06", "width"], ["base2e+06", "depth"]]
    v = an.verdicts(by_match, 0.002)
    assert v.set_index("arm").loc["width", "verdict"] == "reproduced"
    assert v.set_index("arm").loc["depth", "verdict"] == "not reproduced"  # depth is worse than the baseline
