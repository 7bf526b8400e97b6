"""Rank fidelity of short runs (`scalesearch fidelity`): on synthetic tables whose early ranking equals the final one,
reverses it, or is biased by cost, then on the committed benchmark study through the command line."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.cli import main_in_process

from scalesearch.analysis.fidelity import MIN_CONFIGS, kendall_rows, rank_fidelity, spearman_rows

REPO = Path(__file__).resolve().parent.parent


def tables(final: list[float], at_epoch, *, epochs: int = 4, macs: list[float] | None = None, repeats: int = 1,
           scores: dict[str, list[float]] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, epochs) of one completed trial per configuration and repeat: val_acc at epoch k is
    `at_epoch(k, i, final[i])` (the last epoch gives `final[i]`), the trial's val_acc its last epoch's."""
    trows, erows = [], []
    number = 0
    for i, fin in enumerate(final):
        for r in range(repeats):
            curve = [fin if k == epochs else at_epoch(k, i, fin) for k in range(1, epochs + 1)]
            trows.append({"number": number, "state": "COMPLETE", "config_key": f"c{i}", "repeat": r,
                          "macs": (macs or list(range(1, len(final) + 1)))[i], "val_acc": curve[-1],
                          **{f"score_{s}": v[i] for s, v in (scores or {}).items()}})
            erows += [{"number": number, "state": "COMPLETE", "config_key": f"c{i}", "epoch": k, "val_acc": v}
                      for k, v in enumerate(curve, start=1)]
            number += 1
    return pd.DataFrame(trows), pd.DataFrame(erows)


FINAL = [0.50 + 0.02 * i for i in range(20)]  # 20 configurations, c19 the best


def test_an_early_ranking_equal_to_the_final_one_is_faithful_from_epoch_1():
    trials, epochs = tables(FINAL, lambda k, i, fin: fin * k / 4)  # every epoch in the final order
    f = rank_fidelity(trials, epochs, n_boot=200)
    ep = f.table[f.table["kind"] == "epoch"]
    assert ep["epoch"].tolist() == [1, 2, 3, 4] and ep["n"].tolist() == [20] * 4
    for col in ("spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi"):
        assert np.allclose(ep[col], 1.0), col
    assert ep["overlap"].tolist() == [10.0] * 4 and ep["top_k"].tolist() == [10] * 4
    assert ep["bias"].isna().all()  # nobody changes rank: no bias to measure
    assert f.faithful_epoch == 1 and f.final_epoch == 4 and f.n_configs == 20
    text = f.text("eq")
    assert "faithful epoch: 1 of 4 (rho +1.000 >= 0.95: 25% of the budget)" in text
    assert "tolerance 0.05" in text and "K = 10" in text
    assert [ln.split()[:2] for ln in text.splitlines() if ln.startswith("epoch ")] == \
        [["epoch", str(k)] for k in range(1, 5)]


def test_a_reversed_early_ranking_gives_minus_one_and_only_the_final_epoch_is_faithful():
    trials, epochs = tables(FINAL, lambda k, i, fin: 1.0 - fin if k <= 2 else fin * 0.9)
    f = rank_fidelity(trials, epochs, n_boot=200)
    t = f.table.set_index("source")
    for k in ("epoch 1", "epoch 2"):
        assert t.loc[k, "spearman"] == pytest.approx(-1.0) and t.loc[k, "kendall"] == pytest.approx(-1.0)
        assert t.loc[k, "spearman_hi"] == pytest.approx(-1.0)  # every draw reversed too
        assert t.loc[k, "overlap"] == 0  # the 10 best early are the 10 worst at the end
    assert t.loc["epoch 3", "spearman"] == pytest.approx(1.0)
    assert f.faithful_epoch == 3  # the first epoch within 0.05 of 1
    f2 = rank_fidelity(*tables(FINAL, lambda k, i, fin: 1.0 - fin), n_boot=50)  # reversed until the very end
    assert f2.faithful_epoch == 4
    assert "faithful epoch: 4 of 4, the final epoch only: no shorter run ranks within 0.05 of it" in f2.text()
    # the tolerance decides: rho of epoch 3 below 1 by a little is faithful only with a looser tolerance
    swap = tables(FINAL, lambda k, i, fin: fin + (0.021 if (k == 3 and i % 5 == 0) else 0))  # 4 near-swaps
    rho3 = rank_fidelity(*swap, n_boot=20).table.set_index("source").loc["epoch 3", "spearman"]
    assert 0.99 < rho3 < 1.0
    assert rank_fidelity(*swap, n_boot=20, tol=0.0).faithful_epoch == 1  # epochs 1, 2 are exact
    strict = rank_fidelity(*tables(FINAL, lambda k, i, fin: fin + (0.021 if i % 5 == 0 else 0)), n_boot=20, tol=0.0)
    assert strict.faithful_epoch == 4
    assert rank_fidelity(*tables(FINAL, lambda k, i, fin: fin + (0.021 if i % 5 == 0 else 0)), n_boot=20,
                         tol=1 - rho3 + 1e-9).faithful_epoch == 1


def cost_biased(sign: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Final accuracy independent of cost; early accuracy penalises (sign +1) or favours (-1) costly models,
    less each epoch."""
    rng = np.random.default_rng(3)
    final = rng.permutation(FINAL).tolist()
    macs = [1e6 * 1.5 ** i for i in range(20)]
    return tables(final, lambda k, i, fin: fin - sign * 0.03 * i * (4 - k) / 4, macs=macs)


def test_an_early_ranking_that_penalises_costly_models_has_a_positive_cost_bias():
    f = rank_fidelity(*cost_biased(+1.0), n_boot=300)
    ep = f.table[f.table["kind"] == "epoch"].set_index("epoch")
    for k in (1, 2):
        assert ep.loc[k, "bias"] > 0.7 and ep.loc[k, "bias_lo"] > 0, ep.loc[k]
    assert math.isnan(ep.loc[4, "bias"])
    text = f.text()
    assert "positive = costly models ranked too low early" in text
    assert "cost bias: biased AGAINST costly models at epochs 1, 2, 3" in text
    favoured = rank_fidelity(*cost_biased(-1.0), n_boot=300)
    fe = favoured.table[favoured.table["kind"] == "epoch"].set_index("epoch")
    assert fe.loc[1, "bias"] < -0.7 and fe.loc[1, "bias_hi"] < 0
    assert "biased TOWARDS costly models at epoch" in favoured.text()
    neutral = rank_fidelity(*tables(FINAL, lambda k, i, fin: fin * k / 4), n_boot=50)
    assert "cost bias: no epoch's interval excludes 0" in neutral.text()


def test_repeats_are_averaged_and_only_completed_trials_that_reached_epoch_k_count():
    # two repeats per configuration: each repeat alone reverses half the order, their mean keeps it
    trials, epochs = tables(FINAL[:8], lambda k, i, fin: fin * k / 3, epochs=3, repeats=2)
    epochs.loc[(epochs["number"] % 2 == 0) & (epochs["epoch"] == 1), "val_acc"] += \
        np.where(epochs.loc[(epochs["number"] % 2 == 0) & (epochs["epoch"] == 1), "number"] < 8, 0.3, 0)
    epochs.loc[(epochs["number"] % 2 == 1) & (epochs["epoch"] == 1), "val_acc"] -= \
        np.where(epochs.loc[(epochs["number"] % 2 == 1) & (epochs["epoch"] == 1), "number"] < 8, 0.3, 0)
    f = rank_fidelity(trials, epochs, n_boot=50)
    assert f.n_configs == 8 and f.table.loc[0, "spearman"] == pytest.approx(1.0)
    # a failed trial with absurd values, and a running one, change nothing
    bad_t = pd.DataFrame([{"number": 99, "state": "FAILED", "config_key": "c0", "macs": 1, "val_acc": 0.99},
                          {"number": 98, "state": "RUNNING", "config_key": "cx", "macs": 1, "val_acc": math.nan}])
    bad_e = pd.DataFrame([{"number": n, "state": s, "config_key": c, "epoch": 1, "val_acc": 0.99}
                          for n, s, c in ((99, "FAILED", "c0"), (98, "RUNNING", "cx"))])
    g = rank_fidelity(pd.concat([trials, bad_t]), pd.concat([epochs, bad_e]), n_boot=50)
    pd.testing.assert_frame_equal(g.table, f.table)
    # two configurations stopped recording after epoch 1: they count at epoch 1 only
    short = epochs[~((epochs["config_key"].isin(["c0", "c1"])) & (epochs["epoch"] >= 2))]
    h = rank_fidelity(trials, short, n_boot=50)
    assert h.table.loc[h.table["kind"] == "epoch", "n"].tolist() == [8, 6, 6]


def test_too_few_configurations_give_no_number_and_say_so():
    trials, epochs = tables(FINAL[:4], lambda k, i, fin: fin * k / 3, epochs=3, scores={"naswot": [1, 2, 3, 4]})
    f = rank_fidelity(trials, epochs, n_boot=50)
    assert f.table["too_few"].all() and f.table[["spearman", "kendall", "overlap", "bias"]].isna().all().all()
    text = f.text("small")
    assert f"4 configurations: a rank correlation needs at least {MIN_CONFIGS}" in text
    assert "(epochs 1-3, 1 training-free score)" in text
    assert "+" not in text.split("needs at least")[1] and "rho +" not in text
    # enough configurations overall, too few at one epoch: that row says so and prints no number
    trials, epochs = tables(FINAL[:6], lambda k, i, fin: fin * k / 3, epochs=3)
    epochs = epochs[~((epochs["config_key"].isin(["c0", "c1"])) & (epochs["epoch"] == 2))]
    line = next(ln for ln in rank_fidelity(trials, epochs, n_boot=50).text().splitlines() if ln.startswith("epoch 2"))
    assert line.split()[2] == "4" and "needs at least 5 configurations: no number" in line and "+" not in line
    assert "top-10 n/a: 10 or fewer configurations" in rank_fidelity(trials, epochs, n_boot=50).text()


def test_scores_rank_against_the_final_metric_and_a_loss_ranks_lowest_best():
    s = {"good": FINAL, "bad": [-v for v in FINAL]}
    trials, epochs = tables(FINAL, lambda k, i, fin: fin * k / 4, scores=s)
    t = rank_fidelity(trials, epochs, n_boot=50).table.set_index("source")
    assert t.loc["good", "spearman"] == pytest.approx(1.0) and t.loc["bad", "spearman"] == pytest.approx(-1.0)
    assert t.loc["good", "kind"] == "score" and math.isnan(t.loc["good", "epoch"])
    # val_loss, lower better, not a trial column: the final is each trial's last epoch
    trials, epochs = tables(FINAL, lambda k, i, fin: fin + 0.1 * (4 - k))
    epochs = epochs.rename(columns={"val_acc": "val_loss"})
    loss = rank_fidelity(trials.drop(columns="val_acc"), epochs, metric="val_loss", direction="min", n_boot=50)
    assert np.allclose(loss.table["spearman"], 1.0) and loss.faithful_epoch == 1
    # the overlap compares the K best: lowest loss first (c0..c9), so reversing the direction changes nothing
    assert loss.table["overlap"].tolist() == [10.0] * 4


def test_the_bootstrap_is_seeded_and_the_vectorised_correlations_equal_scipys():
    from scipy.stats import kendalltau, spearmanr

    trials, epochs = cost_biased(+1.0)
    a, b = rank_fidelity(trials, epochs, n_boot=100, seed=1), rank_fidelity(trials, epochs, n_boot=100, seed=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not rank_fidelity(trials, epochs, n_boot=100, seed=2).table.equals(a.table)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, (30, 12)).astype(float), rng.integers(0, 4, (30, 12)).astype(float)  # many ties
    ref_s = [spearmanr(p, q).statistic for p, q in zip(x, y, strict=True)]
    ref_k = [kendalltau(p, q).statistic for p, q in zip(x, y, strict=True)]
    assert np.allclose(spearman_rows(x, y), ref_s, equal_nan=True)
    assert np.allclose(kendall_rows(x, y), ref_k, equal_nan=True)
    assert np.isnan(spearman_rows(np.ones((1, 5)), np.arange(5.0)[None]))[0]


def test_bad_settings_are_refused():
    trials, epochs = tables(FINAL, lambda k, i, fin: fin)
    for kw in ({"top_k": 0}, {"tol": -0.1}, {"n_boot": 0}, {"min_configs": 2}, {"direction": "up"}):
        with pytest.raises(ValueError):
            rank_fidelity(trials, epochs, **kw)


# --------------------------------------------------------------------------------------------------------------
# The command, on the committed benchmark study and a rediscovery study


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return main_in_process(*args, cwd=cwd)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    pytest.importorskip("optuna")
    from scalesearch.search.dumpfile import load_study

    url = f"sqlite:///{tmp_path_factory.mktemp('fidelity')}/r.db"
    load_study(REPO / "results" / "benchmark_proxy" / "first_corner" / "study.jsonl.gz", url)
    load_study(REPO / "results" / "degradation_look1" / "study.jsonl.gz", url)
    return url


def test_the_command_prints_every_epoch_both_coefficients_and_draws_the_figure(db, tmp_path):
    out = tmp_path / "fig" / "fidelity.svg"
    r = cli("fidelity", "benchmark_proxy", "--db", db, "--boot", "200", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "76 configurations" in lines[0] and "final val_acc (epoch 6)" in lines[0]
    assert "tolerance 0.05: epoch k is faithful when rho >= 0.95; top-K overlap with K = 10" in lines[1]
    assert "200 draws, seed 0" in lines[1]
    rows = {ln.split()[0] + (" " + ln.split()[1] if ln.startswith("epoch") else ""): ln for ln in lines
            if ln.startswith(("epoch ", "naswot", "synflow", "snip ", "grad_norm"))}
    assert list(rows) == [f"epoch {k}" for k in range(1, 7)] + ["naswot", "synflow", "snip", "grad_norm"]
    for name, ln in rows.items():  # n, spearman [lo, hi], kendall [lo, hi], top-10, bias
        cells = ln.removeprefix(name).split()
        assert cells[0] == "76" and cells[2].startswith("[") and cells[5].startswith("["), ln
        assert "/10" in cells[7], ln
    assert rows["epoch 6"].split()[3] == "+1.000"
    assert rows["naswot"].split()[2] == "+0.894"  # what `scalesearch scores` reports for it (scores.txt)
    assert rows["epoch 1"].split()[-3].startswith("+")  # the deeper/costlier nets are ranked too low early
    assert "cost bias: biased AGAINST costly models at epochs 1, 2, 3, 4, 5" in r.stdout
    assert lines[-1] == f"figure: {out}" and out.is_file()
    svg = out.read_text()
    assert 'id="fidelity-spearman"' in svg and 'id="fidelity-kendall"' in svg and 'id="fidelity-bias"' in svg
    assert 'id="fidelity-score-naswot"' in svg


def test_the_default_figure_goes_to_a_folder_scalesearch_made_and_an_unmarked_one_is_refused(db, tmp_path):
    r = cli("fidelity", "benchmark_proxy", "--db", db, "--boot", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    made = tmp_path / "results" / "benchmark_proxy"
    assert (made / "fidelity.png").is_file() and (made / ".scalesearch").is_file()
    assert r.stdout.splitlines()[-1] == "figure: results/benchmark_proxy/fidelity.png"
    (tmp_path / "other" / "results" / "benchmark_proxy").mkdir(parents=True)
    r = cli("fidelity", "benchmark_proxy", "--db", db, "--boot", "20", cwd=tmp_path / "other")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not scalesearch's" in r.stderr and not r.stdout


def test_a_study_of_four_configurations_says_a_correlation_needs_five(db, tmp_path):
    r = cli("fidelity", "degradation_look1", "--db", db, "--out", str(tmp_path / "f.png"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[2] == ("4 configurations: a rank correlation needs at least 5; no correlation, "
                                        "overlap or bias is computed (epochs 1-12)")
    assert r.stdout.splitlines()[-1] == "figure: none (no epoch has a rank correlation to draw)"
    assert not (tmp_path / "f.png").exists() and "+0." not in r.stdout


def test_an_unknown_study_or_a_bad_option_is_one_line_with_exit_2(db, tmp_path):
    r = cli("fidelity", "nope", "--db", db, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("scalesearch: error: no study")
    assert "benchmark_proxy" in r.stderr and not (tmp_path / "results").exists()
    for args, msg in ((["--top-k", "0"], "--top-k"), (["--metric", "macs"], "not recorded each epoch"),
                      (["--out", str(tmp_path / "f.txt")], ".png, .svg or .pdf")):
        r = cli("fidelity", "benchmark_proxy", "--db", db, *args, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr
    r = cli("fidelity", "benchmark_proxy", "--db", "foo://x", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown database scheme 'foo'" in r.stderr
    assert not any(tmp_path.iterdir())  # nothing written: no results folder, no database, no figure
    h = cli("fidelity", "--help", cwd=tmp_path).stdout
    assert "(default 0.05)" in h and "(default 10)" in h and "(default 1000)" in h and "at least 5" in h
