"""Early stopping's goal on a recorded study, per rung setting (scalesearch.simulate.rung_settings): each setting
of MO-ASHA (grace period : reduction factor) against the same sampler without early stopping over the same number
of configurations, paired by simulation seed; the setting chosen on the first half of the seeds, the goal (final
value >= 98% of no early stopping's, at most half its epochs) judged on the second half.

    .venv/bin/python scripts/rung_settings.py benchmark_proxy --db results/benchmark.db \\
        [--settings 1:3,1:2,2:3,2:2,3:2,2:3:4] [--seeds 20] [--sampler random] [--out DIR]

A setting is GRACE:ETA, or GRACE:ETA:BAND for promotion within cost bands (MACs within a factor of BAND).

Prints the per-setting table on both halves and the verdict; with --out writes rows.csv (every setting and seed)
and settings.csv (the summaries).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from scalesearch.errors import ScalesearchError
    from scalesearch.simulate.replay import load_table
    from scalesearch.simulate.rung_settings import RungSetting, compare_rung_settings, judge_goal, summarise_settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study")
    p.add_argument("--db", default=None)
    p.add_argument("--settings", default="1:3,1:2,2:3,2:2,3:2", help="GRACE:ETA[:BAND],... (default %(default)s)")
    p.add_argument("--seeds", type=int, default=20, help="even; the first half chooses, the second judges")
    p.add_argument("--sampler", default="random")
    p.add_argument("--scheduler", default="moasha")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    try:
        settings = []
        for item in a.settings.split(","):
            parts = item.split(":")
            if len(parts) not in (2, 3):
                raise ValueError(item)
            settings.append(RungSetting(int(parts[0]), int(parts[1]), float(parts[2]) if len(parts) == 3 else None))
    except (TypeError, ValueError):
        print(f"rung_settings: --settings: expected GRACE:ETA[:BAND],... (integers; BAND a number > 1), got "
              f"{a.settings!r}", file=sys.stderr)
        return 2
    if a.seeds < 4 or a.seeds % 2:
        print(f"rung_settings: --seeds: expected an even number >= 4, got {a.seeds}", file=sys.stderr)
        return 2
    try:
        table = load_table(a.study, db=a.db)
        rows = compare_rung_settings(table, settings, range(a.seeds), sampler=a.sampler, scheduler=a.scheduler)
    except (ScalesearchError, ValueError, LookupError) as e:
        print(f"rung_settings: {e}", file=sys.stderr)
        return 2
    half = a.seeds // 2
    select, report = range(half), range(half, a.seeds)
    chosen_on, verdict = judge_goal(rows, select, report)
    judged_on = summarise_settings(rows[rows["seed"].isin(report)])
    print(f"# {a.study}: {len(table.entries)} configurations; {a.sampler} with {a.scheduler} vs without early "
          f"stopping, paired by seed; settings chosen on seeds 0-{half - 1}, judged on seeds {half}-{a.seeds - 1}")
    for title, frame in (("choosing half", chosen_on), ("judging half", judged_on)):
        print(f"\n{title}: value ratio and epoch ratio, mean [95% t interval]")
        for _, r in frame.iterrows():
            print(f"  {r['setting']:16s} value {r['value_ratio']:.4f} [{r['value_lo']:.4f}, {r['value_hi']:.4f}]  "
                  f"epochs {r['epoch_ratio']:.3f} [{r['epoch_lo']:.3f}, {r['epoch_hi']:.3f}]")
    print("\ngoal: " + verdict.words())
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(out / "rows.csv", index=False)
        import pandas as pd

        pd.concat([chosen_on.assign(half="choosing"), judged_on.assign(half="judging")]).to_csv(
            out / "settings.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
