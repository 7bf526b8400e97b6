"""What the figures share: axis labels named for their units, saving PNG/SVG/PDF, log axes, colours, ids."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scalesearch.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


AXIS_LABELS = {
    "macs": "MACs (multiply-accumulates)",
    "params": "Parameters",
    "acts": "Activations (output elements)",
    "latency": "Latency (ms, batch 1)",
    "latency_ms": "Latency (ms, batch 1)",
    "val_acc": "Validation accuracy",
    "test_acc": "Test accuracy",
    "train_acc": "Training accuracy",
    "val_loss": "Validation loss",
    "test_loss": "Test loss",
    "train_loss": "Training loss",
    "epoch": "Epoch",
}
LOG_AXES = ("macs", "params", "acts", "latency", "latency_ms")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", ":", "-.")
RASTERIZE_ABOVE = 5000  # scatter points beyond which SVG/PDF embed the cloud as an image (front stays vector)


def axis_label(col: str) -> str:
    """The axis label of a column: its unit for costs ("MACs (multiply-accumulates)"), a readable metric name.

    Example:
        >>> axis_label("macs"), axis_label("val_acc"), axis_label("depth")
        ('MACs (multiply-accumulates)', 'Validation accuracy', 'depth')
    """
    return AXIS_LABELS.get(col, col)


def save(fig: Figure, out: str | Path, *, dpi: int = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (by suffix), creating the folder; SVG text stays text, ids are stable.

    Example:
        >>> import tempfile
        >>> from matplotlib.figure import Figure
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save(Figure(), Path(d) / "empty.svg").stat().st_size > 0
        True
    """
    import matplotlib

    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise InputError(f"out {str(out)!r}: expected a .png, .svg or .pdf file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else {}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "scalesearch"}):
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
    return path


# --------------------------------------------------------------------------------------------------------------
# Helpers


def new_figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1) -> tuple[Figure, Any]:
    """A constrained-layout Figure (no pyplot) and its `nrows` x `ncols` axes as a 2-D array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def gid(*parts: Any) -> str:
    """An SVG-safe id from parts joined by "-": characters other than letters, digits, "_", "." and "-" become "_"."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]", "_", str(p)) for p in parts)


def combine_studies(data: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One DataFrame with a `study` column from a DataFrame, {study: DataFrame} or a list of DataFrames."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data if "study" in data.columns else data.assign(study="study")
    if isinstance(data, Mapping):
        frames = [df.assign(study=name) for name, df in data.items()]
    else:
        frames = [df if "study" in df.columns else df.assign(study=f"study{i}") for i, df in enumerate(data)]
    if not frames:
        raise InputError("data: no DataFrame given")
    return pd.concat(frames, ignore_index=True)


def resolve_x(df: pd.DataFrame, x: str) -> str:
    """The column an x axis names: `latency` is read from `latency_ms` when only that exists."""
    if x == "latency" and "latency" not in df.columns and "latency_ms" in df.columns:
        return "latency_ms"
    return x


def check_plot_columns(df: pd.DataFrame, cols: Sequence[str | None], what: str = "column") -> None:
    """InputError naming the first of `cols` (None: not asked for) that is not a column of `df`."""
    from scalesearch.analysis.columns import check_columns

    check_columns(df, [c for c in cols if c is not None], what)


def metric_direction(y: str) -> str:
    """The better direction of a metric by its name: "min" for a loss, error or latency, else "max"."""
    return "min" if any(t in y for t in ("loss", "err", "latency")) else "max"


@functools.cache
def _si_log_formatter_class() -> type:
    """A log-axis formatter class that picks the ticks to label as matplotlib's does but writes SI suffixes."""
    from matplotlib.ticker import EngFormatter, LogFormatter

    class SILogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return EngFormatter(sep="")(x)

    return SILogFormatter


def _si_log_formatter() -> Any:
    return _si_log_formatter_class()(labelOnlyBase=False)


def log_axis(ax: Axes, which: str = "x") -> None:
    """A log scale whose major and minor labels share one style: SI suffixes (300k, 3M, 10M), never "3x10^6"."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(_si_log_formatter())
    axis.set_minor_formatter(_si_log_formatter())


def colour_groups(df: pd.DataFrame, color: str | None) -> tuple[list[Any], Any, Any]:
    """(groups, per-row group codes or values, colour of a group / colormap) for a colour column."""
    import numpy as np
    from matplotlib import colormaps

    if color is None:
        return [None], np.zeros(len(df), dtype=int), lambda i: "tab:blue"
    col = df[color]
    numeric = col.dtype.kind in "if" and col.nunique() > 12
    if numeric:
        return [], col.to_numpy(dtype=float), colormaps["viridis"]
    import pandas as pd

    groups = sorted(col.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    codes = np.asarray(pd.Categorical(col, categories=groups).codes, dtype=int)
    if (codes < 0).any():
        codes[codes < 0] = len(groups)  # missing values: a group of their own, last
        groups.append(None)
    cmap = colormaps["tab10" if len(groups) <= 10 else "tab20"]
    return groups, codes, lambda i: cmap(i % cmap.N)


def row_ids(df: pd.DataFrame) -> list[Any]:
    """The trials' numbers (the row index labels without a `number` column); integral floats as ints."""
    ids = df["number"].tolist() if "number" in df.columns else df.index.tolist()
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in ids]
