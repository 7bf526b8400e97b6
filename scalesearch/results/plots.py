"""`plot_studies`: one figure of one or more studies read from the database (what `scalesearch plot` draws).

It reads the trials (and, for learning curves, the epochs) read-only through `scalesearch.results`, applies the
query language's filter, picks the colour or grouping column, and calls the figure functions of this package.
Only COMPLETE trials are drawn. `scalesearch.results` (which loads pandas), pandas and matplotlib are imported
inside the functions, so that the CLI declares `--kind` and `--x` from `PLOT_KINDS` and `X_AXES` for nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.errors import InputError
from scalesearch.plot.figures import plot_curves, plot_edf, plot_params, plot_scaling
from scalesearch.plot.front import plot_pareto
from scalesearch.util.files import check_output_folder, output_folder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PLOT_KINDS", "X_AXES", "default_color", "default_out", "mean_rows", "plot_studies"]

PLOT_KINDS = ("pareto", "scaling", "edf", "curves", "params")
X_AXES = ("macs", "params", "acts", "latency")  # latency: the `latency_ms` column
_REMEDY = "write the figure elsewhere with --out FILE"


def default_out(studies: Sequence[str], kind: str) -> Path:
    """results/<study>[+<study>...]/<kind>.png"""
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


def mean_rows(df: pd.DataFrame, y: str) -> pd.DataFrame:
    """One row per configuration: the mean metric over its complete repeats, as a COMPLETE trial."""
    from scalesearch.results import aggregate_configs

    agg = aggregate_configs(df, metrics=[y])
    agg = agg[agg[f"{y}_n"] > 0].copy()
    agg[y] = agg[f"{y}_mean"]
    agg["state"] = "COMPLETE"
    if "number" not in agg.columns:
        first = df.groupby(["study", "config_key"], sort=False)["number"].min()
        agg["number"] = [int(first.loc[(s, k)]) for s, k in zip(agg["study"], agg["config_key"], strict=True)]
    agg.attrs = dict(df.attrs)
    return agg


def plot_studies(studies: Sequence[str], *, db: str | None = None, kind: str = "pareto", x: str = "macs",
                 y: str = "val_acc", color: str | None = None, where: str | None = None, aggregate: bool = False,
                 out: str | Path | None = None) -> Path:
    """Draw one figure of `studies` and save it (PNG, SVG or PDF by the suffix of `out`).

    Args:
        studies: study names; several share one figure (repeated names count once).
        db: a SQLAlchemy URL or SQLite file path (default `results/scalesearch.db`), opened read-only.
        kind: one of `PLOT_KINDS`: pareto (the metric against `x`, each study's front drawn and labelled), scaling
            (a power-law fit of error vs `x` per group), edf (error EDFs), curves (learning curves), params (the
            metric against each parameter).
        x: the complexity axis of pareto and scaling, one of `X_AXES` (latency is the `latency_ms` column).
        y: the metric.
        color: the colour (or grouping) column; default: the family when several are drawn, else the first
            parameter that varies (for edf and curves: the study when several, else the family or the arch).
        where: keep only the trials where this query-language condition holds.
        aggregate: pareto and scaling: one point per configuration, the mean over its repeats.
        out: the image file (default `default_out(studies, kind)`: results/<study>/<kind>.png, in a folder
            created and marked, or used when it is marked, else refused: `util.files.output_folder`).

    Returns:
        The path written.

    Raises:
        InputError: an unknown kind, axis or column, a bad `where`, or no COMPLETE trial with a value to plot.
        OutputFolderError: without `out`, a results/<study> folder that exists and is not scalesearch's.
    """
    from scalesearch import results
    from scalesearch.results.query import unknown_column

    studies = list(dict.fromkeys(studies))
    if kind not in PLOT_KINDS:
        raise InputError(f"--kind: expected one of {', '.join(PLOT_KINDS)}, got {kind!r}")
    if x not in (*X_AXES, "latency_ms"):
        raise InputError(f"--x: expected one of {', '.join(X_AXES)}, got {x!r}")
    path = Path(out) if out else default_out(studies, kind)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"--out {path}: expected a .png, .svg or .pdf file name")
    if not out:  # the default folder: scalesearch's own or absent, checked before anything is read or written
        check_output_folder(path.parent, remedy=_REMEDY)
    x = "latency_ms" if x == "latency" else x
    if aggregate and kind not in ("pareto", "scaling"):
        raise InputError(f"--aggregate: only for --kind pareto or scaling, not {kind}")
    with results.open_reader(db) as reader:
        df = results.load_trials(reader, studies)
        epochs = results.load_epochs(reader, studies) if kind == "curves" else None
    if where:
        df = results.filter_rows(df, where)
    for col, option in ((x, "--x"), (y, "--y"), (color, "--color")):
        if col is not None and col not in df.columns:
            raise unknown_column(option, col, df)
    if kind in ("pareto", "scaling") and x == "latency_ms" and df["latency_ms"].isna().all():
        raise InputError("--x latency: no trial of these studies has a measured latency (set search.latency in "
                         "the spec); use --x macs, params or acts")
    done = df[(df["state"] == "COMPLETE") & df[y].notna()]
    if done.empty:
        raise InputError(f"{', '.join(studies)}: no COMPLETE trial with a {y} value to plot"
                         + (" (after --where)" if where else ""))
    several = len(studies) > 1
    if not out:
        output_folder(path.parent, remedy=_REMEDY)
    if kind == "pareto":
        d = mean_rows(df, y) if aggregate else df
        plot_pareto(d, x=x, y=y, color=color if color else default_color(df), label="arch", out=path)
    elif kind == "scaling":
        d = mean_rows(df, y) if aggregate else df
        plot_scaling(d, x=x, y=y, by=color or ("study" if several else "family"), out=path)
    elif kind == "edf":
        plot_edf(df, metric=y, by=color or ("study" if several else "family"), out=path)
    elif kind == "curves":
        assert epochs is not None
        by = color or ("study" if several else "arch")
        if by not in epochs.columns:  # a parameter: take it from the trials
            epochs = epochs.merge(df[["study", "number", by]], on=["study", "number"], how="left")
        metric = y if y in epochs.columns else "val_acc"
        plot_curves(epochs, metrics=(metric, "train_loss"), by=by, out=path)
    else:
        params = results.parameter_names(df)
        varying = [p for p in params if df[p].nunique() > 1] or params
        if not varying:
            raise InputError(f"{', '.join(studies)}: no parameters to plot against")
        plot_params(df, params=varying, metric=y, color=color or ("study" if several else None), out=path)
    return path
