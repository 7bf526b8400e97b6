"""Results tools at scale: the Pareto front, hypervolume and the Pareto plot at 100k trials, side by side.

Users of other tools report O(n^2) fronts in dashboards. Here `analysis.pareto_mask` (2-D: sort + running
minimum; 3-D: sort + a staircase sweep) is timed on 100k random points against
  - the naive O(n^2) reference of the tests (every point against every point, vectorised per row), and
  - Optuna's own front (`optuna.study._multi_objective._is_pareto_front`, what `Study.best_trials` runs),
on two point clouds: "uniform" (a small front) and "front" (every point on the front: the worst case for
algorithms whose cost grows with the front). A reference that would take longer than --budget seconds is timed at
the largest subsample that fits, doubling from 1,000 points, and extrapolated to n as O(n^2) (marked "extrap.").
Before timing, the front is checked equal to the naive one on a subsample.

Store-backed (`--part store`): a database of --trials trials (default 100k; 2% failed, 3% rejected, ties in
accuracy) written through the store's own writer (`Store.queue_trial` / `finish_trial` / `add_rejected`, one
transaction per change, as the driver writes), and the same trials written as an Optuna study through Optuna's
own API (`Study.add_trials` on an RDBStorage in the same SQLite file: COMPLETE, FAIL, PRUNED). Timed side by side:
  - loading the trials as a DataFrame: `results.load_trials` vs the obvious path through the store's records
    (`Reader.trials` -> flatten each record) vs Optuna's `load_study(...).trials_dataframe()`;
  - `query --pareto` end to end (`cli.results.run_query`, CSV to /dev/null) vs the obvious path + the naive O(n^2)
    front vs Optuna's `load_study(...).best_trials` (checked equal to ours);
  - the front of the loaded study's (val_acc, macs) vs the naive front vs Optuna's `_is_pareto_front`;
  - a scatter plot of the study to PNG: `plot.plot_pareto` (front + labels) vs a bare matplotlib scatter vs
    Optuna's `visualization.matplotlib.plot_pareto_front`.
Writing 100k trials takes minutes (Optuna's writer most of them), so the database is kept in --db (default
/tmp/scalesearch-bench/results_speed_<trials>.db) and reused when it already holds the study.

    python benchmarks/results_speed.py [--part all|synthetic|store] [--n 100000] [--trials 100000] [--budget 20]
                                       [--repeats 3] [--no-plot] [--db PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalesearch import analysis as an


@dataclass
class Row:
    """One timed method: seconds for n items, whether measured at n or extrapolated from a subsample."""

    task: str
    method: str
    n: int
    seconds: float
    note: str = ""


# Store-backed benchmarks: functions taking the parsed arguments and returning Rows (defined below).
STORE_BENCHMARKS: list[Callable[[argparse.Namespace], list[Row]]] = []


def naive_front(v: np.ndarray) -> np.ndarray:
    """The O(n^2) reference (minimisation): each point against all points, one vectorised row at a time."""
    out = np.zeros(len(v), dtype=bool)
    for i in range(len(v)):
        out[i] = not np.any(np.all(v <= v[i], axis=1) & np.any(v < v[i], axis=1))
    return out


def optuna_front(v: np.ndarray) -> np.ndarray:
    from optuna.study._multi_objective import _is_pareto_front

    return _is_pareto_front(v, assume_unique_lexsorted=False)


def clouds(n: int, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    uniform = rng.random((n, k))
    front = rng.random((n, k)) + 1e-9
    front /= front.sum(axis=1, keepdims=True)  # on the simplex: no point dominates another
    return {"uniform": uniform, "front": front}


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def timed_or_extrapolated(fn: Callable[[np.ndarray], object], v: np.ndarray, budget: float,
                          repeats: int) -> tuple[float, str]:
    """Seconds of fn on all of v, or extrapolated as O(n^2) from the largest subsample that fits the budget."""
    n, m = len(v), 1000
    while True:
        m = min(m, n)
        t = best_of(lambda m=m: fn(v[:m]), 1 if m > 1000 else repeats)
        if m == n:
            return t, ""
        if t * 4 > budget:  # the next doubling would blow the budget
            return t * (n / m) ** 2, f"extrap. from {m:,}"
        m *= 2


def front_rows(n: int, budget: float, repeats: int, with_optuna: bool) -> list[Row]:
    rows = []
    for k in (2, 3):
        for name, v in clouds(n, k).items():
            task = f"front {k}-D {name}"
            sub = v[:2000]
            if not np.array_equal(an.pareto_mask(sub, ["min"] * k), naive_front(sub)):
                raise SystemExit(f"MISMATCH: {task}: analysis.pareto_mask differs from the naive front")
            ours = best_of(lambda v=v, k=k: an.pareto_mask(v, ["min"] * k), repeats)
            size = int(an.pareto_mask(v, ["min"] * k).sum())
            rows.append(Row(task, "analysis.pareto_mask", n, ours, f"front size {size:,}"))
            t, note = timed_or_extrapolated(naive_front, v, budget, repeats)
            rows.append(Row(task, "naive O(n^2)", n, t, note))
            if with_optuna:
                if not np.array_equal(optuna_front(sub), naive_front(sub)):
                    raise SystemExit(f"MISMATCH: {task}: Optuna's front differs from the naive front")
                t, note = timed_or_extrapolated(optuna_front, v, budget, repeats)
                rows.append(Row(task, "optuna _is_pareto_front", n, t, note))
    return rows


def hypervolume_rows(m: int, repeats: int, with_optuna: bool) -> list[Row]:
    """3-D hypervolume of an m-point front (every point on it): the sweep vs Optuna's WFG."""
    v = clouds(m, 3, seed=1)["front"]
    ref = np.full(3, 1.1)
    rows = [Row(f"hypervolume 3-D, {m:,}-point front", "analysis.hypervolume", m,
                best_of(lambda: an.hypervolume(v, ref), repeats))]
    if with_optuna:
        from optuna._hypervolume import compute_hypervolume

        ours, theirs = an.hypervolume(v, ref), compute_hypervolume(v, ref, assume_pareto=True)
        if not np.isclose(ours, theirs, rtol=1e-9):
            raise SystemExit(f"MISMATCH: hypervolume {ours} vs Optuna {theirs}")
        rows.append(Row(rows[0].task, "optuna compute_hypervolume", m,
                        best_of(lambda: compute_hypervolume(v, ref, assume_pareto=True), 1)))
    return rows


def plot_rows(n: int) -> list[Row]:
    """plot_pareto on n trials (front, labels, PNG) vs a bare matplotlib scatter of the same points to PNG."""
    import pandas as pd
    from matplotlib.figure import Figure

    from scalesearch import plot

    rng = np.random.default_rng(2)
    macs = 10 ** rng.uniform(5, 9, n)
    df = pd.DataFrame({"study": "bench", "number": np.arange(n), "state": "COMPLETE",
                       "family": rng.choice(["resnet", "resnext", "wrn", "effnet"], n), "macs": macs,
                       "val_acc": 1 - 0.5 * macs ** -0.1 - rng.uniform(0, 0.05, n)})
    df["arch"] = "a" + df["number"].astype(str)
    with tempfile.TemporaryDirectory() as d:
        def ours() -> None:
            plot.plot_pareto(df, out=Path(d) / "p.png")

        def bare() -> None:
            fig = Figure(figsize=(9, 6))
            ax = fig.subplots()
            ax.scatter(df["macs"], df["val_acc"], s=22)
            ax.set_xscale("log")
            fig.savefig(Path(d) / "b.png", dpi=150)

        # best of 2: the first call also pays matplotlib's one-off imports and font set-up
        return [Row(f"Pareto plot, {n:,} trials to PNG", "plot.plot_pareto (front + labels)", n, best_of(ours, 2)),
                Row(f"Pareto plot, {n:,} trials to PNG", "bare matplotlib scatter", n, best_of(bare, 2))]


# --------------------------------------------------------------------------------------------------------------
# Store-backed: a study of --trials trials written through the store's writer and through Optuna's API

STUDY = "bench"
SPEC_TEXT = """study: bench
seed: 0
dataset: {name: synthetic}
architecture:
  family: cifar_resnet
  args: {depth: "6 * n + 2", width: width}
parameters:
  n: {int: [1, 18]}
  width: {choice: [8, 16, 32, 64]}
  lr: {float: [0.01, 1.0], log: true}
search: {sampler: random, trials: 100000, objectives: {val_acc: max, macs: min}}
"""


def synthetic_trials(n: int, seed: int = 0) -> list[dict]:
    """n trials: parameters, MACs of a CIFAR ResNet (6n+2 deep, width w), accuracy rising with MACs plus noise and
    rounded to 4 digits (ties), 2% failed, 3% rejected (over a MACs budget)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(1, 19, n)
    width = rng.choice([8, 16, 32, 64], n)
    lr = 10 ** rng.uniform(-2, 0, n)
    macs = (blocks * 3 * 2 * 9 * width.astype(np.int64) ** 2 * 28 * 28 // 3).astype(np.int64)
    acc = np.round(1 - 3.0 * macs.astype(float) ** -0.2 - 0.02 * np.abs(np.log10(lr) + 1) + rng.normal(0, 0.004, n), 4)
    u = rng.random(n)
    out = []
    for i in range(n):
        state = "rejected" if u[i] < 0.03 else "failed" if u[i] < 0.05 else "completed"
        out.append({"n": int(blocks[i]), "width": int(width[i]), "lr": float(lr[i]), "macs": int(macs[i]),
                    "val_acc": float(acc[i]), "state": state})
    return out


def _bench_db(args: argparse.Namespace) -> tuple[str, float | None, float | None]:
    """(URL, seconds the store's writer took, seconds Optuna's writer took): written now, or None when reused."""
    from scalesearch.store import Reader, Store

    path = Path(args.db) if args.db else Path(tempfile.gettempdir()) / "scalesearch-bench" / \
        f"results_speed_{args.trials}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        try:
            r = Reader(url)
            n = sum(r.counts(STUDY).values()) if r.find_study(STUDY) else 0
            r.close()
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            on = len(optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False))
            if n == on == args.trials:
                return url, None, None
        except Exception as e:  # noqa: BLE001 - a broken or partial cache is rebuilt
            print(f"rebuilding {path}: {type(e).__name__}: {e}", file=sys.stderr)
        path.unlink()
        for extra in ("-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
    trials = synthetic_trials(args.trials)
    print(f"writing {args.trials:,} trials to {path} through the store's writer ...", file=sys.stderr, flush=True)
    store = Store(url)
    t0 = time.perf_counter()
    store.create_study(name=STUDY, spec_text=SPEC_TEXT, spec_canonical=SPEC_TEXT, spec_hash="bench", seed=0,
                       sampler="random", objectives=[["val_acc", "max"], ["macs", "min"]], repeats=1)
    for i, t in enumerate(trials):
        values = {"n": t["n"], "width": t["width"], "lr": t["lr"]}
        fields = {"key": f"k{i:09d}", "config_key": f"k{i:09d}", "parameters": values, "values": values,
                  "macs": t["macs"], "params": t["macs"] // 40, "acts": t["macs"] // 10, "optuna_trial": i}
        if t["state"] == "rejected":
            store.add_rejected(STUDY, fields | {"rejected_by": ["macs <= 40 * base_macs"]})
            continue
        store.queue_trial(STUDY, fields | {"seed": 1, "repeat": 0})
        if t["state"] == "failed":
            store.finish_trial(STUDY, fields["key"], "failed", error="DivergenceError: loss is nan")
        else:
            store.finish_trial(STUDY, fields["key"], "completed", val_acc=t["val_acc"], best_val_acc=t["val_acc"],
                               node="bench", metrics={"train_seconds": 1.0, "total_seconds": 1.2, "steps": 100,
                                                      "device": "cpu"})
        if (i + 1) % 20000 == 0:
            print(f"  store: {i + 1:,}", file=sys.stderr, flush=True)
    store_s = time.perf_counter() - t0
    store.close()
    print("writing the same trials through Optuna's API ...", file=sys.stderr, flush=True)
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    from scalesearch.search.study import open_optuna_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    study = optuna.create_study(storage=open_optuna_storage(url), study_name=STUDY,
                                directions=["maximize", "minimize"])
    dists = {"n": IntDistribution(1, 18), "width": CategoricalDistribution([8, 16, 32, 64]),
             "lr": FloatDistribution(0.01, 1.0, log=True)}
    states = {"completed": TrialState.COMPLETE, "failed": TrialState.FAIL, "rejected": TrialState.PRUNED}
    batch = []
    for i, t in enumerate(trials):
        batch.append(create_trial(params={"n": t["n"], "width": t["width"], "lr": t["lr"]}, distributions=dists,
                                  values=[t["val_acc"], float(t["macs"])] if t["state"] == "completed" else None,
                                  state=states[t["state"]], user_attrs={"scalesearch_state": t["state"]}))
        if len(batch) == 5000 or i == len(trials) - 1:
            study.add_trials(batch)
            batch = []
            print(f"  optuna: {i + 1:,}", file=sys.stderr, flush=True)
    optuna_s = time.perf_counter() - t0
    return url, store_s, optuna_s


def _obvious_load(url: str) -> Any:
    """The obvious loader: the store's frozen records, each flattened into a dict, then a DataFrame."""
    import pandas as pd

    from scalesearch.store import Reader

    r = Reader(url)
    try:
        rows = []
        for t in r.trials(STUDY):
            d = t.to_dict()
            d.update(d.pop("values") or {})
            rows.append(d)
    finally:
        r.close()
    return pd.DataFrame(rows)


def store_rows(args: argparse.Namespace) -> list[Row]:
    import os

    import optuna
    from optuna.study._multi_objective import _is_pareto_front

    from scalesearch import plot, results
    from scalesearch.cli.results import run_query

    url, store_s, optuna_s = _bench_db(args)
    n = args.trials
    rows: list[Row] = []
    if store_s is not None and optuna_s is not None:
        task = f"write {n:,} trials"
        rows += [Row(task, "store writer (driver's path)", n, store_s, f"{n / store_s:,.0f} trials/s"),
                 Row(task, "optuna add_trials (RDB)", n, optuna_s, f"{n / optuna_s:,.0f} trials/s")]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    # loading
    df = results.load_trials(url, STUDY)
    task = f"load {n:,} trials as a DataFrame"
    rows.append(Row(task, "results.load_trials", n, best_of(lambda: results.load_trials(url, STUDY), args.repeats),
                    f"{len(df.columns)} columns"))
    rows.append(Row(task, "Reader.trials + flatten", n, best_of(lambda: _obvious_load(url), 1)))
    rows.append(Row(task, "optuna trials_dataframe", n, best_of(
        lambda: optuna.load_study(study_name=STUDY, storage=url).trials_dataframe(), 1)))

    # the front, in memory
    done = df[df["state"] == "COMPLETE"]
    v = done[["val_acc", "macs"]].to_numpy(dtype=float) * np.array([-1.0, 1.0])
    sub = v[:2000]
    if not np.array_equal(an.pareto_mask(sub, ["min", "min"]), naive_front(sub)):
        raise SystemExit("MISMATCH: the study's front differs from the naive one")
    task = f"front of {len(v):,} complete trials"
    size = int(an.pareto_mask(df, {"val_acc": "max", "macs": "min"}).sum())
    rows.append(Row(task, "analysis.pareto_mask (DataFrame)", len(v), best_of(
        lambda: an.pareto_mask(df, {"val_acc": "max", "macs": "min"}), args.repeats), f"front size {size:,}"))
    naive_s, naive_note = timed_or_extrapolated(naive_front, v, args.budget, args.repeats)
    rows.append(Row(task, "naive O(n^2)", len(v), naive_s, naive_note))
    t, note = timed_or_extrapolated(lambda a: _is_pareto_front(a, assume_unique_lexsorted=False), v, args.budget,
                                    args.repeats)
    rows.append(Row(task, "optuna _is_pareto_front", len(v), t, note))

    # query --pareto, end to end
    qargs = argparse.Namespace(studies=[STUDY], where=None, sort=None, columns=None, top=None, pareto=True,
                               objectives=None, aggregate=False, format="csv", out=os.devnull, db=url)
    ours = set(results.query(url, STUDY, pareto=True)["number"])
    theirs = {t.number for t in optuna.load_study(study_name=STUDY, storage=url).best_trials}
    if ours != theirs:
        raise SystemExit(f"MISMATCH: query --pareto gives {len(ours)} trials, Optuna's best_trials {len(theirs)}")
    task = f"query --pareto ({n:,} trials)"
    rows.append(Row(task, "run_query --pareto (CSV)", n, best_of(lambda: run_query(qargs), args.repeats),
                    f"{len(ours):,} trials, = optuna best_trials"))
    load_s = best_of(lambda: _obvious_load(url), 1)
    rows.append(Row(task, "Reader.trials + naive front", n, load_s + naive_s,
                    f"front {naive_note}" if naive_note else ""))
    rows.append(Row(task, "optuna best_trials", n, best_of(
        lambda: optuna.load_study(study_name=STUDY, storage=url).best_trials, 1)))

    # a scatter plot of the study
    if not args.no_plot:
        from matplotlib.figure import Figure

        task = f"Pareto scatter of {n:,} trials, PNG"
        with tempfile.TemporaryDirectory() as d:
            def ours_plot() -> None:
                plot.plot_pareto(df, color=None, out=Path(d) / "p.png")

            def bare() -> None:
                fig = Figure(figsize=(9, 6))
                ax = fig.subplots()
                ax.scatter(done["macs"], done["val_acc"], s=22)
                ax.set_xscale("log")
                fig.savefig(Path(d) / "b.png", dpi=150)

            study = optuna.load_study(study_name=STUDY, storage=url)

            def optuna_plot() -> None:
                import warnings

                from optuna.visualization.matplotlib import plot_pareto_front

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ax = plot_pareto_front(study)
                ax.figure.savefig(Path(d) / "o.png", dpi=150)
                import matplotlib.pyplot as plt

                plt.close(ax.figure)

            rows += [Row(task, "plot.plot_pareto (front + labels)", n, best_of(ours_plot, 2)),
                     Row(task, "bare matplotlib scatter", n, best_of(bare, 2)),
                     Row(task, "optuna plot_pareto_front (mpl)", n, best_of(optuna_plot, 1))]
    return rows


STORE_BENCHMARKS.append(store_rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="points (trials)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds a reference may take before extrapolating")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs for the fast methods")
    p.add_argument("--hv-points", type=int, default=2000, help="front size for the hypervolume timing")
    p.add_argument("--no-plot", action="store_true", help="skip the plot timing")
    p.add_argument("--part", choices=("all", "synthetic", "store"), default="all",
                   help="synthetic point clouds, the store-backed study, or both (default)")
    p.add_argument("--trials", type=int, default=100_000, help="trials in the store-backed study (default 100k)")
    p.add_argument("--db", help="the store-backed study's SQLite file (default "
                                "/tmp/scalesearch-bench/results_speed_<trials>.db; reused when complete)")
    args = p.parse_args(argv)
    try:
        import optuna  # noqa: F401

        with_optuna = True
    except ImportError:
        with_optuna = False

    rows: list[Row] = []
    if args.part in ("all", "synthetic"):
        rows += front_rows(args.n, args.budget, args.repeats, with_optuna)
        rows += hypervolume_rows(args.hv_points, args.repeats, with_optuna)
        if not args.no_plot:
            rows += plot_rows(args.n)
    if args.part in ("all", "store"):
        if not with_optuna:
            raise SystemExit("--part store: needs optuna (the comparison is on the same study through its API)")
        for bench in STORE_BENCHMARKS:
            rows += bench(args)

    what = (f"n = {args.n:,} points" if args.part != "store" else "") + \
        ("; " if args.part == "all" else "") + (f"{args.trials:,}-trial study" if args.part != "synthetic" else "")
    print(f"{what}; best of {args.repeats} for the fast methods; references over {args.budget:g} s "
          f"extrapolated as O(n^2); fronts checked equal to the naive one on 2,000 points"
          + ("" if with_optuna else "; optuna not installed"))
    print(f"{'task':<40}{'method':<36}{'seconds':>12}{'ratio':>11}  note")
    base: dict[str, float] = {}
    for r in rows:
        base.setdefault(r.task, r.seconds)
        ratio = r.seconds / base[r.task] if base[r.task] > 0 else float("nan")
        print(f"{r.task:<40}{r.method:<36}{r.seconds:>12.4f}{ratio:>10.1f}x  {r.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
