"""The rediscovery experiments without training: the page, the B0 -> B7 analysis, the power helpers against
independent arithmetic, the step-2 spec generator and the command's errors (the experiments at toy size, trained
end to end: test_rediscover_toy_looks.py and test_rediscover_toy_steps.py)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scalesearch import rediscover as rd

ROOT = Path(__file__).resolve().parent.parent


def test_the_page_opens_with_the_verdicts_and_keeps_guard_lines_one_link_away(tmp_path):
    import json

    def put(folder, status, findings, notes):
        folder.mkdir(parents=True)
        (folder / "rediscovery.json").write_text(json.dumps({
            "status": status, "wall_seconds": 60.0, "notes": notes, "findings": findings}))

    primary = {"claim": "PRIMARY: plain-56 has a HIGHER training error than plain-20", "paper": "Fig. 1",
               "ours": "o", "verdict": "reproduced", "diff": 0.2, "lo": 0.15, "hi": 0.25, "size": "at least",
               "min_effect": 0.01}
    control = {"claim": "positive control: x", "paper": "p", "ours": "o", "verdict": "passed", "diff": 0.01,
               "lo": 0.005, "hi": 0.02}
    guard = ("degradation_look2 (look 2), plain-56 vs plain-20: not converged: FIRED: #4 still improve train_acc by "
             "more than 0.005")
    put(tmp_path / "degradation_look1", "full", [primary, control],
        ["How to read it: the full-run reading.", guard,
         "degradation_look1 (look 1), plain-56 vs plain-20: not converged: ok: every curve flat"])
    put(tmp_path / "withdrawn" / "rediscover_degradation", "full",
        [{"claim": "c", "ours": "o", "verdict": "reproduced"}], ["withdrawn note"])
    text = rd.write_summary(tmp_path).read_text()
    glance = text[text.index("## At a glance"):text.index("## Not tested")]
    assert "Degradation: plain-56 has a HIGHER training error than plain-20 **(primary)**" in glance
    assert "+20.00 pp [+15.00, +25.00] | **reproduced, at least 1 pp** | curves still rising" in glance
    assert "positive control" not in glance  # controls are in the forest plot and the section, not the glance
    assert "**How to read it:** the full-run reading." in text and "FIRED" not in text
    assert "| plain-56 vs plain-20 (look 2) | fired |" in text  # the final look only, compact
    assert (tmp_path / "rediscovery_forest.png").exists() and "![forest plot](rediscovery_forest.png)" in text
    withdrawn = (tmp_path / "REDISCOVERY_withdrawn.md").read_text()
    assert "withdrawn (was: reproduced)" in withdrawn and "withdrawn note" not in withdrawn + text
    assert f"**Why withdrawn:** {rd.EXPERIMENTS['degradation'].withdrawn}." in withdrawn


def test_the_toy_runs_cover_every_experiment_once():
    from support.toy_rediscover import LOOKS_HALF, STEPS_HALF

    assert sorted(LOOKS_HALF + STEPS_HALF) == sorted(rd.EXPERIMENTS)
    assert {n for n, e in rd.EXPERIMENTS.items() if not e.withdrawn} <= set(LOOKS_HALF)  # the summary test's


def test_b0_b7_table_exact():
    tab = rd.efficientnet_b_table({"paper": rd.PAPER_COEFFICIENTS})
    from scalesearch import nets as arch
    from scalesearch.nets import cost

    assert list(tab["model"]) == [f"B{k}" for k in range(8)]
    b0 = cost.count(arch.PRESETS["efficientnet_b0"]()).macs
    for _, r in tab.iterrows():
        w, d, res, _ = arch.EFFICIENTNET_COEFFICIENTS[r["model"].lower()]
        assert r["phi_d"] == pytest.approx(math.log(d) / math.log(1.2))
        assert r["phi_w"] == pytest.approx(math.log(w) / math.log(1.1))
        assert r["phi_r"] == pytest.approx(math.log(res / 224) / math.log(1.15))
        assert r["macs"] == cost.count(arch.efficientnet(w, d, resolution=res)).macs
        assert r["phi_macs"] == pytest.approx(math.log2(r["macs"] / b0))
        # the least-squares phi minimises the squared log-multiplier residuals
        logs = np.log([d, w, res / 224])
        coefs = np.log([1.2, 1.1, 1.15])
        grid = np.linspace(-1, 9, 100001)
        best = grid[np.argmin(((logs[None] - grid[:, None] * coefs[None]) ** 2).sum(1))]
        assert r["phi_ls"] == pytest.approx(best, abs=1e-3)
    assert tab.iloc[0]["phi_ls"] == 0 and tab.iloc[7]["nominal_x"] == 128


def test_write_b_table(tmp_path):
    md = rd.write_b_table(tmp_path, {"paper": rd.PAPER_COEFFICIENTS, "other": (1.3, 1.05, 1.2)})
    text = md.read_text()
    assert text.count("| paper (1.2, 1.1, 1.15) | B") == 8 and text.count("| other (1.3, 1.05, 1.2) | B") == 8
    assert (tmp_path / "b0_b7.csv").exists() and (tmp_path / "b0_b7_phi.svg").exists()


def test_power_helpers_against_the_formula():
    from scalesearch.analysis import t_quantile

    for sd, n in ((0.004, 3), (0.01, 8)):
        want = (t_quantile(0.975, n - 1) + t_quantile(0.8, n - 1)) * sd / math.sqrt(n)
        assert rd.detectable_difference(sd, n) == pytest.approx(want)
    n = rd.seeds_needed(0.004, 0.005)
    assert rd.detectable_difference(0.004, n) <= 0.005 < rd.detectable_difference(0.004, n - 1)
    assert math.isnan(rd.detectable_difference(0.004, 1))


def test_committed_step2_specs_are_the_generator_output():
    """The committed step-2 specs are exactly what `--write-spec` writes, from the coefficients and source their
    header names (step 1's found coefficients after its full run, the paper's before)."""
    for pilot in (False, True):
        path = ROOT / rd.EXPERIMENTS["efficientnet-step2"].spec_files(pilot)[0]
        text = path.read_text()
        src = re.search(r"--write-spec` from (.+?): alpha, beta", text.replace("\n# ", " ")).group(1)
        a, b, g = map(float, re.search(r"alpha, beta, gamma = ([\d.]+), ([\d.]+), ([\d.]+)\.", text).groups())
        assert src in ("the paper's coefficients (no full step-1 run yet)", "experiment 1's found coefficients")
        assert text == rd.step2_spec_text(a, b, g, pilot=pilot, source=src)


def test_step2_arm_identical_to_compound_is_not_testable_not_missing():
    """Found coefficients (1, 1, 1.414) make compound scaling resolution-only scaling: the two points are one
    network, trained once, and the claim says so instead of 'not run'; the paper's coefficients give no such pair."""
    from scalesearch.rediscover.efficientnet import _step2_arms

    arms, same = _step2_arms(rd.step2_spec_text(1.0, 1.0, 1.41421, phis=(1, 2, 3), single_phis=(1, 2)))
    assert same == {("resolution", 1), ("resolution", 2)}
    assert ("compound", 3) in arms and ("depth", 3) not in arms and ("depth", 2) in arms  # phi 3: compound only
    assert _step2_arms(rd.step2_spec_text(phis=(1, 2)))[1] == set()
    assert _step2_arms("not: [a spec") == (set(), set())


def test_step2_notes_name_the_arms_below_b0_and_the_arm_that_is_compound():
    import pandas as pd

    from scalesearch.rediscover.efficientnet import _step2_notes

    agg = pd.DataFrame([{"strategy": "depth", "phi": 1, "mean": 0.60, "lo": 0.55, "hi": 0.65},
                        {"strategy": "width", "phi": 1, "mean": 0.72, "lo": 0.66, "hi": 0.78},  # overlaps B0
                        {"strategy": "compound", "phi": 1, "mean": 0.50, "lo": 0.40, "hi": 0.60}])
    notes = _step2_notes(agg, {("resolution", 1)}, 0.74, 6)
    assert len(notes) == 2 and "'compound' here is resolution-only scaling" in notes[0]
    assert "depth-only at phi 1 (60.0 % [55.0, 65.0]) trains below the unscaled B0 (74.0 %)" in notes[1]
    assert "width-only" not in notes[1] and "at 6 epochs" in notes[1]
    assert _step2_notes(agg, set(), 0.50, 6) == []


def test_every_experiment_spec_validates():
    from scalesearch.spec import check_space, load_spec

    for exp in rd.EXPERIMENTS.values():
        for pilot in (False, True) if exp.pilot else (False,):
            for spec in exp.spec_files(pilot):
                rep = check_space(load_spec(str(ROOT / spec)))
                assert rep.feasible > 0, spec


def test_cli_parser_and_unknown_experiment():
    import argparse

    from scalesearch.cli.rediscover import add_commands

    p = argparse.ArgumentParser()
    add_commands(p.add_subparsers())
    a = p.parse_args(["rediscover", "degradation", "--pilot", "--db", "x.db"])
    assert a.experiment == "degradation" and a.pilot and a.db == "x.db"
    with pytest.raises(ValueError, match="experiment 'nope'"):
        rd.analyse("nope")
    with pytest.raises(SystemExit):
        p.parse_args(["rediscover", "nope"])


def test_an_experiment_without_a_pilot_says_so(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scalesearch", "rediscover", "degradation-residual", "--pilot",
                        "--run", "--db", str(tmp_path / "r.db")], capture_output=True, text=True, timeout=120,
                       cwd=ROOT, check=False)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "--pilot: experiment degradation-residual has no pilot" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["b0-b7"], ["efficientnet-step2", "--write-spec"]])
def test_a_db_url_that_cannot_be_opened_is_one_line_for_the_modes_that_read_it_if_present(tmp_path, argv):
    r = subprocess.run([sys.executable, "-m", "scalesearch", "rediscover", *argv, "--db", "foo://x",
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       check=False)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "--db foo://x: unknown database scheme 'foo'" in r.stderr
    assert list(tmp_path.iterdir()) == []
