"""Results tools at scale: the Pareto front, hypervolume and the Pareto plot at 100k trials, side by side.

Users of other tools report O(n^2) fronts in dashboards. Here `analysis.pareto_mask` (2-D: sort + running
minimum; 3-D: sort + a staircase sweep) is timed on 100k random points against
  - the naive O(n^2) reference of the tests (every point against every point, vectorised per row), and
  - Optuna's own front (`optuna.study._multi_objective._is_pareto_front`, what `Study.best_trials` runs),
on two point clouds: "uniform" (a small front) and "front" (every point on the front: the worst case for
algorithms whose cost grows with the front). A reference that would take longer than --budget seconds is timed at
the largest subsample that fits, doubling from 1,000 points, and extrapolated to n as O(n^2) (marked "extrap.").
Before timing, the front is checked equal to the naive one on a subsample.

The store-backed timings of issue 14 (a 100k-trial database written by the store's writer: `load_trials`,
`query --pareto`, and Optuna's `trials_dataframe` / `best_trials` on the same study) plug in through
`STORE_BENCHMARKS` once `scalesearch.store` lands; `--db` is reserved for them.

    python benchmarks/results_speed.py [--n 100000] [--budget 20] [--repeats 3] [--no-plot] [--db URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


# Store-backed benchmarks (load_trials, query --pareto, Optuna's trials_dataframe/best_trials on a 100k-trial
# study): functions taking the parsed arguments and returning Rows, appended when scalesearch.store lands.
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
        t = best_of(lambda: fn(v[:m]), 1 if m > 1000 else repeats)
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
            ours = best_of(lambda: an.pareto_mask(v, ["min"] * k), repeats)
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="points (trials)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds a reference may take before extrapolating")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs for the fast methods")
    p.add_argument("--hv-points", type=int, default=2000, help="front size for the hypervolume timing")
    p.add_argument("--no-plot", action="store_true", help="skip the plot timing")
    p.add_argument("--db", help="store-backed timings (reserved until scalesearch.store lands)")
    args = p.parse_args(argv)
    try:
        import optuna  # noqa: F401

        with_optuna = True
    except ImportError:
        with_optuna = False

    rows = front_rows(args.n, args.budget, args.repeats, with_optuna)
    rows += hypervolume_rows(args.hv_points, args.repeats, with_optuna)
    if not args.no_plot:
        rows += plot_rows(args.n)
    for bench in STORE_BENCHMARKS:
        rows += bench(args)

    print(f"n = {args.n:,} points; best of {args.repeats} for the fast methods; references over {args.budget:g} s "
          f"extrapolated as O(n^2); fronts checked equal to the naive one on 2,000 points"
          + ("" if with_optuna else "; optuna not installed"))
    print(f"{'task':<36}{'method':<36}{'seconds':>12}{'ratio':>11}  note")
    base: dict[str, float] = {}
    for r in rows:
        base.setdefault(r.task, r.seconds)
        ratio = r.seconds / base[r.task] if base[r.task] > 0 else float("nan")
        print(f"{r.task:<36}{r.method:<36}{r.seconds:>12.4f}{ratio:>10.1f}x  {r.note}")
    if args.db and not STORE_BENCHMARKS:
        print("--db: the store-backed timings are not available yet (scalesearch.store)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
