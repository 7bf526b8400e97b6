"""The results commands of the CLI: `query`, `plot` and `report` (argument declarations and handlers).

`add_commands(sub)` registers `plot` and `report`; `add_query_arguments(parser)` and `run_query(args)` are the
whole `query` command, for the parser that registers it. Every handler reads the database read-only
(`scalesearch.results`); user errors are one-line ValueError/OSError/LookupError messages that `scalesearch.cli`
prints with exit status 2. pandas, matplotlib and plotly are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scalesearch.text import table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "PLOT_KINDS", "add_commands", "add_query_arguments", "format_table", "run_plot", "run_query",
           "run_report", "write_frame"]

FORMATS = ("table", "csv", "json", "parquet")
PLOT_KINDS = ("pareto", "scaling", "edf", "curves", "params")
X_AXES = ("macs", "params", "acts", "latency")
_DB_HELP = "the results database: a SQLAlchemy URL or a SQLite file (default results/scalesearch.db)"


# --------------------------------------------------------------------------------------------------------------
# query


def add_query_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the arguments of `scalesearch query` on `p` (its handler is `run_query`)."""
    p.description = (
        "Print the trials of one or more studies (default: every study in the database), one row each: study, "
        "number, state (COMPLETE, FAILED, PRUNED, REJECTED, QUEUED, RUNNING, INTERRUPTED), arch, family, every "
        "parameter, macs, params, acts, metrics (val_acc, test_acc, ...), seed, repeat, node and times. Steps, in "
        "order: --aggregate, --where, --pareto, --sort, --top, --columns. The database is opened read-only.")
    p.add_argument("studies", metavar="STUDY", nargs="*", help="study names (default: all)")
    p.add_argument("--where", metavar="EXPR",
                   help="keep the rows where this condition holds, in the spec files' expression language over the "
                        "columns, e.g. \"val_acc > 0.9 and macs < 5e7\", \"family == 'cifar_resnet'\", "
                        "\"state == 'COMPLETE'\" (a row whose named columns hold no value does not match)")
    p.add_argument("--sort", metavar="COL[:asc|desc]",
                   help="sort by these comma-separated columns (default direction: descending for accuracies, "
                        "ascending otherwise; missing values last)")
    p.add_argument("--columns", metavar="COL,...", action="append",
                   help="print these columns, in this order (comma-separated; may be repeated)")
    p.add_argument("--top", metavar="N", type=int, help="print the first N rows (after sorting)")
    p.add_argument("--pareto", action="store_true",
                   help="keep each study's Pareto-optimal rows over its objectives (plus macs:min when it declares "
                        "a single metric); only COMPLETE trials count")
    p.add_argument("--objectives", metavar="COL:max|min,...",
                   help="the objectives of --pareto instead of each study's own, e.g. val_acc:max,params:min")
    p.add_argument("--aggregate", action="store_true",
                   help="one row per configuration: its repeats collapsed into <metric>_mean, _se, _std, _lo, _hi "
                        "(a 95%% t interval), _n, with n_complete and n_incomplete trials")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (for reading; a few columns unless --columns), csv, json (a list of records) or "
                        "parquet (all columns unless --columns); default table")
    p.add_argument("--out", metavar="FILE", help="write there instead of standard output (parquet needs a file "
                                                 "or a redirected output)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)


def run_query(args: argparse.Namespace) -> int:
    """Handler of `scalesearch query` (arguments from `add_query_arguments`)."""
    from scalesearch import results

    top = getattr(args, "top", None)
    if top is not None and top < 1:
        raise ValueError(f"--top: expected an integer >= 1, got {top}")
    obj = getattr(args, "objectives", None)
    if obj is not None and not args.pareto:
        raise ValueError("--objectives: only used with --pareto")
    df = results.query(args.db, args.studies or None, where=args.where, sort=args.sort, columns=args.columns,
                       top=top, pareto=args.pareto, aggregate_repeats=args.aggregate,
                       objectives=results.parse_objectives(obj) if obj else None)
    fmt = args.format
    if fmt == "table" and args.columns is None:
        df = _table_columns(df, aggregated=args.aggregate)
    write_frame(df, fmt, getattr(args, "out", None), total=df.attrs.get("total"))
    return 0


def _table_columns(df: pd.DataFrame, *, aggregated: bool) -> pd.DataFrame:
    """The columns a person reads first: ids, label, parameters, costs, metrics (every column stays in csv,
    json and parquet)."""
    params = list(df.attrs.get("parameters", []))
    if aggregated:
        want = ["study", "arch", *params, "macs", "params", "n_complete", "val_acc_mean", "val_acc_se", "val_acc_lo",
                "val_acc_hi", "test_acc_mean"]
    else:
        want = ["study", "number", "state", "arch", *params, "macs", "params", "val_acc", "test_acc", "repeat",
                "seed"]
    cols = [c for c in dict.fromkeys(want) if c in df.columns]
    out = df[cols]
    if not aggregated and "test_acc" in out.columns and out["test_acc"].isna().all():
        out = out.drop(columns="test_acc")
    out.attrs = dict(df.attrs)
    return out


def _cell(v: Any, col: str) -> str:
    """One table cell: integers with separators, accuracies to 4 decimals, other floats to 4 digits, hashes cut."""
    import numpy as np
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or (v is pd.NaT):
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if col in ("macs", "params", "acts") else str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if col in ("macs", "params", "acts") and f.is_integer():
            return f"{int(f):,}"
        if f.is_integer() and abs(f) < 1e15 and col in ("seed", "repeat", "number", "epochs", "steps", "n_complete",
                                                         "n_incomplete", "optuna_trial", "attempts"):
            return str(int(f))
        if "acc" in col:
            return f"{f:.4f}"
        return f"{f:.4g}"
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ", timespec="seconds")
    s = " ".join(str(v).split())
    if col in ("config_key", "key"):
        return s[:12]
    return s if len(s) <= 40 else s[:37] + "..."


def format_table(df: pd.DataFrame) -> str:
    """A fixed-width text table: numbers right-aligned, text left-aligned, "-" for no value.

    Example:
        >>> import pandas as pd
        >>> print(format_table(pd.DataFrame({"arch": ["n=1", "n=2"], "macs": [1000, 25000], "val_acc": [0.5, None]})))
        arch    macs  val_acc
        ----  ------  -------
        n=1    1,000   0.5000
        n=2   25,000        -
    """
    cols = [str(c) for c in df.columns]
    cells = [[_cell(v, c) for v in df[c].tolist()] for c in cols]
    numeric = [df[c].dtype.kind in "iuf" for c in cols]
    return table([cols, *zip(*cells)], align="".join(">" if num else "<" for num in numeric))


def _jsonable(df: pd.DataFrame) -> str:
    return df.to_json(orient="records", date_format="iso", date_unit="s", double_precision=15, force_ascii=False)


def write_frame(df: pd.DataFrame, fmt: str, out: str | os.PathLike[str] | None = None, *,
                total: int | None = None, stream: IO[str] | None = None) -> None:
    """Write a DataFrame as a table, CSV, JSON records or Parquet, to a file or standard output.

    Args:
        df: the rows.
        fmt: one of `FORMATS`.
        out: a file to write (its folder must exist), or None for standard output.
        total: rows before filtering, for the table's footer.
        stream: the text stream for standard output (default sys.stdout).
    """
    stream = stream or sys.stdout
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "parquet":
        if out is None:
            if stream.isatty():
                raise ValueError("--format parquet: binary output; give --out FILE or redirect standard output")
            import io

            buf = io.BytesIO()
            _to_parquet(df, buf)
            stream.flush()
            sys.stdout.buffer.write(buf.getvalue())
            sys.stdout.buffer.flush()
            return
        _check_out(out)
        _to_parquet(df, out)
        return
    if fmt == "csv":
        text = df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S")
    elif fmt == "json":
        text = _jsonable(df) + "\n"
    else:
        if df.empty:
            text = "no rows match\n" if total else "no trials\n"
        else:
            text = format_table(df) + "\n"
            if total is not None and len(df) < total:
                text += f"({len(df)} of {total} rows)\n"
    if out is None:
        stream.write(text)
        stream.flush()
    else:
        _check_out(out)
        Path(out).write_text(text, encoding="utf-8")


def _check_out(out: str | os.PathLike[str]) -> None:
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"--out {path}: is a folder; expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"--out {path}: no folder {parent}")


def _to_parquet(df: pd.DataFrame, target: Any) -> None:
    """Parquet through pyarrow; columns of mixed Python types (a parameter that is a number in one study and a
    name in another) are written as text."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ValueError("--format parquet: needs pyarrow (pip install pyarrow)") from None
    d = df.copy()
    d.attrs = {}
    for c in d.columns:
        if d[c].dtype == object:
            kinds = {type(v) for v in d[c].tolist() if v is not None and not (isinstance(v, float) and v != v)}
            if len(kinds) > 1:
                d[c] = d[c].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
    d.to_parquet(target, index=False)


# --------------------------------------------------------------------------------------------------------------
# plot


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot", help="plot studies: Pareto front, scaling fit, error EDF, learning curves or metric vs parameters",
        description="Draw one figure of one or more studies with matplotlib (PNG, SVG or PDF by the --out suffix). "
                    "pareto: the metric against MACs (log axis) with each study's front drawn and labelled; "
                    "scaling: a power-law fit of error vs complexity per family (or --color); edf: error EDFs with "
                    "bootstrap bands; curves: learning curves; params: the metric against each parameter. Only "
                    "COMPLETE trials are drawn. The database is opened read-only.")
    p.add_argument("studies", metavar="STUDY", nargs="+", help="study names (several share one figure)")
    p.add_argument("--kind", choices=PLOT_KINDS, default="pareto", help="default pareto")
    p.add_argument("--x", choices=X_AXES, default="macs",
                   help="the complexity axis of pareto and scaling (latency: latency_ms, when measured); default macs")
    p.add_argument("--y", default="val_acc", metavar="METRIC", help="the metric (default val_acc)")
    p.add_argument("--color", metavar="COLUMN",
                   help="colour (or group) by this column: family or any parameter (default: the family when "
                        "several are drawn, else the first parameter that varies; for edf and curves the study)")
    p.add_argument("--where", metavar="EXPR", help="draw only the trials where this condition holds (as for query)")
    p.add_argument("--aggregate", action="store_true",
                   help="pareto and scaling: one point per configuration, the mean over its repeats")
    p.add_argument("--out", metavar="FILE",
                   help="the image file (.png, .svg or .pdf; default results/<study>/<kind>.png)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_plot)


def _default_out(studies: list[str], kind: str) -> Path:
    return Path("results") / "+".join(studies) / f"{kind}.png"


def default_color(df: pd.DataFrame) -> str | None:
    """The colour column of a figure: `family` when several families are drawn, else the first parameter that
    varies, else None."""
    if "family" in df.columns and df["family"].nunique() > 1:
        return "family"
    from scalesearch.results import parameter_names

    for p in parameter_names(df):
        if df[p].nunique() > 1:
            return p
    return None


def _mean_rows(df: pd.DataFrame, y: str) -> pd.DataFrame:
    """One row per configuration: the mean metric over its complete repeats, as a COMPLETE trial."""
    from scalesearch.results import aggregate_configs

    agg = aggregate_configs(df, metrics=[y])
    agg = agg[agg[f"{y}_n"] > 0].copy()
    agg[y] = agg[f"{y}_mean"]
    agg["state"] = "COMPLETE"
    if "number" not in agg.columns:
        first = df.groupby(["study", "config_key"], sort=False)["number"].min()
        agg["number"] = [int(first.loc[(s, k)]) for s, k in zip(agg["study"], agg["config_key"])]
    agg.attrs = dict(df.attrs)
    return agg


def run_plot(args: argparse.Namespace) -> int:
    """Handler of `scalesearch plot`."""
    from scalesearch import plot, results

    studies = list(dict.fromkeys(args.studies))
    out = Path(args.out) if args.out else _default_out(studies, args.kind)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"--out {out}: expected a .png, .svg or .pdf file name")
    x = "latency_ms" if args.x == "latency" else args.x
    if args.aggregate and args.kind not in ("pareto", "scaling"):
        raise ValueError(f"--aggregate: only for --kind pareto or scaling, not {args.kind}")
    reader = results.open_reader(args.db)
    try:
        df = results.load_trials(reader, studies)
        epochs = results.load_epochs(reader, studies) if args.kind == "curves" else None
    finally:
        reader.close()
    if args.where:
        df = results.filter_rows(df, args.where)
    for col, option in ((x, "--x"), (args.y, "--y"), (args.color, "--color")):
        if col is not None and col not in df.columns:
            raise results._unknown_column(option, col, df)
    if args.kind in ("pareto", "scaling") and x == "latency_ms" and df["latency_ms"].isna().all():
        raise ValueError("--x latency: no trial of these studies has a measured latency (set search.latency in "
                         "the spec); use --x macs, params or acts")
    done = df[(df["state"] == "COMPLETE") & df[args.y].notna()]
    if done.empty:
        raise ValueError(f"{', '.join(studies)}: no COMPLETE trial with a {args.y} value to plot"
                         + (" (after --where)" if args.where else ""))
    several = len(studies) > 1
    color = args.color
    if args.kind == "pareto":
        d = _mean_rows(df, args.y) if args.aggregate else df
        plot.plot_pareto(d, x=x, y=args.y, color=color if color else default_color(df), label="arch", out=out)
    elif args.kind == "scaling":
        d = _mean_rows(df, args.y) if args.aggregate else df
        by = color or ("study" if several else "family")
        plot.plot_scaling(d, x=x, y=args.y, by=by, out=out)
    elif args.kind == "edf":
        plot.plot_edf(df, metric=args.y, by=color or ("study" if several else "family"), out=out)
    elif args.kind == "curves":
        assert epochs is not None
        by = color or ("study" if several else "arch")
        if by not in epochs.columns:  # a parameter: take it from the trials
            epochs = epochs.merge(df[["study", "number", by]], on=["study", "number"], how="left")
        metric = args.y if args.y in epochs.columns else "val_acc"
        plot.plot_curves(epochs, metrics=(metric, "train_loss"), by=by, out=out)
    else:
        params = results.parameter_names(df)
        varying = [p for p in params if df[p].nunique() > 1] or params
        if not varying:
            raise ValueError(f"{', '.join(studies)}: no parameters to plot against")
        plot.plot_params(df, params=varying, metric=args.y, color=color or ("study" if several else None), out=out)
    print(out)
    return 0


# --------------------------------------------------------------------------------------------------------------
# report


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write results/<study>/report.md and a self-contained, interactive report.html",
        description="Write a study's report: the spec, the leaderboard (repeats aggregated: mean, standard error, "
                    "95% interval), the Pareto table, the figures (PNG and SVG files beside report.md; interactive "
                    "plotly figures inlined in report.html, which fetches nothing from the network), failures, "
                    "hardware, package versions and wall time. The database is opened read-only.")
    p.add_argument("study", metavar="STUDY", help="the study")
    p.add_argument("--out", metavar="DIR", help="the folder (default results/<study>)")
    p.add_argument("--top", metavar="N", type=int, default=25, help="leaderboard rows (default 25)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.add_argument("--plotly-js", metavar="PATH", default="inline",
                   help="inline (default: one self-contained page), or a path relative to the report's folder, "
                        "ending in .js, where plotly's JavaScript is written once and loaded from, shared by the "
                        "reports beside it (e.g. ../_assets/plotly.min.js; the page then needs that file)")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of `scalesearch report`."""
    from scalesearch.report import write_report

    if args.top < 1:
        raise ValueError(f"--top: expected an integer >= 1, got {args.top}")
    paths = write_report(args.db, args.study, args.out, top=args.top, plotly_js=args.plotly_js)
    print(paths.markdown)
    print(paths.html)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `plot` and `report` (the `query` arguments are `add_query_arguments`, its handler `run_query`)."""
    _add_plot(sub)
    _add_report(sub)
