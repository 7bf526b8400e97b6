"""`scalesearch simulate STUDY`: replay a recorded study under other search strategies (scalesearch.simulate.replay),
print the summary, and write the curves, the summary and the figure under --out."""

from __future__ import annotations

import argparse

__all__ = ["add_simulate"]

_DB_HELP = "the results database: a SQLAlchemy URL or a SQLite file (default results/scalesearch.db)"


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_simulate(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch simulate` (with `full` False its help line only)."""
    p = sub.add_parser(
        "simulate", help="replay a recorded study as a benchmark: compare strategies and schedulers without training",
        description="Replay a recorded study as a tabular benchmark: each strategy asks for configurations as in a "
                    "real search (the same Optuna samplers), each 'trains' in the time its record took and reports "
                    "its recorded per-epoch val_acc to the scheduler, on the recorded number of workers. Prints per "
                    "strategy and scheduler the final anytime value (best objective, or hypervolume for two) with a "
                    "95% interval over seeds, the trainings and simulated hours to reach 98% of the whole table's "
                    "value, epochs trained and asks per second; a configuration the table does not hold is redrawn "
                    "and counted (misses). The database is opened read-only.")
    if not full:
        return
    from scalesearch.strategies.names import SIMULATED_SCHEDULERS, SIMULATED_STRATEGIES

    p.add_argument("study", metavar="STUDY")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.add_argument("--strategies", default="random,tpe,rea", metavar="S,...",
                   help=f"comma-separated, of {', '.join(SIMULATED_STRATEGIES)} (replay: the recorded order; default "
                        "random,tpe,rea)")
    p.add_argument("--scheduler", default="none", metavar="S,...",
                   help=f"comma-separated, of {', '.join(SIMULATED_SCHEDULERS)} (default none)")
    p.add_argument("--seeds", type=int, default=20, metavar="N", help="seeds per strategy (default 20)")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="configurations each run starts (default: as many as the table holds)")
    p.add_argument("--budget-s", type=float, default=None, metavar="X",
                   help="simulated seconds after which nothing new starts")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="default: the study's max_concurrency")
    p.add_argument("--prefilter", default="none", metavar="P,...",
                   help="comma-separated, each none or SCORE:POOL:KEEP (e.g. naswot:16:4): the sampler proposes POOL "
                        "candidates and the best KEEP by their stored score train, as the spec's search.prefilter; "
                        "SCORE one of naswot, synflow, snip, grad_norm, params, macs (default none)")
    p.add_argument("--grace-epochs", type=int, default=1, metavar="N", help="the schedulers' first rung (default 1)")
    p.add_argument("--reduction-factor", type=int, default=3, metavar="N", help="the schedulers' eta (default 3)")
    p.add_argument("--cost-band", type=float, default=None, metavar="X",
                   help="moasha only: promote within cost bands of this factor (MACs within a factor X; default: one "
                        "band), as the spec's early_stopping.cost_band")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write simulate_curves.csv, simulate_summary.csv and simulate.png here")
    p.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Handler of `scalesearch simulate`."""
    from pathlib import Path

    from scalesearch.errors import InputError
    from scalesearch.simulate.replay import parse_prefilter, simulate_study

    if args.seeds < 1:
        raise InputError("--seeds: expected an integer >= 1")
    sim = simulate_study(args.study, db=args.db, strategies=_names(args.strategies),
                         schedulers=_names(args.scheduler), seeds=args.seeds,
                         prefilters=[parse_prefilter(p) for p in _names(args.prefilter)], trials=args.trials,
                         budget_s=args.budget_s, workers=args.workers, grace_epochs=args.grace_epochs,
                         reduction_factor=args.reduction_factor, cost_band=args.cost_band)
    print(sim.text())
    if args.out:
        from scalesearch.plot.anytime import plot_anytime

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        sim.curves.to_csv(out / "simulate_curves.csv", index=False)
        sim.summary.to_csv(out / "simulate_summary.csv", index=False)
        objs = sim.table.objectives
        ylabel = f"Best {objs[0][0]}" if len(objs) == 1 else "Hypervolume (" + ", ".join(n for n, _ in objs) + ")"
        plot_anytime(sim.curves, out / "simulate.png", ylabel=ylabel, title=f"{args.study}: simulated search")
        print(f"wrote {out / 'simulate_curves.csv'}, {out / 'simulate_summary.csv'}, {out / 'simulate.png'}")
    return 0
