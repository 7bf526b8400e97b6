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

from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.util.files import check_output_folder, output_folder
from scalesearch.plot.interactive import check_plotly_js, write_plotly_js
from scalesearch.results.report.contents import (
    REPORT_REMEDY,
    Figure,
    Report,
    ReportPaths,
    build_report,
    default_folder,
)
from scalesearch.results.report.render import render_html, render_markdown

if TYPE_CHECKING:
    from scalesearch.results import DB

__all__ = ["REPORT_REMEDY", "Figure", "Report", "ReportPaths", "build_report", "default_folder", "render_html",
           "render_markdown", "write_report"]


def write_report(db: DB, study: str, out_dir: str | Path | None = None, *, top: int = 25,
                 plotly_js: str = "inline") -> ReportPaths:
    """Write results/<study>/report.md (with PNG and SVG figures beside it) and report.html.

    Args:
        db: a SQLAlchemy URL or SQLite path (default results/scalesearch.db), or a `Reader`; read-only.
        study: the study's name.
        out_dir: the folder, created (and marked as scalesearch's) if needed. Default results/<study>: created
            and marked, or used when it is marked, else refused (`util.files.output_folder`).
        top: leaderboard rows.
        plotly_js: "inline" (default: one self-contained page), or a path relative to the folder, ending in .js,
            where plotly's JavaScript is written (unless that file already holds it) and loaded from, so that
            several reports share one copy.

    Returns:
        The paths written.

    Raises:
        LookupError: no such study.
        FileNotFoundError: no database there.
        OutputFolderError: `out_dir` is a file, or the default folder exists and is not scalesearch's (before
            anything is read or written).
    """
    shared_js = None if check_plotly_js(plotly_js) == "inline" else plotly_js
    named = out_dir is not None
    folder = check_output_folder(out_dir if named else default_folder(study), named=named, remedy=REPORT_REMEDY)
    rep = build_report(db, study, folder if named else None, top=top)
    folder = output_folder(folder, named=named, remedy=REPORT_REMEDY)
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(render_markdown(rep, folder), encoding="utf-8")
    if shared_js is not None:
        write_plotly_js(folder / shared_js)
    page.write_text(render_html(rep, shared_js), encoding="utf-8")
    files = tuple(p for f in rep.figures for p in (f.png, f.svg))
    return ReportPaths(folder=folder, markdown=md, html=page, figures=files)
