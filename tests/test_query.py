"""`query` (cli.results.add_query_arguments / run_query): filters, fronts, every format, on databases written
through the store's writer and by a tiny real search (`scalesearch run` in a subprocess)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from support.results_db import real_search, write_study

from scalesearch import results
from scalesearch.cli.results import add_query_arguments, run_query


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("query") / "q.db"
    url = f"sqlite:///{path}"
    write_study(url, "alpha", repeats=2, fail=2)
    write_study(url, "beta", repeats=1, seed=1, fail=None)
    return url


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scalesearch query")
    add_query_arguments(p)
    return p.parse_args(list(argv))


def query_out(capsys, *argv: str) -> str:
    assert run_query(parse(*argv)) == 0
    return capsys.readouterr().out


def brute_front(df: pd.DataFrame) -> set[tuple[str, int]]:
    """O(n^2) front of each study's COMPLETE trials (max val_acc, min macs), independent of analysis."""
    keep = set()
    for study, d in df[df["state"] == "COMPLETE"].groupby("study"):
        pts = d[["val_acc", "macs"]].to_numpy(dtype=float) * np.array([-1.0, 1.0])
        for i, p in enumerate(pts):
            if not np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)):
                keep.add((study, int(d["number"].iloc[i])))
    return keep


def test_table_is_readable(db, capsys):
    out = query_out(capsys, "alpha", "--db", db)
    lines = out.splitlines()
    assert lines[0].split() == ["study", "number", "state", "arch", "n", "width", "macs", "params", "val_acc",
                                "test_acc", "repeat", "seed"]
    assert set(lines[1]) == {"-", " "}
    df = results.load_trials(db, "alpha")
    assert len(lines) == 2 + len(df)
    first = df.iloc[0]
    assert f"{first['macs']:,}" in lines[2] and f"{first['val_acc']:.4f}" in lines[2] and "COMPLETE" in lines[2]
    rejected = next(line for line in lines if "REJECTED" in line)
    assert rejected.split()[-4:-2] == ["-", "-"]  # no accuracy: "-"


def test_where_sort_top_columns(db, capsys):
    out = query_out(capsys, "--where", "state == 'COMPLETE' and width == 8", "--sort", "val_acc", "--top", "3",
                    "--columns", "study,number", "--columns", "val_acc", "--format", "csv", "--db", db)
    got = pd.read_csv(io.StringIO(out))
    df = results.load_trials(db)
    want = df[(df["state"] == "COMPLETE") & (df["width"] == 8)].sort_values("val_acc", ascending=False).head(3)
    assert list(got.columns) == ["study", "number", "val_acc"]
    assert got["number"].tolist() == want["number"].tolist() and got["val_acc"].tolist() == want["val_acc"].tolist()
    table = query_out(capsys, "--where", "val_acc > 0.95", "--db", db)
    assert table.splitlines()[-1] == f"({(df['val_acc'] > 0.95).sum()} of {len(df)} rows)"
    assert query_out(capsys, "--where", "val_acc > 2", "--db", db) == "no rows match\n"


def test_pareto_is_each_studys_front(db, capsys):
    out = query_out(capsys, "--pareto", "--format", "json", "--db", db)
    rows = json.loads(out)
    df = results.load_trials(db)
    assert {(r["study"], r["number"]) for r in rows} == brute_front(df)
    assert all(r["state"] == "COMPLETE" for r in rows)
    for study in ("alpha", "beta"):
        macs = [r["macs"] for r in rows if r["study"] == study]
        assert macs == sorted(macs)
    single = json.loads(query_out(capsys, "alpha", "--pareto", "--objectives", "val_acc:max", "--format", "json",
                                  "--db", db))
    assert [r["val_acc"] for r in single] == [df.loc[df["study"] == "alpha", "val_acc"].max()]


def test_aggregate(db, capsys):
    out = query_out(capsys, "alpha", "--aggregate", "--format", "csv", "--db", db)
    agg = pd.read_csv(io.StringIO(out))
    for c in ("n", "width", "macs", "n_complete", "n_incomplete", "val_acc_mean", "val_acc_se", "val_acc_lo",
              "val_acc_hi", "val_acc_n"):
        assert c in agg.columns, c
    df = results.load_trials(db, "alpha")
    assert len(agg) == df["config_key"].nunique()
    done = df[df["state"] == "COMPLETE"].groupby("config_key")["val_acc"].mean()
    merged = agg.set_index("config_key")["val_acc_mean"].dropna()
    assert np.allclose(merged.sort_index(), done.sort_index())
    table = query_out(capsys, "alpha", "--aggregate", "--pareto", "--db", db).splitlines()
    assert table[0].split() == ["study", "arch", "n", "width", "macs", "params", "n_complete", "val_acc_mean",
                                "val_acc_se", "val_acc_lo", "val_acc_hi", "test_acc_mean"]


def test_every_format_holds_the_same_rows(db, capsys, tmp_path):
    ref = results.query(db, where="study == 'alpha'")
    csv = pd.read_csv(io.StringIO(query_out(capsys, "--where", "study == 'alpha'", "--format", "csv", "--db", db)))
    records = json.loads(query_out(capsys, "--where", "study == 'alpha'", "--format", "json", "--db", db))
    out = tmp_path / "q.parquet"
    assert query_out(capsys, "--where", "study == 'alpha'", "--format", "parquet", "--out", str(out), "--db", db) == ""
    pq = pd.read_parquet(out)
    for got in (csv, pd.DataFrame(records), pq):
        assert list(got.columns) == list(ref.columns)
        assert got["number"].tolist() == ref["number"].tolist()
        assert np.allclose(got["val_acc"].astype(float), ref["val_acc"], equal_nan=True)
        assert got["macs"].astype("int64").tolist() == ref["macs"].tolist()
        assert got["state"].tolist() == ref["state"].tolist()
    assert records[0]["started_at"] == ref["started_at"].iloc[0].isoformat(timespec="seconds")
    assert any(r["test_acc"] is None for r in records)  # NaN is null in JSON
    assert pq["started_at"].dtype.kind == "M" and pq["macs"].dtype == np.int64
    # parquet to a redirected standard output
    code = ("import sys; from test_query import parse; from scalesearch.cli.results import run_query; "
            f"sys.exit(run_query(parse('alpha', '--format', 'parquet', '--db', {db!r})))")
    piped = tmp_path / "piped.parquet"
    with open(piped, "wb") as f:
        subprocess.run([sys.executable, "-c", code], stdout=f, check=True, cwd=str(tmp_path),
                       env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).parent), "PATH": "/usr/bin"})
    assert pd.read_parquet(piped)["number"].tolist() == results.load_trials(db, "alpha")["number"].tolist()


@pytest.mark.parametrize("argv, message", [
    (["--where", "accuracy > 0.9"], r"^--where: unknown column 'accuracy'; the columns are study, number, state, "),
    (["--where", "val_acc >"], r"^--where: invalid syntax"),
    (["--sort", "acc"], r"^--sort: unknown column 'acc'; the columns are "),
    (["--columns", "study,nope"], r"^--columns: unknown column 'nope'; the columns are "),
    (["--top", "0"], r"^--top: expected an integer >= 1, got 0$"),
    (["--objectives", "val_acc:max"], r"^--objectives: only used with --pareto$"),
    (["--pareto", "--objectives", "val_acc:up"], r"^--objectives: 'val_acc:up' is not COLUMN:max or COLUMN:min"),
    (["--pareto", "--objectives", "acc:max"], r"^--pareto: unknown column 'acc'"),
])
def test_user_errors_are_one_line(db, argv, message):
    with pytest.raises(ValueError, match=message) as e:
        run_query(parse(*argv, "--db", db))
    assert "\n" not in str(e.value)


def test_unknown_study_and_missing_database(db, tmp_path):
    with pytest.raises(LookupError, match=r"no study 'gamma' in .* \(studies there: alpha, beta\)"):
        run_query(parse("gamma", "--db", db))
    with pytest.raises(FileNotFoundError, match="no database at"):
        run_query(parse("--db", str(tmp_path / "none.db")))
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(FileNotFoundError, match="--out .*: no folder"):
        run_query(parse("--format", "csv", "--out", str(tmp_path / "no" / "x.csv"), "--db", db))


def test_query_a_real_search_and_optuna_opens_its_study(tmp_path_factory, ray_session, capsys):
    """`scalesearch run` on synthetic data (subprocess), then query it; Optuna's own API opens the same study."""
    run = real_search(tmp_path_factory.mktemp("real"), ray_session.address)
    url = run["url"]
    df = results.load_trials(url)
    assert set(df["study"]) == {"tiny"} and set(df["state"]) == {"COMPLETE", "REJECTED"}
    assert (df["state"] == "COMPLETE").sum() == 3 and (df["state"] == "REJECTED").sum() == 1
    assert df.loc[df["state"] == "COMPLETE", "val_acc"].between(0, 1).all()
    assert df.loc[df["point"] == "baseline", "arch"].tolist() == ["baseline"]
    rows = json.loads(query_out(capsys, "tiny", "--where", "state == 'COMPLETE' and macs > 0", "--format", "json",
                                "--db", url))
    assert len(rows) == 3 and {r["width"] for r in rows} <= {4, 8}
    front = json.loads(query_out(capsys, "tiny", "--pareto", "--format", "json", "--db", url))
    assert {("tiny", r["number"]) for r in front} == brute_front(df)
    epochs = results.load_epochs(url, "tiny")
    assert epochs.groupby("number")["epoch"].max().tolist() == [2, 2, 2]

    optuna = pytest.importorskip("optuna")
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    by_number = {t.number: t for t in study.trials}
    for _, r in df.iterrows():
        t = by_number[int(r["optuna_trial"])]
        assert t.params == {"n": r["n"], "width": r["width"]}
        if r["state"] == "COMPLETE":
            assert t.state == optuna.trial.TrialState.COMPLETE and t.values == [r["val_acc"], float(r["macs"])]
        else:
            assert t.state == optuna.trial.TrialState.PRUNED
    best = {t.number for t in study.best_trials}
    assert best == {int(n) for n in df.loc[df["number"].isin([x for _, x in brute_front(df)]), "optuna_trial"]}
