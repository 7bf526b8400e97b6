"""Rendering a `Report`: report.md (figures linked as PNG) and a self-contained, interactive report.html; one
description of each table, rendered both ways."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.results.report.contents import Report, format_number, format_time, varying_params
from scalesearch.util.text import fmt_duration, human, md_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["render_html", "render_markdown"]


# --------------------------------------------------------------------------------------------------------------
# Tables (one description, rendered as markdown or HTML)


def _leaderboard_rows(rep: Report, frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    m = rep.metric
    params = varying_params(rep.trials, rep.parameters)
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
        ci = ("-" if lo is None or (isinstance(lo, float) and math.isnan(lo))
              else f"[{format_number(lo)}, {format_number(hi)}]")
        row = [str(i), str(r["arch"]), *[format_number(r[p]) for p in params], human(r.get("macs")),
               human(r.get("params")), f"{int(r[f'{m}_n'])}" + (f" (+{n_inc} failed or stopped)" if n_inc else ""),
               format_number(r[f"{m}_mean"]), format_number(r[f"{m}_se"]), ci]
        if has_test:
            row.append(format_number(r.get("test_acc_mean")))
        row.append(numbers.get(r["config_key"], "-"))
        rows.append(row)
    return head, rows


def _failure_rows(rep: Report) -> tuple[list[str], list[list[str]]]:
    head = ["trial", "configuration", "repeat", "node", "error"]
    rows = [[str(r["number"]), str(r["arch"]), format_number(r["repeat"]), str(r["node"] or "-"),
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
            ("created", format_time(s.created)), ("finished", format_time(s.finished)), ("database", rep.db),
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
