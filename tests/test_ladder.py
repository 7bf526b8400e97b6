"""scalesearch.analysis.ladder and `scalesearch fit`: a scaling law per strategy fitted on a ladder's lower steps,
its predictions checked on the steps above with intervals from refits on seeds, on synthetic ladders whose answer
is known (held, missed, not checkable), and the command on a study written through the store."""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import pandas as pd
import pytest

from scalesearch.analysis.ladder import fit_ladder
from scalesearch.errors import InputError

NOISE = (0.0015, -0.001, 0.0005, -0.0012)  # per repeat: the same seed's offset in every arm and step


def ladder(laws: dict, steps=range(4), noise: float = 1.0, saturate: dict | None = None) -> pd.DataFrame:
    """Trials of a ladder: per arm, error = a * macs^b with macs = 2^phi, 4 repeats with seeded offsets."""
    rows = []
    for arm, (a, b) in laws.items():
        for phi in steps:
            macs = 2.0 ** phi
            err = a * macs ** b
            if saturate and arm in saturate and phi >= saturate[arm]:
                err = a * (2.0 ** (saturate[arm] - 1)) ** b  # no gain past this step: the dimension saturates
            for r, e in enumerate(NOISE):
                rows.append({"arm": arm, "phi": phi, "macs": macs, "repeat": r, "state": "COMPLETE",
                             "val_acc": 1 - err + noise * e * (1 + 0.3 * ((phi + r) % 2))})
    return pd.DataFrame(rows)


LAWS = {"compound": (0.30, -0.5), "depth": (0.30, -0.2)}


def test_a_ladder_that_follows_its_laws_is_predicted_and_held():
    f = fit_ladder(ladder(LAWS), by="arm", scale="phi", fit_upto=2, n_boot=300)
    laws = f.laws.set_index("group")
    assert laws.loc["compound", "b"] == pytest.approx(-0.5, abs=0.02) and not laws["offset"].any()
    assert laws.loc["depth", "b"] == pytest.approx(-0.2, abs=0.02)
    checks = f.checks.set_index("group")
    assert list(checks["scale"]) == [3.0, 3.0] and set(checks["verdict"]) == {"held"}
    assert checks.loc["compound", "predicted"] == pytest.approx(1 - 0.3 * 8 ** -0.5, abs=0.003)
    assert (checks["predicted_lo"] <= checks["predicted"]).all() and (checks["predicted"] <= checks["predicted_hi"]).all()
    assert checks["spread"].iloc[0] == pytest.approx(0.3 * (8 ** -0.2 - 8 ** -0.5), abs=0.003)
    assert any(line.endswith(": held") for line in f.lines())


def test_a_dimension_that_saturates_misses_its_prediction():
    f = fit_ladder(ladder(LAWS, saturate={"depth": 3}), by="arm", scale="phi", fit_upto=2, n_boot=300)
    v = f.checks.set_index("group")["verdict"]
    assert v["depth"] == "missed" and v["compound"] == "held"
    depth = f.checks.set_index("group").loc["depth"]
    assert depth["observed"] < depth["predicted_lo"]  # the law promised more accuracy than the step gave


def test_noise_as_wide_as_the_strategies_spread_leaves_the_prediction_not_checkable():
    close = {"compound": (0.30, -0.5), "depth": (0.30, -0.45)}  # 1.2 pp apart at phi = 3
    f = fit_ladder(ladder(close, noise=10.0), by="arm", scale="phi", fit_upto=2, n_boot=300)
    assert ((f.checks["predicted_hi"] - f.checks["predicted_lo"]) >= f.checks["spread"]).all()
    assert set(f.checks["verdict"]) == {"not checkable"}
    one = fit_ladder(ladder({"compound": LAWS["compound"]}), by="arm", scale="phi", fit_upto=2, n_boot=100)
    assert list(one.checks["verdict"]) == ["not checkable"]  # one group: no spread to beat


def test_four_fitted_steps_fit_an_irreducible_error_and_the_bootstrap_is_seeded():
    t = ladder(LAWS, steps=range(6))
    f = fit_ladder(t, by="arm", scale="phi", fit_upto=3, n_boot=200)
    assert f.laws["offset"].all() and list(f.checks["scale"].unique()) == [4.0, 5.0]
    again = fit_ladder(t, by="arm", scale="phi", fit_upto=3, n_boot=200)
    pd.testing.assert_frame_equal(f.checks, again.checks)
    assert not fit_ladder(t, by="arm", scale="phi", fit_upto=3, n_boot=200, offset=False).laws["offset"].any()


def test_a_ladder_the_fit_cannot_use_is_one_clear_error():
    t = ladder(LAWS)
    with pytest.raises(InputError, match="1 step"):
        fit_ladder(t, by="arm", scale="phi", fit_upto=0)
    with pytest.raises(InputError, match="at least 2"):
        fit_ladder(t[t["repeat"] == 0], by="arm", scale="phi", fit_upto=2)
    with pytest.raises(InputError, match="irreducible error needs at least 4"):
        fit_ladder(t, by="arm", scale="phi", fit_upto=2, offset=True)
    with pytest.raises(InputError, match="strategy"):
        fit_ladder(t, by="strategy", scale="phi", fit_upto=2)


def test_the_command_fits_a_stored_ladder(tmp_path):
    from scalesearch.cli import main
    from scalesearch.spec import format_spec, parse_spec
    from scalesearch.store import Store

    spec = """
study: ladder
dataset: {name: synthetic}
architecture: {family: cifar_resnet, args: {width: w}}
parameters: {arm: {choice: [compound, depth]}, phi: {grid: [0, 1, 2, 3]}, w: {fixed: 8}}
search: {sampler: grid, repeats: 4}
"""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with Store(url) as store:
        store.create_study(name="ladder", spec_text=spec, spec_canonical=format_spec(parse_spec(spec)),
                           spec_hash="ladder", seed=0, sampler="grid", objectives=[["val_acc", "max"]], repeats=4,
                           planned=32)
        for i, r in ladder(LAWS).iterrows():
            key = f"k{i}"
            store.queue_trial("ladder", {
                "key": key, "config_key": f"{r['arm']}-{r['phi']}", "parameters": {"arm": r["arm"], "phi": r["phi"]},
                "values": {"arm": r["arm"], "phi": int(r["phi"]), "w": 8}, "macs": int(r["macs"] * 1e6),
                "params": 1000, "acts": 10, "seed": int(r["repeat"]), "repeat": int(r["repeat"]), "point": None})
            store.start_trial("ladder", key)
            store.finish_trial("ladder", key, "completed", epochs=[], val_acc=float(r["val_acc"]),
                               best_val_acc=float(r["val_acc"]))
        store.update_study("ladder", state="finished", finished=dt.datetime(2026, 12, 6), wall_seconds=1.0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["fit", "ladder", "--by", "arm", "--scale", "phi", "--fit-upto", "2", "--boot", "200",
                     "--db", url])
    lines = out.getvalue().splitlines()
    assert code == 0, err.getvalue()
    assert lines[0] == "study ladder: val_acc on a ladder of phi"
    assert sum(line.startswith(("compound at phi = 3", "depth at phi = 3")) and line.endswith(": held")
               for line in lines) == 2
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        code = main(["fit", "ladder", "--by", "arm", "--scale", "phi", "--fit-upto", "0", "--db", url])
    assert code == 2 and err.getvalue().count("\n") == 1 and "at least 2" in err.getvalue()
