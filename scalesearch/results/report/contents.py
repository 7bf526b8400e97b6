"""Building a study's report: the `Report` (everything it shows, computed once from one read-only snapshot)
and its figures. `render` writes it as markdown and HTML; `scalesearch.results.report` has the overview."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.util.files import output_folder

if TYPE_CHECKING:
    import pandas as pd

    from scalesearch.results import DB
    from scalesearch.store import StudyRecord

__all__ = ["REPORT_REMEDY", "Figure", "Report", "ReportPaths", "build_report", "default_folder", "format_number",
           "format_time", "varying_params"]


@dataclass(frozen=True)
class ReportPaths:
    """Where a report was written."""

    folder: Path
    markdown: Path
    html: Path
    figures: tuple[Path, ...]


@dataclass(frozen=True)
class Figure:
    """One figure of the report: its title, caption, files (PNG for the markdown, SVG inlined in the HTML) and,
    for interactive ones, the plotly figure."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    plotly: Any = None


@dataclass(frozen=True)
class Report:
    """Everything a report shows, computed once and rendered twice (markdown and HTML)."""

    study: StudyRecord
    db: str
    trials: pd.DataFrame
    leaderboard: pd.DataFrame
    front: pd.DataFrame
    metric: str
    metric_direction: str
    objectives: Mapping[str, str]
    parameters: tuple[str, ...]
    figures: tuple[Figure, ...]
    failures: pd.DataFrame
    rejected: pd.DataFrame
    counts: Mapping[str, int]
    configurations: int
    written: str


# --------------------------------------------------------------------------------------------------------------
# Numbers as text


def format_number(v: Any, digits: int = 4) -> str:
    """A number as report text: "-" for None or NaN, integers whole, others to `digits` decimals."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "-"
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.{digits}f}" if abs(f) < 10 else f"{f:.4g}"


def format_time(t: dt.datetime | None) -> str:
    """A UTC time as report text ("-" for None)."""
    return "-" if t is None else t.isoformat(sep=" ", timespec="seconds") + " UTC"


# --------------------------------------------------------------------------------------------------------------
# Building


def _primary(objectives: Mapping[str, str]) -> tuple[str, str]:
    """The leaderboard's metric: the first declared objective that is not a cost, else val_acc."""
    from scalesearch.analysis import COST_COLUMNS

    for name, direction in objectives.items():
        if name not in COST_COLUMNS:
            return name, direction
    return "val_acc", "max"


def varying_params(df: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """The parameters among `params` that take more than one value in `df`."""
    return [p for p in params if p in df.columns and df[p].nunique(dropna=True) > 1]


REPORT_REMEDY = "write the report elsewhere with --out DIR"


def default_folder(study: str) -> Path:
    """results/<study>: where a study's report goes unless a folder is named (`util.files.output_folder` decides
    whether it may be written)."""
    return Path("results") / study


def build_report(db: DB, study: str, out_dir: str | Path | None = None, *, top: int = 25,
                 figures: bool = True) -> Report:
    """Read a study and compute what its report shows; with `figures`, draw them into `out_dir`.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db) or a `Reader`.
        study: the study's name.
        out_dir: the folder of the figures, created (and marked) if needed; default results/<study>, created and
            marked, or used when it is marked, else refused (`util.files.output_folder`), once the study is read.
        top: leaderboard rows.
        figures: draw the figures (PNG and SVG files; plotly figures for the HTML).

    Raises:
        LookupError: no such study (the message names those there are).
    """
    import pandas as pd

    from scalesearch import results
    from scalesearch.store import describe_url

    reader = results.open_reader(db)
    try:
        record = reader.study(study)
        trials = results.load_trials(reader, study)
        epochs = results.load_epochs(reader, study)
        declared = results.study_objectives(reader, study)
        url = describe_url(reader.url)
    finally:
        if not isinstance(db, results.Reader):
            reader.close()
    metric, direction = _primary(declared)
    params = tuple(results.parameter_names(trials))
    if metric not in trials.columns:
        trials[metric] = math.nan  # an objective the store has no column for (reported as missing)
    agg = results.aggregate_configs(trials, metrics=[m for m in dict.fromkeys([metric, "test_acc"])
                                                     if m in trials.columns]) if len(trials) else trials
    trained = agg[agg[f"{metric}_n"] > 0] if len(agg) else agg
    board = trained.sort_values(f"{metric}_mean", ascending=direction == "min", kind="stable") if len(trained) \
        else trained
    front_obj = results.front_objectives(declared, aggregated=True)
    front = results.pareto_rows(trained, front_obj, by=None) if len(trained) else trained
    cost = next((c for c in front_obj if c in ("macs", "params", "acts", "latency_ms")), None)
    if cost is not None and len(front):
        front = front.sort_values(cost, kind="stable")
    failures = trials[trials["state"] == "FAILED"] if len(trials) else trials
    rej = trials[trials["state"] == "REJECTED"] if len(trials) else trials
    rejected = (rej.fillna({"rejected_by": "-"}).groupby("rejected_by", sort=False).size()
                .rename("trials").reset_index().sort_values("trials", ascending=False, kind="stable")
                if len(rej) else pd.DataFrame(columns=["rejected_by", "trials"]))
    counts = trials["state"].value_counts().to_dict() if len(trials) else {}
    figs: tuple[Figure, ...] = ()
    if figures:
        named = out_dir is not None
        folder = output_folder(out_dir if named else default_folder(study), named=named, remedy=REPORT_REMEDY)
        figs = tuple(_draw(folder, study, trials, trained, epochs, metric, direction, front_obj, params))
    return Report(study=record, db=url, trials=trials, leaderboard=board.head(top), front=front, metric=metric,
                  metric_direction=direction, objectives=declared, parameters=params, figures=figs,
                  failures=failures, rejected=rejected, counts=counts, configurations=len(trained),
                  written=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def _config_points(trials: pd.DataFrame, agg: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One point per trained configuration, shaped as a COMPLETE trial whose metric is the mean of its repeats
    (so that the figures' front is the Pareto table's), numbered by its first trial."""
    pts = agg.copy()
    pts[metric] = pts[f"{metric}_mean"]
    if "test_acc_mean" in pts.columns:
        pts["test_acc"] = pts["test_acc_mean"]
    pts["state"] = "COMPLETE"
    first = trials.groupby("config_key", sort=False)["number"].min()
    pts["number"] = pts["config_key"].map(first).astype(int)
    pts["study"] = trials["study"].iloc[0]
    from scalesearch.analysis import COST_COLUMNS, METRIC_COLUMNS

    empty = [c for c in (*COST_COLUMNS, *METRIC_COLUMNS) if c in pts.columns and c != metric and pts[c].isna().all()]
    return pts.drop(columns=empty)  # no "latency_ms: -" in the hover text


def _draw(folder: Path, study: str, trials: pd.DataFrame, agg: pd.DataFrame, epochs: pd.DataFrame, metric: str,
          direction: str, front_obj: Mapping[str, str], params: Sequence[str]) -> list[Figure]:
    """Draw the figures the data allow, as PNG + SVG (and plotly for the interactive ones)."""
    from scalesearch import plot

    figs: list[Figure] = []
    if agg.empty:
        return figs
    pts = _config_points(trials, agg, metric)
    varying = varying_params(trials, params)
    color = "family" if pts["family"].nunique() > 1 else (varying[0] if varying else None)
    x = next((c for c in front_obj if c in ("macs", "params", "acts", "latency_ms")), "macs")
    repeats = int(trials.loc[trials["state"] == "COMPLETE", "config_key"].value_counts().max()) \
        if (trials["state"] == "COMPLETE").any() else 1
    mean_note = " (means over repeats)" if repeats > 1 else ""

    def both(name: str, fig: Any) -> tuple[Path, Path]:
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        plot.save(fig, png)
        plot.save(fig, svg)
        return png, svg

    fig = plot.plot_pareto(pts, x=x, y=metric, color=color, label="arch", y_direction=direction,
                           title=f"{plot.axis_label(metric)} vs {plot.axis_label(x).split(' (')[0]}{mean_note}: "
                                 f"{study}")
    png, svg = both("pareto", fig)
    interactive = plot.pareto_figure_plotly(pts, x=x, y=metric, color=color, label="arch", params=list(params),
                                            y_direction=direction,
                                            title=f"{plot.axis_label(metric)} vs {plot.axis_label(x).split(' (')[0]}"
                                                  f"{mean_note}")
    figs.append(Figure("pareto", "Pareto front", f"{plot.axis_label(metric)} against {plot.axis_label(x)} on a log "
                       f"axis, one point per configuration{mean_note}; the front is the step line, its points "
                       "labelled.", png, svg, interactive))
    if len(epochs) and epochs["val_acc"].notna().any():
        fig = plot.plot_curves(epochs, metrics=("val_acc", "train_loss"), by="arch", max_trials=200)
        png, svg = both("curves", fig)
        figs.append(Figure("curves", "Learning curves", "Validation accuracy and training loss per epoch, one line "
                           "per trial, coloured by configuration.", png, svg, _curves_plotly(epochs)))
    if varying:
        fig = plot.plot_params(trials, params=varying, metric=metric, color=None)
        png, svg = both("params", fig)
        figs.append(Figure("params", f"{plot.axis_label(metric)} vs each parameter",
                           "Every COMPLETE trial against each parameter that varies.", png, svg))
    done = trials[(trials["state"] == "COMPLETE") & trials[metric].notna()]
    if len(done) >= 3:
        fig = plot.plot_edf(done, metric=metric, by="family", n_boot=500)
        png, svg = both("edf", fig)
        figs.append(Figure("edf", "Error EDF", "Empirical distribution of the error of the trained models "
                           "(Radosavovic et al.) with 95% bootstrap bands.", png, svg))
    if pts[x].nunique() >= 3 and ("acc" not in metric or bool((pts[metric] < 1).all())):
        fig = plot.plot_scaling(pts, x=x, y=metric, by="family")
        png, svg = both("scaling", fig)
        figs.append(Figure("scaling", "Scaling fit", f"Error against {plot.axis_label(x)} with a power-law fit "
                           "err = a·x^b per family (configuration means).", png, svg))
    return figs


def _curves_plotly(epochs: pd.DataFrame, max_trials: int = 200) -> Any:
    """Interactive learning curves: validation accuracy and training loss per epoch side by side, one line per
    trial (hover: label, trial, epoch, accuracy, loss)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Validation accuracy", "Training loss"),
                        horizontal_spacing=0.08)
    numbers = list(dict.fromkeys(epochs["number"].tolist()))[:max_trials]
    labels = list(dict.fromkeys(epochs["arch"].tolist()))
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf")
    shown: set[str] = set()
    for n in numbers:
        t = epochs[epochs["number"] == n].sort_values("epoch")
        label = str(t["arch"].iloc[0])
        text = [f"<b>{html.escape(label)}</b><br>trial {n} (repeat {r})<br>epoch {e}<br>val_acc: {format_number(v)}"
                f"<br>train_loss: {format_number(tl)}" for r, e, v, tl in zip(t["repeat"], t["epoch"], t["val_acc"],
                                                                       t["train_loss"], strict=True)]
        for col, y in ((1, "val_acc"), (2, "train_loss")):
            fig.add_trace(go.Scatter(x=t["epoch"], y=t[y], mode="lines+markers", name=label, legendgroup=label,
                                     showlegend=col == 1 and label not in shown,
                                     line={"color": palette[labels.index(label) % 10]}, text=text,
                                     hovertemplate="%{text}<extra></extra>",
                                     meta={"kind": "curve", "metric": y, "number": int(n)}), row=1, col=col)
        shown.add(label)
    fig.update_xaxes(title_text="Epoch", dtick=1 if epochs["epoch"].max() <= 20 else None)
    fig.update_yaxes(title_text="Validation accuracy", row=1, col=1)
    fig.update_yaxes(title_text="Training loss", type="log", row=1, col=2)
    fig.update_layout(template="plotly_white", hovermode="closest", legend={"font": {"size": 10}},
                      margin={"t": 40})
    return fig
