"""The read side as pandas, on databases written through the store's own writer (tests/support/results_db.py)."""

from __future__ import annotations

import hashlib
import math
import sqlite3

import numpy as np
import pytest
import sqlalchemy as sa
from support.results_db import write_study

from scalesearch import analysis as an
from scalesearch import results
from scalesearch.results.load import snapshot
from scalesearch.store import Store
from scalesearch.store.models import TrialRow


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Two studies: alpha (2 repeats, one failed repeat, rejected candidates), beta (1 repeat, seed 1)."""
    path = tmp_path_factory.mktemp("results") / "r.db"
    url = f"sqlite:///{path}"
    alpha = write_study(url, "alpha", repeats=2, fail=2)
    beta = write_study(url, "beta", repeats=1, seed=1, fail=None)
    return {"url": url, "path": path, "alpha": alpha, "beta": beta}


def file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_trials_one_row_per_trial_with_every_column(db):
    df = results.load_trials(db["url"], "alpha")
    a = db["alpha"]
    assert len(df) == len(a["completed"]) + len(a["failed"]) + len(a["rejected"])
    assert df["number"].tolist() == sorted(df["number"]) == list(range(len(df)))
    assert list(df.columns[:6]) == ["study", "number", "state", "arch", "family", "point"]
    assert df.attrs["parameters"] == ["n", "width"]
    for col in ("n", "width", "macs", "params", "acts", "val_acc", "test_acc", "seed", "repeat", "node", "wall_s",
                "train_s", "started_at", "finished_at", "config_key", "key", "error", "rejected_by"):
        assert col in df.columns, col
    assert set(df["study"]) == {"alpha"} and set(df["family"]) == {"cifar_resnet"}
    counts = df["state"].value_counts().to_dict()
    assert counts == {"COMPLETE": len(a["completed"]), "FAILED": 1, "REJECTED": len(a["rejected"])}
    done = df[df["state"] == "COMPLETE"].set_index("number")
    for number, values, macs, acc in a["completed"]:
        row = done.loc[number]
        assert (row["n"], row["width"]) == (values["n"], values["width"])
        assert row["macs"] == macs and row["val_acc"] == acc and row["test_acc"] == pytest.approx(acc - 0.01)
        assert row["arch"] == f"n={values['n']} width={values['width']}"
        assert row["train_s"] == 1.5 and row["device"] == "cpu" and row["node"] == "node-a"
    assert df["macs"].dtype == np.int64 and df["n"].dtype == np.int64  # costs print as integers
    failed = df[df["state"] == "FAILED"].iloc[0]
    assert failed["error"].startswith("DivergenceError") and math.isnan(failed["test_acc"])
    rej = df[df["state"] == "REJECTED"]
    assert (rej["rejected_by"] == "macs <= 12 * base_macs").all() and rej["val_acc"].isna().all()
    assert (df["repeat"] <= 1).all() and df.loc[df["state"] != "REJECTED", "seed"].nunique() == 2


def test_several_studies_in_the_order_asked_and_all_by_default(db):
    both = results.load_trials(db["url"], ["beta", "alpha"])
    assert list(dict.fromkeys(both["study"])) == ["beta", "alpha"]
    assert (both.groupby("study", sort=False)["number"].apply(lambda s: s.is_monotonic_increasing)).all()
    every = results.load_trials(db["url"])
    assert list(dict.fromkeys(every["study"])) == ["alpha", "beta"]
    assert len(every) == len(both)
    only = results.load_trials(db["url"], "beta", states={"COMPLETE"})
    assert set(only["state"]) == {"COMPLETE"} and len(only) == len(db["beta"]["completed"])


def test_unknown_study_and_missing_database_are_one_line_errors(db, tmp_path):
    with pytest.raises(LookupError, match=r"no study 'gamma' in .*studies there: alpha, beta"):
        results.load_trials(db["url"], ["alpha", "gamma"])
    missing = tmp_path / "none.db"
    with pytest.raises(FileNotFoundError, match="no database at"):
        results.load_trials(f"sqlite:///{missing}")
    assert not missing.exists()  # the read side never creates a database
    with pytest.raises(ValueError, match="states: unknown state 'DONE'"):
        results.load_trials(db["url"], states=["done"])


def test_empty_database_gives_empty_frames(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    Store(url).close()
    df = results.load_trials(url)
    assert df.empty and list(df.columns) == list(results.TRIAL_COLUMNS)
    assert results.load_epochs(url).empty and results.load_studies(url).empty


def test_load_epochs_learning_curves(db):
    ep = results.load_epochs(db["url"], "alpha")
    a = db["alpha"]
    assert len(ep) == 3 * len(a["completed"]) + 1  # the failed repeat stored one epoch
    assert list(ep.columns) == list(results.EPOCH_COLUMNS)
    first = a["completed"][0]
    one = results.load_epochs(db["url"], "alpha", number=first[0])
    assert one["epoch"].tolist() == [1, 2, 3]
    assert one["val_acc"].iloc[-1] == first[3]
    assert one["val_acc"].is_monotonic_increasing and set(one["state"]) == {"COMPLETE"}
    failed = ep[ep["number"] == a["failed"][0]]
    assert failed["epoch"].tolist() == [1] and set(failed["state"]) == {"FAILED"}
    both = results.load_epochs(db["url"], ["beta", "alpha"])
    assert list(dict.fromkeys(both["study"])) == ["beta", "alpha"]


def test_load_studies(db):
    s = results.load_studies(db["url"]).set_index("study")
    assert s.loc["alpha", "completed"] == len(db["alpha"]["completed"])
    assert s.loc["alpha", "failed"] == 1 and s.loc["beta", "failed"] == 0
    assert s.loc["alpha", "rejected"] == len(db["alpha"]["rejected"])
    assert s.loc["alpha", "objectives"] == "val_acc:max,macs:min" and s.loc["beta", "repeats"] == 1
    assert results.study_objectives(db["url"], "alpha") == {"val_acc": "max", "macs": "min"}


def test_the_read_path_is_read_only(db):
    before = file_digest(db["path"])
    reader = results.open_reader(db["url"])
    try:
        results.load_trials(reader, "alpha")
        results.load_epochs(reader)
        # refused as SQLite's SQLITE_READONLY, told by its error code (its wording is SQLite's)
        with pytest.raises(sa.exc.OperationalError) as e, reader.engine.connect() as conn, conn.begin():
            conn.execute(sa.update(TrialRow).values(val_acc=1.0))
        assert e.value.orig.sqlite_errorcode == sqlite3.SQLITE_READONLY, e.value
        with pytest.raises(sa.exc.OperationalError) as e, snapshot(reader) as (_, conn):
            conn.exec_driver_sql("DELETE FROM scalesearch_trials")
        assert e.value.orig.sqlite_errorcode == sqlite3.SQLITE_READONLY, e.value
    finally:
        reader.close()
    assert file_digest(db["path"]) == before
    con = sqlite3.connect(db["path"])  # the rows are all still there
    total = sum(len(db[s][k]) for s in ("alpha", "beta") for k in ("completed", "failed", "rejected"))
    assert con.execute("SELECT count(*) FROM scalesearch_trials").fetchone()[0] == total
    con.close()


def test_aggregate_collapses_repeats_with_known_statistics(db):
    df = results.load_trials(db["url"], "alpha")
    assert results.aggregate is an.aggregate
    agg = results.aggregate_configs(df)
    assert "n" in agg.columns and "n_complete" in agg.columns  # the parameter n keeps its name
    trained = agg[agg["n_complete"] > 0]
    by_values: dict[tuple, list[float]] = {}
    for _, values, _, acc in db["alpha"]["completed"]:
        by_values.setdefault((values["n"], values["width"]), []).append(acc)
    assert len(trained) == len(by_values)
    for _, r in trained.iterrows():
        accs = by_values[(r["n"], r["width"])]
        assert r["n_complete"] == len(accs) == r["val_acc_n"]
        assert r["val_acc_mean"] == pytest.approx(np.mean(accs))
        if len(accs) == 2:
            se = np.std(accs, ddof=1) / math.sqrt(2)
            assert r["val_acc_se"] == pytest.approx(se)
            assert r["val_acc_hi"] - r["val_acc_mean"] == pytest.approx(12.706204736 * se, rel=1e-6)  # t(0.975, 1)
        else:
            assert r["n_incomplete"] == 1 and math.isnan(r["val_acc_se"])  # the failed repeat is not averaged in
    assert (agg.loc[agg["n_complete"] == 0, "val_acc_mean"].isna()).all()  # rejected: nothing to average


def test_parameter_named_like_a_column_is_prefixed(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    st = Store(url)
    st.create_study(name="clash", spec_text="study: clash", spec_canonical="study: clash", spec_hash="h", seed=0,
                    sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
    st.queue_trial("clash", {"key": "k", "config_key": "k", "parameters": {"seed": 3, "lr": 0.1},
                             "values": {"seed": 3, "lr": 0.1, "grow": "depth"}, "macs": 10, "seed": 99})
    st.finish_trial("clash", "k", "completed", val_acc=0.5)
    st.close()
    df = results.load_trials(url)
    assert df.attrs["parameters"] == ["p_seed", "lr", "grow"]
    assert df.loc[0, "p_seed"] == 3 and df.loc[0, "seed"] == 99 and df.loc[0, "grow"] == "depth"
    assert df.loc[0, "arch"] == "seed=3 lr=0.1" and df.loc[0, "family"] is None


def test_filter_rows_with_the_expression_language(db):
    df = results.load_trials(db["url"])
    got = results.filter_rows(df, "val_acc > 0.93 and width == 8 and study == 'alpha'")
    want = df[(df["val_acc"] > 0.93) & (df["width"] == 8) & (df["study"] == "alpha")]
    assert got["number"].tolist() == want["number"].tolist() and len(got) > 0
    assert results.filter_rows(df, "state == 'REJECTED'")["state"].eq("REJECTED").all()
    # rows without a value in a named column never match (SQL's NULL), whatever the condition says
    assert not results.filter_rows(df, "not (test_acc > 2)")["test_acc"].isna().any()
    assert len(results.filter_rows(df, "started_at >= '2000-01-01'")) == len(df)  # datetimes as ISO text
    assert len(results.filter_rows(df, "log(macs, 10) < 7 and sqrt(n) >= 1")) == (df["macs"] < 1e7).sum()


@pytest.mark.parametrize("expr, message", [
    ("val_ac > 0.9", r"--where: unknown column 'val_ac'; the columns are study, number, state, .*val_acc"),
    ("macs * 2", r"--where: 'macs \* 2' is a number, not a condition"),
    ("__import__('os').system('true')", r"--where: .*not allowed"),
    ("val_acc > 0.9; drop table x", r"--where: invalid syntax"),
    ("arch > 3", r"--where: '>' needs two numbers .* \(in row alpha #0\)"),
    ("macs", r"--where: 'macs' gives 3170624, not true or false"),
])
def test_filter_rows_errors_are_one_line(db, expr, message):
    df = results.load_trials(db["url"])
    with pytest.raises(ValueError, match=message) as e:
        results.filter_rows(df, expr)
    assert "\n" not in str(e.value)


def test_query_pipeline_front_sort_top_columns(db):
    df = results.load_trials(db["url"])
    q = results.query(db["url"], pareto=True)
    for study in ("alpha", "beta"):
        d = df[df["study"] == study]
        assert set(q.loc[q["study"] == study, "number"]) == set(
            d.loc[an.pareto_mask(d, {"val_acc": "max", "macs": "min"}), "number"])
    assert q.groupby("study", sort=False)["macs"].apply(lambda s: s.is_monotonic_increasing).all()
    top = results.query(db["url"], "alpha", sort="val_acc", top=2, columns="number,val_acc")
    best = df[df["study"] == "alpha"].nlargest(2, "val_acc")
    assert list(top.columns) == ["number", "val_acc"] and top["number"].tolist() == best["number"].tolist()
    asc = results.query(db["url"], "alpha", sort="val_acc:asc,number", where="state == 'COMPLETE'")
    assert asc["val_acc"].is_monotonic_increasing
    agg = results.query(db["url"], "alpha", aggregate_repeats=True, pareto=True)
    assert agg["n_complete"].ge(1).all() and "val_acc_mean" in agg.columns
    single = results.query(db["url"], "alpha", pareto=True, objectives={"val_acc": "max"})
    assert len(single) == 1 and single["val_acc"].iloc[0] == df.loc[df["study"] == "alpha", "val_acc"].max()
    with pytest.raises(ValueError, match="--sort: unknown column 'accuracy'; the columns are"):
        results.query(db["url"], sort="accuracy")
    with pytest.raises(ValueError, match="--columns: unknown column 'x'"):
        results.query(db["url"], columns=["number,x"])


def test_postgres_read_side_is_read_only(postgres):
    url = postgres.create_database("results_read")
    write_study(url, "pg", repeats=1, fail=None)
    df = results.load_trials(url, "pg")
    assert len(df) == 9 and set(df["family"]) == {"cifar_resnet"} and set(df["state"]) == {"COMPLETE", "REJECTED"}
    with pytest.raises(sa.exc.DBAPIError) as e, snapshot(url) as (_, conn):
        conn.exec_driver_sql("DELETE FROM scalesearch_trials")
    # refused as PostgreSQL's read_only_sql_transaction, told by its SQLSTATE (its wording is PostgreSQL's)
    assert getattr(e.value.orig, "sqlstate", None) == "25006", e.value
    assert len(results.load_trials(url, "pg")) == 9
