"""The read side's commands: `query`, `compare`, `scores`, `fidelity`, `plot`, `report`.

Each opens the database read-only through `scalesearch.results`: `query` is `results.query` written out by
`results.frames.write_frame`, `compare` is `results.compare.compare_arms`, `fidelity` is
`results.study_fidelity.study_fidelity`, `plot` is `results.plots.plot_studies`, `report` is
`results.report.write_report`.
`add_query_arguments(parser)` and `run_query(args)` are the whole `query` command, for a parser of one's own.
The declarations read their choices from `results.frames` and `results.plots`, which load no pandas until they run.
"""

from __future__ import annotations

import argparse

__all__ = ["add_compare", "add_fidelity", "add_plot", "add_query", "add_query_arguments", "add_report", "add_scores", "run_fidelity",
           "run_plot", "run_query", "run_report", "run_scores"]

_DB_HELP = "the results database: a SQLAlchemy URL or a SQLite file (default results/scalesearch.db)"


# --------------------------------------------------------------------------------------------------------------
# query


def add_query(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch query` (with `full` False its help line only)."""
    p = sub.add_parser("query", help="one row per trial of studies, filtered, sorted, aggregated or reduced to "
                       "the Pareto front, as a table, CSV, JSON or Parquet")
    if full:
        add_query_arguments(p)
        p.set_defaults(func=run_query)


def add_query_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the arguments of `scalesearch query` on `p` (its handler is `run_query`)."""
    from scalesearch.results.frames import FORMATS

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
    from scalesearch.errors import InputError
    from scalesearch.results.frames import reading_columns, write_frame

    top = getattr(args, "top", None)
    if top is not None and top < 1:
        raise InputError(f"--top: expected an integer >= 1, got {top}")
    obj = getattr(args, "objectives", None)
    if obj is not None and not args.pareto:
        raise InputError("--objectives: only used with --pareto")
    df = results.query(args.db, args.studies or None, where=args.where, sort=args.sort, columns=args.columns,
                       top=top, pareto=args.pareto, aggregate_repeats=args.aggregate,
                       objectives=results.parse_objectives(obj) if obj else None)
    if args.format == "table" and args.columns is None:
        df = reading_columns(df, aggregated=args.aggregate)
    write_frame(df, args.format, getattr(args, "out", None), total=df.attrs.get("total"))
    return 0


# --------------------------------------------------------------------------------------------------------------
# compare


def add_scores(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch scores` (with `full` False its help line only)."""
    p = sub.add_parser(
        "scores", help="how well the training-free scores (and params, MACs) rank a study's trained configurations",
        description="Spearman's rho and Kendall's tau of each training-free score stored with the study's trials "
                    "(naswot, synflow, snip, grad_norm: computed on one seeded mini-batch before training), and of "
                    "params and MACs, with the trained metric over the configurations (COMPLETE trials, repeats "
                    "averaged), with 95% percentile bootstrap intervals over configurations, and each score's rho "
                    "minus params' rho on the same draws. The database is opened read-only.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--metric", default="val_acc", metavar="M", help="the trained metric (default val_acc)")
    p.add_argument("--boot", type=int, default=1000, metavar="N", help="bootstrap draws (default 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="the bootstrap's seed (default 0)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_scores)


def run_scores(args: argparse.Namespace) -> int:
    """Handler of `scalesearch scores`."""
    from scalesearch.errors import InputError
    from scalesearch.results.score_ranks import score_table

    if args.boot < 1:
        raise InputError("--boot: expected an integer >= 1")
    print(score_table(args.db, args.study, metric=args.metric, n_boot=args.boot, seed=args.seed))
    return 0


def add_fidelity(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch fidelity` (with `full` False its help line only)."""
    p = sub.add_parser(
        "fidelity", help="whether a short run ranks the configurations as the full budget does: each epoch's and "
                         "each training-free score's rank correlation with the final metric, and the cost bias")
    if not full:
        return
    from scalesearch.analysis.fidelity import DEFAULT_BOOT, DEFAULT_TOL, DEFAULT_TOP_K, MIN_CONFIGS

    p.description = (
        "For each epoch k, and each training-free score stored with the trials, Spearman's rho and Kendall's tau-b "
        "with the final metric (each completed trial's stored last-epoch value) over the study's configurations "
        "(COMPLETE trials, repeats averaged; at epoch k only the trials that recorded it), with 95% percentile "
        "bootstrap intervals over configurations; the smallest faithful k (Spearman's point estimate >= 1 - the "
        "tolerance); the top-K overlap (how many of the K best at k are among the K best at the end; shown when "
        "there are more than K configurations); and the cost bias: Spearman's rho of counted MACs with (rank at k "
        "- final rank), rank 1 the best, POSITIVE when costly models are ranked too low early (they climb by the "
        f"end). With fewer than {MIN_CONFIGS} configurations it says that a rank correlation needs at least "
        f"{MIN_CONFIGS} and prints no number. Draws the correlations, the overlap and the bias against k to the "
        "figure. The database is opened read-only.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--metric", default=None, metavar="M",
                   help="the metric ranked at each epoch and at the end: val_acc, val_loss, train_acc or train_loss "
                        "(default: the study's first objective, val_acc normally)")
    p.add_argument("--tol", type=float, default=DEFAULT_TOL, metavar="X",
                   help=f"tolerance: epoch k is faithful when Spearman's rho >= 1 - X (default {DEFAULT_TOL:g})")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, metavar="K",
                   help=f"K of the top-K overlap (default {DEFAULT_TOP_K})")
    p.add_argument("--boot", type=int, default=DEFAULT_BOOT, metavar="N",
                   help=f"bootstrap draws over configurations (default {DEFAULT_BOOT})")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="the bootstrap's seed (default 0)")
    p.add_argument("--out", metavar="FILE",
                   help="the figure (.png, .svg or .pdf; default results/<study>/fidelity.png, in a folder "
                        "scalesearch made)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_fidelity)


def run_fidelity(args: argparse.Namespace) -> int:
    """Handler of `scalesearch fidelity`."""
    from scalesearch.errors import InputError
    from scalesearch.results.study_fidelity import study_fidelity

    if args.boot < 1:
        raise InputError(f"--boot: expected an integer >= 1, got {args.boot}")
    if args.top_k < 1:
        raise InputError(f"--top-k: expected an integer >= 1, got {args.top_k}")
    if not 0 <= args.tol < 2:
        raise InputError(f"--tol: expected a number in [0, 2), got {args.tol:g}")
    f, path = study_fidelity(args.db, args.study, metric=args.metric, tol=args.tol, top_k=args.top_k,
                             n_boot=args.boot, seed=args.seed, out=args.out)
    print(f.text(args.study))
    print(f"figure: {path}" if path else "figure: none (no epoch has a rank correlation to draw)")
    return 0


def add_fit(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch fit` (with `full` False its help line only)."""
    p = sub.add_parser("fit", help="fit a scaling law per strategy on a ladder's lower steps and check its "
                                   "predictions on the steps above (intervals from refits on seeds)")
    if not full:
        return
    from scalesearch.analysis.ladder import DEFAULT_BOOT

    p.description = (
        "Per group (--by, e.g. the scaling strategy), fit error = a * x^b (+ c, the irreducible error, where at "
        "least 4 steps are fitted) against complexity (--x, counted MACs by default) on the steps of the ladder "
        "(--scale, e.g. phi) at or below --fit-upto, over each step's mean of the repeats; predict every trained "
        "step above it. Intervals (95%) come from refits on repeats drawn with replacement (the same draw for "
        "every group, since repeat r trains with the same seed everywhere). A prediction 'held' where the observed "
        "mean lies inside its interval, 'missed' where it lies outside, and is 'not checkable' where the interval "
        "is not narrower than the spread between the groups' observed means at that step. The database is opened "
        "read-only.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--by", required=True, metavar="COL", help="the group column (e.g. arm or strategy)")
    p.add_argument("--scale", required=True, metavar="COL", help="the ladder's step column (e.g. phi)")
    p.add_argument("--fit-upto", required=True, type=float, metavar="V",
                   help="the largest step fitted; the trained steps above it are predicted and checked")
    p.add_argument("--x", default="macs", metavar="COL", help="the complexity fitted against (default macs)")
    p.add_argument("--metric", default="val_acc", metavar="M", help="the metric (default val_acc; an accuracy "
                                                                    "is fitted as its error)")
    p.add_argument("--offset", action=argparse.BooleanOptionalAction, default=None,
                   help="fit an irreducible error (default: where at least 4 steps are fitted)")
    p.add_argument("--boot", type=int, default=DEFAULT_BOOT, metavar="N",
                   help=f"refits on repeats drawn with replacement (default {DEFAULT_BOOT})")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="the bootstrap's seed (default 0)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_fit)


def run_fit(args: argparse.Namespace) -> int:
    """Handler of `scalesearch fit`."""
    from scalesearch.analysis.ladder import fit_ladder
    from scalesearch.errors import InputError
    from scalesearch.results.load import load_trials

    if args.boot < 1:
        raise InputError(f"--boot: expected an integer >= 1, got {args.boot}")
    f = fit_ladder(load_trials(args.db, args.study), by=args.by, scale=args.scale, fit_upto=args.fit_upto,
                   x=args.x, metric=args.metric, offset=args.offset, n_boot=args.boot, seed=args.seed)
    print(f"study {args.study}: {args.metric} on a ladder of {args.scale}")
    print("\n".join(f.lines()))
    return 0


def add_compare(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch compare` (with `full` False its help line only)."""
    p = sub.add_parser(
        "compare", help="two arms of a study: their difference with its interval, the test, and the regime guards",
        description="Compare two arms of a study, each a condition in the query language over the trials' "
                    "columns (COMPLETE trials only): the difference A - B of the metric with its Student t "
                    "interval (paired with --pair-by, else Welch's), the t-test, the smallest difference the trials "
                    "could detect at 80% power, and the regime guards, each a line naming its trials: positive "
                    "control (an arm not shown to beat the spec's baseline: scaling verdicts are not decidable "
                    "here), not converged (the metric still improving over the last quarter of the epochs by more "
                    "than the margin: last epoch vs epoch floor(3E/4)), failed start (val_acc at chance, within 2 "
                    "binomial standard errors of 1/K on the validation size, at epoch ceil(E/4)), unequal cost (the "
                    "arms' counted MACs differ by more than 5%), memorising (an arm whose last-epoch train_acc "
                    "beats the baseline's, interval above 0, while its val_acc interval reaches 0: a diagnostic, "
                    "never a gate). Exit 0 whenever the difference is computed, guards "
                    "or not. The database is opened read-only.")
    if not full:
        return
    from scalesearch.analysis.guards import DEFAULT_MARGIN

    p.add_argument("study", metavar="STUDY")
    p.add_argument("--a", required=True, metavar="EXPR", help="arm A, e.g. \"grow == 'cardinality'\" or \"w == 8\"")
    p.add_argument("--b", required=True, metavar="EXPR", help="arm B, disjoint from A")
    p.add_argument("--metric", default="val_acc", metavar="M", help="a trial column (default val_acc)")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="X",
                   help=f"the smallest difference that matters, in the metric's units: the threshold of 'not "
                        f"converged' and of 'equal within the margin' (default {DEFAULT_MARGIN:g}, i.e. "
                        f"{DEFAULT_MARGIN * 100:g} percentage points of accuracy)")
    p.add_argument("--pair-by", default=None, metavar="COL",
                   help="pair A's and B's trials with equal values of this column (e.g. repeat); default unpaired")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Handler of `scalesearch compare`."""
    from scalesearch.results.compare import compare_arms

    print(compare_arms(args.db, args.study, args.a, args.b, metric=args.metric, margin=args.margin,
                       pair_by=args.pair_by).text())
    return 0


# --------------------------------------------------------------------------------------------------------------
# plot


def add_plot(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch plot` (with `full` False its help line only)."""
    p = sub.add_parser(
        "plot", help="plot studies: Pareto front, scaling fit, error EDF, learning curves or metric vs parameters",
        description="Draw one figure of one or more studies with matplotlib (PNG, SVG or PDF by the --out suffix). "
                    "pareto: the metric against MACs (log axis) with each study's front drawn and labelled; "
                    "scaling: a power-law fit of error vs complexity per family (or --color); edf: error EDFs with "
                    "bootstrap bands; curves: learning curves; params: the metric against each parameter. Only "
                    "COMPLETE trials are drawn. The database is opened read-only.")
    if not full:
        return
    from scalesearch.results.plots import PLOT_KINDS, X_AXES

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
                   help="the image file (.png, .svg or .pdf; default results/<study>/<kind>.png, in a folder "
                        "scalesearch made)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """Handler of `scalesearch plot`."""
    from scalesearch.results.plots import plot_studies

    print(plot_studies(args.studies, db=args.db, kind=args.kind, x=args.x, y=args.y, color=args.color,
                       where=args.where, aggregate=args.aggregate, out=args.out))
    return 0


# --------------------------------------------------------------------------------------------------------------
# report


def add_report(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch report` (with `full` False its help line only)."""
    p = sub.add_parser(
        "report", help="write results/<study>/report.md and a self-contained, interactive report.html",
        description="Write a study's report: the spec, the leaderboard (repeats aggregated: mean, standard error, "
                    "95% interval), the Pareto table, the figures (PNG and SVG files beside report.md; interactive "
                    "plotly figures inlined in report.html, which fetches nothing from the network), failures, "
                    "hardware, package versions and wall time. The database is opened read-only.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY", help="the study")
    p.add_argument("--out", metavar="DIR", help="the folder (default results/<study>, which scalesearch creates and "
                                                "marks with a .scalesearch file; an existing one without it is refused)")
    p.add_argument("--top", metavar="N", type=int, default=25, help="leaderboard rows (default 25)")
    p.add_argument("--db", metavar="URL", default=None, help=_DB_HELP)
    p.add_argument("--plotly-js", metavar="PATH", default="inline",
                   help="inline (default: one self-contained page), or a path relative to the report's folder, "
                        "ending in .js, where plotly's JavaScript is written once and loaded from, shared by the "
                        "reports beside it (e.g. ../_assets/plotly.min.js; the page then needs that file)")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of `scalesearch report`."""
    from scalesearch.errors import InputError
    from scalesearch.results.report import write_report

    if args.top < 1:
        raise InputError(f"--top: expected an integer >= 1, got {args.top}")
    paths = write_report(args.db, args.study, args.out, top=args.top, plotly_js=args.plotly_js)
    print(paths.markdown)
    print(paths.html)
    return 0


def add_export(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch export` (with `full` False its help line only)."""
    p = sub.add_parser("export", help="write trained networks of a study: netspec, weights, TorchScript, card",
                       description="Write, for each trial asked, <out>/trial_<N>/: netspec.json, weights.pt (a "
                                   "state_dict), model.ts (TorchScript of the network with its weights, no "
                                   "preprocessing inside) and card.md (metrics, cost, dataset with class names, "
                                   "mean and std, recipe, seed, hardware); --onnx adds model.onnx. Only trials "
                                   "whose weights the search kept (the spec's search.keep) can be exported.")
    if not full:
        return
    p.add_argument("study", metavar="STUDY")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, metavar="N", help="the trial numbered N")
    which.add_argument("--best", action="store_true", help="the completed trial with the best val_acc")
    which.add_argument("--front", action="store_true", help="every trial on the study's Pareto front")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write into (created)")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx extra)")
    p.add_argument("--db", default=None, metavar="URL", help=_DB_HELP)
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from scalesearch.results.export import export_trials

    for path in export_trials(args.db, args.study, args.out, trial=args.trial, best=args.best, front=args.front,
                              onnx=args.onnx):
        print(path)
    return 0
