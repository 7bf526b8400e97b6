"""A study's report: results/<study>/report.md with its figures, and a self-contained, interactive report.html.

Both hold the same sections, built from one read-only snapshot of the database (`scalesearch.results`):

    summary        state, sampler, seed, repeats, objectives, trials by state, wall time, database
    leaderboard    configurations ranked by the mean of the primary metric over their repeats, with its standard
                   error, n and 95% t interval (`scalesearch.analysis.aggregate`)
    Pareto front   the configurations on the front of the study's objectives (their means), by cost
    figures        Pareto (metric vs MACs, front labelled), learning curves, metric vs each parameter, error EDF,
                   power-law scaling fit (each when the data allow it)
    failures       failed trials with their error, rejected candidates counted by reason
    spec           the spec text as given
    provenance     hardware and package versions recorded with the study, wall time

report.md links PNG files written beside it (an SVG of each too). report.html inlines everything: plotly's
JavaScript once (so the page works offline; nothing is fetched from the network, no CDN, no fonts), the Pareto
figure and the learning curves as interactive plotly figures (hovering a point shows its label, parameters,
MACs, params, activations and accuracy), the other figures as inline SVG. With `plotly_js` set to a relative path
(`scalesearch report --plotly-js ../_assets/plotly.min.js`), the page loads plotly's JavaScript from that local
file instead, written there once and shared by every report beside it: a 4.6 MB script not repeated in each report
(how the committed rediscovery reports are written); the page still fetches nothing from the network.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.plot.interactive import check_plotly_js, write_plotly_js
from scalesearch.text import fmt_duration, human, md_table

if TYPE_CHECKING:
    import pandas as pd

    from scalesearch.results import DB
    from scalesearch.store import StudyRecord

__all__ = ["Report", "ReportPaths", "build_report", "render_html", "render_markdown", "write_report"]


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


def _num(v: Any, digits: int = 4) -> str:
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


def _when(t: dt.datetime | None) -> str:
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


def _varying(df: pd.DataFrame, params: Sequence[str]) -> list[str]:
    return [p for p in params if p in df.columns and df[p].nunique(dropna=True) > 1]


def build_report(db: DB, study: str, out_dir: str | Path | None = None, *, top: int = 25,
                 figures: bool = True) -> Report:
    """Read a study and compute what its report shows; with `figures`, draw them into `out_dir`.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db) or a `Reader`.
        study: the study's name.
        out_dir: the folder of the figures (default results/<study>).
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
    folder = Path(out_dir) if out_dir is not None else Path("results") / study
    figs: tuple[Figure, ...] = ()
    if figures:
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

    folder.mkdir(parents=True, exist_ok=True)
    figs: list[Figure] = []
    if agg.empty:
        return figs
    pts = _config_points(trials, agg, metric)
    varying = _varying(trials, params)
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
        text = [f"<b>{html.escape(label)}</b><br>trial {n} (repeat {r})<br>epoch {e}<br>val_acc: {_num(v)}"
                f"<br>train_loss: {_num(tl)}" for r, e, v, tl in zip(t["repeat"], t["epoch"], t["val_acc"],
                                                                       t["train_loss"])]
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


def write_report(db: DB, study: str, out_dir: str | Path | None = None, *, top: int = 25,
                 plotly_js: str = "inline") -> ReportPaths:
    """Write results/<study>/report.md (with PNG and SVG figures beside it) and report.html.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db), or a `Reader`; read-only.
        study: the study's name.
        out_dir: the folder (default results/<study>), created if needed.
        top: leaderboard rows.
        plotly_js: "inline" (default: one self-contained page), or a path relative to the folder, ending in .js,
            where plotly's JavaScript is written (unless that file already holds it) and loaded from, so that
            several reports share one copy.

    Returns:
        The paths written.

    Raises:
        LookupError: no such study.
        FileNotFoundError: no database there.
    """
    shared_js = None if check_plotly_js(plotly_js) == "inline" else plotly_js
    folder = Path(out_dir) if out_dir is not None else Path("results") / study
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {folder}: is a file; expected a folder")
    rep = build_report(db, study, folder, top=top)
    folder.mkdir(parents=True, exist_ok=True)
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(render_markdown(rep, folder), encoding="utf-8")
    if shared_js is not None:
        write_plotly_js(folder / shared_js)
    page.write_text(render_html(rep, shared_js), encoding="utf-8")
    files = tuple(p for f in rep.figures for p in (f.png, f.svg))
    return ReportPaths(folder=folder, markdown=md, html=page, figures=files)


# --------------------------------------------------------------------------------------------------------------
# Tables (one description, rendered as markdown or HTML)


def _leaderboard_rows(rep: Report, frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    m = rep.metric
    params = _varying(rep.trials, rep.parameters)
    head = ["#", "configuration", *params, "MACs", "params", "repeats", f"{m} mean", "± se", "95% interval"]
    has_test = m != "test_acc" and "test_acc_mean" in frame.columns and frame["test_acc_mean"].notna().any()
    if has_test:
        head.append("test_acc mean")
    head.append("trials")
    numbers = rep.trials.groupby("config_key", sort=False)["number"].apply(lambda s: ", ".join(map(str, s)))
    rows = []
    for i, r in enumerate(frame.to_dict("records"), 1):
        n_inc = int(r.get("n_incomplete", 0) or 0)
        lo, hi = r.get(f"{m}_lo"), r.get(f"{m}_hi")
        ci = "-" if lo is None or (isinstance(lo, float) and math.isnan(lo)) else f"[{_num(lo)}, {_num(hi)}]"
        row = [str(i), str(r["arch"]), *[_num(r[p]) for p in params], human(r.get("macs")),
               human(r.get("params")), f"{int(r[f'{m}_n'])}" + (f" (+{n_inc} failed or stopped)" if n_inc else ""),
               _num(r[f"{m}_mean"]), _num(r[f"{m}_se"]), ci]
        if has_test:
            row.append(_num(r.get("test_acc_mean")))
        row.append(numbers.get(r["config_key"], "-"))
        rows.append(row)
    return head, rows


def _failure_rows(rep: Report) -> tuple[list[str], list[list[str]]]:
    head = ["trial", "configuration", "repeat", "node", "error"]
    rows = [[str(r["number"]), str(r["arch"]), _num(r["repeat"]), str(r["node"] or "-"),
             " ".join(str(r["error"] or "-").split())[:200]] for r in rep.failures.head(50).to_dict("records")]
    return head, rows


def _summary_rows(rep: Report) -> list[tuple[str, str]]:
    s = rep.study
    order = ("COMPLETE", "PRUNED", "FAILED", "REJECTED", "RUNNING", "QUEUED", "INTERRUPTED")
    by_state = ", ".join(f"{rep.counts[k]} {k.lower()}" for k in order if rep.counts.get(k)) or "none yet"
    obj = ", ".join(f"{k} ({'maximise' if d == 'max' else 'minimise'})" for k, d in rep.objectives.items())
    compute = float(rep.trials["wall_s"].fillna(0).sum()) if len(rep.trials) else 0.0
    family = rep.trials["family"].dropna().iloc[0] if len(rep.trials) and rep.trials["family"].notna().any() else "-"
    return [("state", s.state + (f": {s.message}" if s.message else "")), ("family", str(family)),
            ("sampler", f"{s.sampler}, seed {s.seed}"), ("repeats", str(s.repeats)), ("objectives", obj),
            ("trials", f"{len(rep.trials)} ({by_state}); {rep.configurations} configurations trained"
             + (f" of {s.planned} planned" if s.planned else "")),
            ("wall time", f"{fmt_duration(s.wall_seconds, 'decimal')} over {s.runs} run{'s' if s.runs != 1 else ''}; "
                          f"{fmt_duration(compute, 'decimal')} of trial time"),
            ("created", _when(s.created)), ("finished", _when(s.finished)), ("database", rep.db),
            ("spec", f"{s.spec_file or '(text)'}, hash {s.spec_hash[:16]}")]


def _mapping_rows(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    def flat(v: Any) -> str:
        if isinstance(v, Mapping):
            return ", ".join(f"{k}={flat(x)}" for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return ", ".join(flat(x) for x in v)
        return str(v)

    return [(str(k), flat(v)) for k, v in m.items()]


# --------------------------------------------------------------------------------------------------------------
# Markdown


def render_markdown(rep: Report, folder: Path | None = None) -> str:
    """The report as markdown; figures are linked by file name (relative to `folder`)."""
    s = rep.study
    out = [f"# Study `{s.name}`", "", md_table(["", ""], [(k, v) for k, v in _summary_rows(rep)]), ""]
    m = rep.metric
    out += ["## Leaderboard", "",
            f"Configurations ranked by the mean {m} over their COMPLETE repeats "
            f"({'highest' if rep.metric_direction == 'max' else 'lowest'} first), with its standard error and 95% "
            f"t interval; {len(rep.leaderboard)} of {rep.configurations} shown.", ""]
    if len(rep.leaderboard):
        out += [md_table(*_leaderboard_rows(rep, rep.leaderboard)), ""]
    else:
        out += ["No configuration has a COMPLETE trial yet.", ""]
    obj = ", ".join(f"{k} {d}" for k, d in _front_objectives(rep).items())
    out += ["## Pareto front", "", f"Configurations no other one beats in every objective ({obj}; means over "
            "repeats), by cost.", ""]
    out += [md_table(*_leaderboard_rows(rep, rep.front)), ""] if len(rep.front) else ["(empty)", ""]
    if rep.figures:
        out += ["## Figures", ""]
        for f in rep.figures:
            rel = f.png.name if folder is None else _rel(f.png, folder)
            svg = f.svg.name if folder is None else _rel(f.svg, folder)
            out += [f"### {f.title}", "", f"![{f.title}]({rel})", "", f"{f.caption} ([SVG]({svg}))", ""]
    out += ["## Failures", ""]
    if len(rep.failures):
        out += [md_table(*_failure_rows(rep)), ""]
    else:
        out += ["No trial failed.", ""]
    if len(rep.rejected):
        out += [f"Rejected before training ({int(rep.rejected['trials'].sum())} candidates), by reason:", "",
                md_table(["reason", "candidates"], [(str(r), str(n)) for r, n in
                                                    zip(rep.rejected["rejected_by"], rep.rejected["trials"])]), ""]
    out += ["## Spec", "", "```yaml", s.spec_text.rstrip("\n"), "```", "",
            "## Hardware", "", md_table(["", ""], _mapping_rows(s.hardware)) if s.hardware else "(not recorded)", "",
            "## Package versions", "", md_table(["package", "version"], _mapping_rows(s.versions))
            if s.versions else "(not recorded)", "",
            f"Report written {rep.written} by scalesearch {_version()} from {rep.db}.", ""]
    return "\n".join(out)


def _front_objectives(rep: Report) -> dict[str, str]:
    """The front's objectives as declared (a cost added to a single metric, see `results.front_objectives`)."""
    from scalesearch.results import front_objectives

    return front_objectives(rep.objectives)


def _rel(p: Path, folder: Path) -> str:
    try:
        return p.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _version() -> str:
    from scalesearch import __version__

    return __version__


# --------------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 12px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{width:9em}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:10px;overflow:auto;font-size:12px}
.fig{margin:10px 0 24px}.fig .svg svg{max-width:100%;height:auto}.caption{color:#555;font-size:13px}
.plot{width:100%;height:560px}
nav a{margin-right:12px}
"""

_NUMERIC = re.compile(r"^[-+]?[\d.,]+[KMGT]?$|^\[.*\]$")


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    e = html.escape
    h = "".join(f"<th>{e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td class=\"n\">{e(c)}</td>" if _NUMERIC.match(c) else f"<td>{e(c)}</td>"
                                    for c in r) + "</tr>" for r in rows)
    return f"<table{f' class={chr(34)}{cls}{chr(34)}' if cls else ''}><thead><tr>{h}</tr></thead><tbody>{body}" \
           "</tbody></table>"


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    e = html.escape
    return "<table class=\"kv\"><tbody>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + \
        "</tbody></table>"


def _inline_svg(path: Path) -> str:
    """An SVG file's <svg> element for inlining: without its XML declaration and DOCTYPE (which names a DTD URL)."""
    text = path.read_text(encoding="utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _plotly_div(fig: Any, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, include_mathjax=False, div_id=div_id,
                       default_width="100%", default_height="560px",
                       config={"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "svg"}})


def render_html(rep: Report, plotly_js: str | None = None) -> str:
    """The report as one HTML page that fetches nothing from the network: plotly's JavaScript inlined, or with
    `plotly_js` (a relative path) loaded from that local file."""
    from plotly.offline import get_plotlyjs

    e = html.escape
    s = rep.study
    m = rep.metric
    interactive = [f for f in rep.figures if f.plotly is not None]
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>scalesearch report: {e(s.name)}</title>", f"<style>{_CSS}</style>"]
    if interactive and plotly_js is not None:
        parts.append(f"<script type=\"text/javascript\" src=\"{e(plotly_js)}\"></script>")
    elif interactive:
        parts.append(f"<script type=\"text/javascript\">{get_plotlyjs()}</script>")
    parts += ["</head><body><main>", f"<h1>Study <code>{e(s.name)}</code></h1>",
              "<nav><a href=\"#leaderboard\">Leaderboard</a><a href=\"#pareto\">Pareto front</a>"
              "<a href=\"#figures\">Figures</a><a href=\"#failures\">Failures</a><a href=\"#spec\">Spec</a>"
              "<a href=\"#provenance\">Hardware and versions</a></nav>", _kv_table(_summary_rows(rep))]
    parts += ["<h2 id=\"leaderboard\">Leaderboard</h2>",
              f"<p>Configurations ranked by the mean {e(m)} over their COMPLETE repeats "
              f"({'highest' if rep.metric_direction == 'max' else 'lowest'} first), with its standard error and 95% "
              f"t interval; {len(rep.leaderboard)} of {rep.configurations} shown.</p>",
              _html_table(*_leaderboard_rows(rep, rep.leaderboard)) if len(rep.leaderboard)
              else "<p>No configuration has a COMPLETE trial yet.</p>"]
    obj = ", ".join(f"{k} {d}" for k, d in _front_objectives(rep).items())
    parts += ["<h2 id=\"pareto\">Pareto front</h2>",
              f"<p>Configurations no other one beats in every objective ({e(obj)}; means over repeats), by cost.</p>",
              _html_table(*_leaderboard_rows(rep, rep.front)) if len(rep.front) else "<p>(empty)</p>"]
    parts.append("<h2 id=\"figures\">Figures</h2>")
    if not rep.figures:
        parts.append("<p>No figure: nothing has completed yet.</p>")
    for f in rep.figures:
        parts.append(f"<div class=\"fig\" id=\"fig-{f.name}\"><h3>{e(f.title)}</h3>")
        if f.plotly is not None:
            parts.append(_plotly_div(f.plotly, f"plot-{f.name}"))
            parts.append(f"<p class=\"caption\">{e(f.caption)} Hover a point for its parameters and costs; click "
                         "legend entries to hide or show them.</p>")
        else:
            parts.append(f"<div class=\"svg\">{_inline_svg(f.svg)}</div><p class=\"caption\">{e(f.caption)}</p>")
        parts.append("</div>")
    parts.append("<h2 id=\"failures\">Failures</h2>")
    parts.append(_html_table(*_failure_rows(rep)) if len(rep.failures) else "<p>No trial failed.</p>")
    if len(rep.rejected):
        parts += [f"<p>Rejected before training ({int(rep.rejected['trials'].sum())} candidates), by reason:</p>",
                  _html_table(["reason", "candidates"], [(str(r), str(n)) for r, n in
                                                         zip(rep.rejected["rejected_by"], rep.rejected["trials"])])]
    parts += ["<h2 id=\"spec\">Spec</h2>", f"<pre>{e(s.spec_text)}</pre>",
              "<h2 id=\"provenance\">Hardware and versions</h2>",
              _kv_table(_mapping_rows(s.hardware)) if s.hardware else "<p>(hardware not recorded)</p>",
              _html_table(["package", "version"], _mapping_rows(s.versions)) if s.versions
              else "<p>(versions not recorded)</p>",
              f"<p class=\"caption\">Report written {e(rep.written)} by scalesearch {e(_version())} from "
              f"{e(rep.db)}.</p>", "</main></body></html>", ""]
    return "\n".join(parts)
