"""Figures of search results: Pareto fronts, scaling curves, EDFs, learning curves, metric vs parameters.

Matplotlib figures are built on `matplotlib.figure.Figure` directly (no pyplot state, Agg rendering) and saved as
PNG, SVG or PDF by the suffix of `out`; `pareto_figure_plotly` builds the interactive figure of the HTML report.
matplotlib, plotly and pandas are imported inside the functions, so `import scalesearch.plot` costs nothing.

Modules: `common` (axis labels, saving, shared helpers), `front` (`plot_pareto`), `figures` (`plot_scaling`,
`plot_edf`, `plot_curves`, `plot_params`), `interactive` (plotly: `pareto_figure_plotly`, `hover_text`;
`plotly_asset`, `check_plotly_js`, `write_plotly_js`: a page's plotly JavaScript, inlined or shared). This package
re-exports their public names. It draws rows it is given and never opens a database: the figures of stored studies
(`scalesearch plot`) are `scalesearch.results.plots`, which reads the studies and calls these.

Units: the complexity axes are named for what they count, "MACs (multiply-accumulates)", never "FLOPs" (the
papers' FLOPs are MACs), "Parameters", "Activations"; latency is in milliseconds (`latency_ms`).

SVG element ids (matplotlib gids), stable so that tests and tools can read back what a figure shows. `s` is the
study's index in order of first appearance, `c` the colour group's index, `id` the trial's `number` (or the
row's index label when there is no `number` column):
    plot_pareto      points-{s}-{c} (scatter of one study and colour group), front-line-{s} (the step line),
                     front-point-{s}-{id} (one marker per front point), front-label-{s}-{id} (its label)
    plot_scaling     scaling-points-{g} (fitted), scaling-held-out-{g}, scaling-fit-{g}  (g: group index)
    plot_edf         edf-{g}, edf-band-{g}
    plot_curves      curve-{metric}-{s}-{id}
    plot_params      params-{name}
SVG text is written as <text> elements (svg.fonttype "none"), and ids are salted so that equal figures give
equal files.
"""

from scalesearch.plot.common import AXIS_LABELS, LINESTYLES, LOG_AXES, MARKERS, RASTERIZE_ABOVE, axis_label, save
from scalesearch.plot.figures import plot_curves, plot_edf, plot_params, plot_scaling
from scalesearch.plot.front import plot_pareto
from scalesearch.plot.interactive import (
    check_plotly_js,
    hover_text,
    pareto_figure_plotly,
    plotly_asset,
    write_plotly_js,
)

__all__ = ["AXIS_LABELS", "LINESTYLES", "LOG_AXES", "MARKERS", "RASTERIZE_ABOVE", "axis_label",
           "check_plotly_js", "hover_text", "pareto_figure_plotly", "plot_curves", "plot_edf", "plot_params",
           "plot_pareto", "plot_scaling", "plotly_asset", "save", "write_plotly_js"]
