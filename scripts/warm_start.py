"""Does a warm start save trainings? Simulated on a recorded table split in two by one parameter: the configurations
with PARAM in OLD form the old study (told, as `search.warm_start` tells them: the rule of
scalesearch.search.warmstart), the others the new study's space, which holds none of the old configurations.
Each strategy runs cold and warm-started on the new space with the same simulation seeds; the figure is the
trainings (and simulated hours) each needs to reach 98% of the new space's best value (hypervolume for several
objectives), paired by seed. The old study's own trainings are reported beside it: spent already (a sunk cost),
or counted as the warm start's price when the old study was run only to warm the new one.

    .venv/bin/python scripts/warm_start.py [--dump results/benchmark_proxy/study.jsonl.gz] [--param n] [--old 1]
        [--strategies tpe,rea,nsga2,random] [--seeds 20] [--out results/benchmark_proxy/warm_start]

Prints the table; with --out writes rows.csv (every strategy and seed), summary.csv and summary.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _value(v: str) -> object:
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from scalesearch.analysis.stats import t_quantile
    from scalesearch.errors import ScalesearchError
    from scalesearch.search.dumpfile import load_study
    from scalesearch.search.study import stored_spec
    from scalesearch.search.warmstart import warm_trials
    from scalesearch.simulate.replay import simulate
    from scalesearch.simulate.table import Table
    from scalesearch.simulate.tally import mean_ci, reach_98
    from scalesearch.store import Reader

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dump", default=str(REPO / "results" / "benchmark_proxy" / "study.jsonl.gz"))
    p.add_argument("--param", default="n", help="the parameter that splits the table (default %(default)s)")
    p.add_argument("--old", default="1", help="its values in the old study, comma-separated (default %(default)s)")
    p.add_argument("--strategies", default="tpe,rea,nsga2,random")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--out", default=None)
    p.add_argument("--rows", default=None, help="summarise this rows.csv of an earlier run instead of simulating")
    a = p.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    old_values = [_value(v) for v in a.old.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/table.db"
        try:
            name, _ = load_study(a.dump, db)
            with Reader(db) as reader:
                spec = stored_spec(reader.study(name))
                trials, epochs = reader.trials(name), reader.epochs(name)
            if a.param not in {q.name for q in spec.sampled}:
                raise ValueError(f"--param {a.param}: not a sampled parameter of {name}")
            old = Table.from_records(spec, [t for t in trials if t.parameters.get(a.param) in old_values], epochs)
            new = Table.from_records(spec, [t for t in trials if t.parameters.get(a.param) not in old_values], epochs)
        except (ScalesearchError, ValueError, LookupError, OSError) as e:
            print(f"warm_start: {e}", file=sys.stderr)
            return 2
    rows_old = [(e.params, old.vector(k), i) for i, (k, e) in enumerate(old.entries.items())]
    label = f"{name} with {a.param} in {old_values}"
    told = warm_trials(new.spec, rows_old, label)
    best = new.anytime(list(new.entries))
    rows = []
    for strategy in ([] if a.rows else a.strategies.split(",")):
        for seed in range(a.seeds):
            cold = simulate(new, strategy, seed=seed)
            warm = simulate(new, strategy, seed=seed, warm_start=told)
            for kind, run in (("cold", cold), ("warm", warm)):
                n, secs, _ = reach_98(new, run, best)
                rows.append({"strategy": strategy, "seed": seed, "start": kind, "trainings_to_98": n,
                             "hours_to_98": secs / 3600, "final": run.trace[-1][1] if run.trace else math.nan,
                             "trainings": run.trainings})
    df = pd.read_csv(a.rows) if a.rows else pd.DataFrame(rows)
    old_hours = sum(sum(sum(s) for s in e.seconds) for e in old.entries.values()) / 3600
    summary = []
    for strategy, g in df.groupby("strategy", sort=False):
        c = g[g.start == "cold"].set_index("seed")
        w = g[g.start == "warm"].set_index("seed")
        both = c.index[c.trainings_to_98.notna() & w.trainings_to_98.notna()]
        d = (w.loc[both, "trainings_to_98"] - c.loc[both, "trainings_to_98"]).to_numpy(float)
        dh = (w.loc[both, "hours_to_98"] - c.loc[both, "hours_to_98"]).to_numpy(float)
        m, h = mean_ci(d, t_quantile)
        mh, hh = mean_ci(dh, t_quantile)
        fin = ((w.loc[c.index, "final"] - c["final"]) / best).to_numpy(float)  # every seed: where each run ended
        mf, hf = mean_ci(fin, t_quantile)
        cm, ch = mean_ci(c.trainings_to_98.to_numpy(float), t_quantile)
        wm, wh = mean_ci(w.trainings_to_98.to_numpy(float), t_quantile)
        summary.append({"strategy": strategy, "seeds": len(c), "cold_reach": int(c.trainings_to_98.notna().sum()),
                        "warm_reach": int(w.trainings_to_98.notna().sum()), "cold_trainings": cm, "cold_ci": ch,
                        "warm_trainings": wm, "warm_ci": wh, "paired": len(both), "warm_minus_cold": m,
                        "lo": m - h, "hi": m + h, "hours_warm_minus_cold": mh, "hours_lo": mh - hh,
                        "hours_hi": mh + hh, "verdict": _verdict(m, h, len(both)),
                        "cold_final": float(c["final"].mean() / best), "warm_final": float(w["final"].mean() / best),
                        "final_warm_minus_cold": mf, "final_lo": mf - hf, "final_hi": mf + hf,
                        "cold_trainings_run": float(c["trainings"].mean()),
                        "warm_trainings_run": float(w["trainings"].mean())})
    sm = pd.DataFrame(summary)
    head = (f"# warm start on {name}: old study = {len(old.entries)} configurations with {a.param} in {old_values} "
            f"({len(told)} told; {old_hours:.2f} CPU-hours of training), new space = {len(new.entries)} "
            f"configurations ({a.param} not in it); 98% of the new space's best "
            f"({'hypervolume' if len(new.objectives) > 1 else new.objectives[0][0]} {best:.6g}); {a.seeds} seeds, "
            "paired by seed; differences over the seeds where both reach 98%, 95% t intervals; final: where each run "
            "ended, as a fraction of the best (every seed), and the trainings it ran.\n"
            f"# Counted with the old study's trainings as the warm start's price: add {len(old.entries)} trainings "
            f"({old_hours:.2f} CPU-hours) to every warm figure.")
    cols = ["strategy", "seeds", "cold_reach", "warm_reach", "cold_trainings", "cold_ci", "warm_trainings",
            "warm_ci", "paired", "warm_minus_cold", "lo", "hi", "hours_warm_minus_cold", "hours_lo", "hours_hi",
            "verdict", "cold_final", "warm_final", "final_warm_minus_cold", "final_lo", "final_hi",
            "cold_trainings_run", "warm_trainings_run"]
    text = head + "\n" + sm[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}")
    print(text)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / "rows.csv", index=False)
        sm.to_csv(out / "summary.csv", index=False)
        (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    return 0


def _verdict(m: float, h: float, n: int) -> str:
    """The project's one verdict rule (`analysis.verdict`) on warm - cold, claimed negative, with no smallest effect
    (the declared rule: fewer trainings where the interval lies below 0): "reproduced" below 0, "not reproduced"
    (a reversal) above, "inconclusive" where it holds 0; "not decidable" where fewer than two seeds pair."""
    from scalesearch.analysis import verdict

    v = verdict((m, m - h, m + h), 0.0, claim="less", gate=n >= 2 and not math.isnan(h))
    return v.label + (" (reversed)" if v.reversed else "") + ("" if n >= 2 else " (too few seeds reach 98%)")


if __name__ == "__main__":
    sys.exit(main())
