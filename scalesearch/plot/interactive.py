"""The interactive (plotly) Pareto figure of the HTML report, its hover texts, and where a page gets plotly's
JavaScript from (inlined, or one shared local file); plotly imported inside."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from scalesearch.errors import InputError
from scalesearch.plot.common import (
    LOG_AXES,
    axis_label,
    check_plot_columns,
    combine_studies,
    metric_direction,
    resolve_x,
    row_ids,
)
from scalesearch.util.text import human


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.4g}"
    return str(v)


def hover_text(df: pd.DataFrame, *, y: str = "val_acc", params: Sequence[str] | None = None) -> list[str]:
    """One HTML hover text per row: architecture, study and trial, MACs, params, activations, metrics, parameters.

    Example:
        >>> import pandas as pd
        >>> hover_text(pd.DataFrame({"arch": ["r20"], "macs": [4.1e7], "params": [2.7e5], "val_acc": [0.91],
        ...                          "depth": [20]}))
        ['<b>r20</b><br>MACs: 41M<br>params: 270K<br>val_acc: 0.91<br>depth = 20']
    """
    from scalesearch import analysis as an

    params = an.parameter_columns(df) if params is None else list(params)
    metrics = [m for m in dict.fromkeys([y, *an.METRIC_COLUMNS]) if m in df.columns]
    costs = [(c, "MACs" if c == "macs" else c) for c in ("macs", "params", "acts", "latency_ms") if c in df.columns]
    out = []
    for row in df.to_dict("records"):
        head = [f"<b>{row['arch']}</b>"] if "arch" in row else []
        ident = " ".join(f"{k} {row[k]}" for k in ("study", "number") if k in row)
        lines = head + ([ident] if ident else [])
        lines += [f"{name}: {human(row[c])}" for c, name in costs]
        lines += [f"{m}: {_fmt(row[m])}" for m in metrics]
        lines += [f"{p} = {_fmt(row[p])}" for p in params]
        out.append("<br>".join(lines))
    return out


def pareto_figure_plotly(data: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame], *,
                         x: str = "macs", y: str = "val_acc", color: str | None = "family",
                         label: str | None = "arch", params: Sequence[str] | None = None,
                         y_direction: str | None = None, title: str | None = None) -> Any:
    """The interactive Pareto figure of the HTML report: hovering a point shows its parameters and costs.

    One trace per study and colour group (legend entries toggle them), each study's front as a step line with
    its points labelled, a log x axis named for its unit. Only "COMPLETE" rows are drawn.

    Args:
        data: trials (as for `plot_pareto`).
        x: the complexity column.
        y: the metric.
        color: the colour column, or None.
        label: the front's label column, or None.
        params: the parameters in the hover text (default `analysis.parameter_columns`).
        y_direction: "max" or "min" (default as `plot_pareto`).
        title: the title.

    Returns:
        A `plotly.graph_objects.Figure`.
    """
    import plotly.graph_objects as go

    from scalesearch import analysis as an
    from scalesearch.analysis.columns import complete_rows

    df = combine_studies(data)
    x = resolve_x(df, x)
    check_plot_columns(df, [x, y, color, label])
    df = complete_rows(df, True)
    df = df[df[x].notna() & df[y].notna()]
    direction = y_direction or metric_direction(y)
    symbols = ("circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "x", "star")
    fig = go.Figure()
    studies = list(dict.fromkeys(df["study"].tolist()))
    groups = sorted(df[color].dropna().unique().tolist(), key=str) if color else [None]
    for s, study in enumerate(studies):
        ds = df[df["study"] == study]
        for g in groups:
            dg = ds if g is None else ds[ds[color] == g]
            if dg.empty:
                continue
            name = (f"{color}={g}" if g is not None else "trials") + (f" · {study}" if len(studies) > 1 else "")
            fig.add_trace(go.Scatter(
                x=dg[x], y=dg[y], mode="markers", name=name, legendgroup=str(g),
                marker={"symbol": symbols[s % len(symbols)], "size": 7, "opacity": 0.75},
                text=hover_text(dg, y=y, params=params), hovertemplate="%{text}<extra></extra>",
                customdata=row_ids(dg), meta={"kind": "points", "study": str(study)}))
        f = an.pareto_front(ds, {y: direction, x: "min"}).sort_values([x, y], ascending=[True, direction == "min"])
        if len(f):
            fig.add_trace(go.Scatter(
                x=f[x], y=f[y], mode="lines+markers+text" if label else "lines+markers", line_shape="hv",
                name=f"front · {study}" if len(studies) > 1 else "front",
                text=f[label].astype(str) if label else None, textposition="top left",
                textfont={"size": 9}, hovertext=hover_text(f, y=y, params=params), hoverinfo="text",
                marker={"symbol": symbols[s % len(symbols)], "size": 10, "color": "rgba(0,0,0,0)",
                        "line": {"width": 1.5, "color": "black"}},
                line={"color": "black", "width": 1.2}, customdata=row_ids(f),
                meta={"kind": "front", "study": str(study)}))
    fig.update_xaxes(type="log" if x in LOG_AXES else "linear", title_text=axis_label(x))
    _readable_log_axis(fig, df[x], x)
    fig.update_yaxes(title_text=axis_label(y))
    fig.update_layout(title=title or f"{axis_label(y)} vs {axis_label(x).split(' (')[0]}", template="plotly_white",
                      hovermode="closest", legend={"font": {"size": 10}})
    return fig


def _readable_log_axis(fig: Any, values: pd.Series, x: str) -> None:
    """SI tick labels (3M, 10M, 30M) on a log complexity axis, with room on the left for the first front label."""
    v = values[values > 0].astype(float)
    if x not in LOG_AXES or v.empty:
        return
    lo, hi = math.log10(v.min()), math.log10(v.max())
    pad = max(0.08, 0.08 * (hi - lo))
    fig.update_xaxes(tickformat="~s", range=[lo - 2 * pad, hi + pad])


# plotly's JavaScript for HTML pages: inlined, or one shared local file (`scalesearch report --plotly-js`)


def plotly_asset() -> str:
    """The file name of the installed plotly's JavaScript bundle, versioned: `plotly-<plotly.js version>.min.js`."""
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


def check_plotly_js(plotly_js: str) -> str:
    """`plotly_js` as given if it is "inline" or a relative local path ending in .js, else a one-line ValueError."""
    if plotly_js == "inline":
        return plotly_js
    pure = PurePosixPath(plotly_js)
    if (not plotly_js.endswith(".js") or pure.is_absolute() or ":" in plotly_js or "\\" in plotly_js
            or any(c in plotly_js for c in "\"'<>?#%") or not pure.name[:-3]):
        raise InputError(f"--plotly-js: expected 'inline' or a relative path ending in .js (e.g. "
                         f"../_assets/{plotly_asset()}), got {plotly_js!r}")
    return plotly_js


def write_plotly_js(path: Path) -> None:
    """Write plotly's JavaScript to `path` unless it already holds exactly that."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs().encode("utf-8")
    if path.is_file() and path.stat().st_size == len(js) and path.read_bytes() == js:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(js)
    os.replace(tmp, path)
