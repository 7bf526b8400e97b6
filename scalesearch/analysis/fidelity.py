"""Rank fidelity of short runs: does epoch k (or a training-free score) rank a study's configurations as the full
budget does? What `scalesearch fidelity STUDY` prints (`rank_fidelity`, then `Fidelity.text`).

Definitions (every one stated again in the printed text):

    configurations  COMPLETE trials grouped by `config_key` (one configuration across its repeats), each value the
                    mean over its repeats. At epoch k only the completed trials that recorded epoch k count.
    final metric    each completed trial's stored last-epoch value of the metric (the trials frame's column, else
                    its last row of the epochs frame), averaged over the configuration's repeats.
    correlations    Spearman's rho and Kendall's tau-b (ties averaged, as scipy computes them) of the value at
                    epoch k (or of a `score_<name>` column: higher predicts better) with the final metric, over the
                    configurations that have both, with percentile intervals (95% by default) from a bootstrap over
                    configurations (`n_boot` draws, `np.random.default_rng(seed)`).
    faithful        epoch k is faithful when its Spearman point estimate is within `tol` of 1 (rho >= 1 - tol);
                    `faithful_epoch` is the smallest such k (the final epoch itself is always faithful: rho = 1).
    top-K overlap   how many of the K best configurations at k are among the K best by the final metric (shown
                    only when there are more than K configurations; with K or fewer the two sets are all of them).
    cost bias       Spearman's rho of the counted MACs with the rank gained from k to the end, gain = rank at k -
                    final rank (rank 1 the best). POSITIVE: costly configurations are ranked too LOW at k (they
                    climb by the end), the early ranking is biased against costly models; negative: biased for them.
                    No number where no configuration changes rank (the final epoch).
    too few         with fewer than `min_configs` (default 5) configurations no correlation, overlap or bias is
                    computed for that row: NaN, and the text says a rank correlation needs at least that many.

Only numpy and pandas are imported here (scipy's rankdata inside the function that ranks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import COMPLETE, direction_signs
from scalesearch.errors import InputError

__all__ = ["DEFAULT_BOOT", "DEFAULT_TOL", "DEFAULT_TOP_K", "MIN_CONFIGS", "Fidelity", "epoch_rows", "fidelity_text",
           "kendall_rows", "rank_fidelity", "score_rows", "spearman_rows"]

DEFAULT_TOL = 0.05
DEFAULT_TOP_K = 10
DEFAULT_BOOT = 1000
MIN_CONFIGS = 5
_KENDALL_CELLS = 4_000_000  # pairwise sign cells per chunk of the vectorised Kendall (float64: 32 MB)
_KENDALL_VECTOR_MAX = 400  # above this many configurations, Kendall's tau is computed draw by draw (O(n log n))


# --------------------------------------------------------------------------------------------------------------
# Rank correlations over many draws at once


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of `x` with the same row of `y` (2-D, equal shapes), ties averaged as
    `scipy.stats.spearmanr` does; NaN for a row where either side is constant.

    Example:
        >>> spearman_rows(np.array([[1, 2, 3], [1, 2, 3]]), np.array([[1, 2, 3], [3, 2, 1]])).tolist()
        [1.0, -1.0]
    """
    from scipy.stats import rankdata

    rx = rankdata(np.asarray(x, dtype=float), axis=1)
    ry = rankdata(np.asarray(y, dtype=float), axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (rx * ry).sum(axis=1) / den
    out[den <= 1e-12] = np.nan
    return np.clip(out, -1.0, 1.0)


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of `x` with the same row of `y` (2-D, equal shapes), as
    `scipy.stats.kendalltau` computes it (ties in either variable adjust the denominator); NaN for a row where
    either side is constant.

    Example:
        >>> kendall_rows(np.array([[1, 2, 3, 4]]), np.array([[1, 3, 2, 4]])).round(3).tolist()
        [0.667]
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = x.shape[1]
    if n > _KENDALL_VECTOR_MAX:
        from scipy.stats import kendalltau

        return np.array([kendalltau(a, b).statistic for a, b in zip(x, y, strict=True)], dtype=float)
    out = np.empty(x.shape[0])
    step = max(1, _KENDALL_CELLS // max(1, n * n))
    for s in range(0, x.shape[0], step):
        xs, ys = x[s:s + step], y[s:s + step]
        sx = np.sign(xs[:, :, None] - xs[:, None, :])
        sy = np.sign(ys[:, :, None] - ys[:, None, :])
        den = np.sqrt((sx * sx).sum(axis=(1, 2)) * (sy * sy).sum(axis=(1, 2)))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + step] = np.where(den > 0, (sx * sy).sum(axis=(1, 2)) / den, np.nan)
    return np.clip(out, -1.0, 1.0)


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    v = draws[~np.isnan(draws)]
    if not len(v):
        return math.nan, math.nan
    a = (1.0 - level) / 2.0 * 100.0
    return float(np.percentile(v, a)), float(np.percentile(v, 100.0 - a))


# --------------------------------------------------------------------------------------------------------------
# The analysis


@dataclass(frozen=True)
class Fidelity:
    """The rank fidelity of a study's short runs and training-free scores (see the module docstring).

    Attributes:
        table: one row per source: `source` ("epoch 3", "naswot"), `kind` ("epoch" or "score"), `epoch` (k, or
            NaN for a score), `n` (configurations), `spearman`, `spearman_lo`, `spearman_hi`, `kendall`,
            `kendall_lo`, `kendall_hi`, `top_k` (K used, 0 when n <= K), `overlap` (of the top K; NaN when not
            computed), `bias`, `bias_lo`, `bias_hi` (the cost bias) and `too_few` (n < `min_configs`).
        metric, direction: the final metric and whether higher ("max") or lower ("min") is better.
        n_configs: configurations with a final value.
        final_epoch: the largest epoch a completed trial recorded (the budget), or None without epochs.
        faithful_epoch: the smallest epoch whose Spearman point estimate is >= 1 - tol, or None.
        tol, top_k, min_configs, n_boot, seed, level, cost: the settings used.
    """

    table: pd.DataFrame
    metric: str
    direction: str
    n_configs: int
    final_epoch: int | None
    faithful_epoch: int | None
    tol: float
    top_k: int
    min_configs: int
    n_boot: int
    seed: int
    level: float = 0.95
    cost: str = "macs"
    notes: tuple[str, ...] = field(default=())

    def text(self, study: str | None = None) -> str:
        """The report `scalesearch fidelity` prints: the settings, every row, the smallest faithful epoch."""
        return fidelity_text(self, study)


def _goodness(values: pd.Series | np.ndarray, sign: float) -> np.ndarray:
    """Values turned so that higher is better (sign -1 of `direction_signs` for "max" keeps them)."""
    return -sign * np.asarray(values, dtype=float)


def _ranks_best_first(g: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(-g)


def _row(source: str, kind: str, epoch: float, pred: np.ndarray, final: np.ndarray, cost: np.ndarray | None,
         *, top_k: int, min_configs: int, n_boot: int, rng: np.random.Generator, level: float) -> dict:
    """One row of the table from aligned arrays: predictor (higher better), final goodness, cost."""
    n = len(pred)
    row: dict = {"source": source, "kind": kind, "epoch": epoch, "n": n, "too_few": n < min_configs,
                 "top_k": top_k if n > top_k else 0}
    nan = {k: math.nan for k in ("spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi",
                                 "overlap", "bias", "bias_lo", "bias_hi")}
    row.update(nan)
    if n < min_configs:
        return row
    row["spearman"] = float(spearman_rows(pred[None], final[None])[0])
    row["kendall"] = float(kendall_rows(pred[None], final[None])[0])
    idx = rng.integers(0, n, size=(n_boot, n))
    row["spearman_lo"], row["spearman_hi"] = _interval(spearman_rows(pred[idx], final[idx]), level)
    row["kendall_lo"], row["kendall_hi"] = _interval(kendall_rows(pred[idx], final[idx]), level)
    if n > top_k:
        best_at = set(np.argsort(-pred, kind="stable")[:top_k].tolist())
        best_end = set(np.argsort(-final, kind="stable")[:top_k].tolist())
        row["overlap"] = float(len(best_at & best_end))
    if cost is not None and not np.isnan(cost).any():
        gain = _ranks_best_first(pred) - _ranks_best_first(final)
        if np.ptp(gain) > 0 and np.ptp(cost) > 0:
            row["bias"] = float(spearman_rows(cost[None], gain[None])[0])
            row["bias_lo"], row["bias_hi"] = _interval(spearman_rows(cost[idx], gain[idx]), level)
    return row


def _final_values(trials: pd.DataFrame, epochs: pd.DataFrame | None, metric: str) -> pd.Series:
    """Each completed trial's final metric, indexed like `trials` (the column, else its last epoch's value)."""
    if metric in trials.columns:
        return trials[metric].astype(float)
    if epochs is None or metric not in epochs.columns or "number" not in epochs.columns:
        raise InputError(f"metric {metric!r}: neither a column of the trials nor recorded each epoch")
    last = epochs.sort_values("epoch", kind="stable").groupby("number")[metric].last()
    return trials["number"].map(last).astype(float)


def rank_fidelity(trials: pd.DataFrame, epochs: pd.DataFrame | None, *, metric: str = "val_acc",
                  direction: str = "max", cost: str = "macs", top_k: int = DEFAULT_TOP_K, tol: float = DEFAULT_TOL,
                  n_boot: int = DEFAULT_BOOT, seed: int = 0, min_configs: int = MIN_CONFIGS, level: float = 0.95,
                  by: str = "config_key") -> Fidelity:
    """How each epoch's ranking, and each training-free score's, agrees with the final ranking.

    Args:
        trials: one row per trial (`scalesearch.results.load_trials`): `state`, `by`, the metric (or `number` to
            find it in `epochs`), `cost` and any `score_<name>` columns. Only COMPLETE rows count.
        epochs: one row per (trial, epoch) (`load_epochs`): `state`, `by`, `epoch`, the metric; None or empty for
            the scores alone.
        metric: the metric ranked at every epoch and at the end (e.g. "val_acc").
        direction: "max" when higher is better, "min" when lower is (a loss).
        cost: the cost column of the bias (counted MACs); missing or with gaps: no bias is computed.
        top_k: K of the top-K overlap (>= 1).
        tol: epoch k is faithful when Spearman's rho >= 1 - tol (0 <= tol < 2).
        n_boot: bootstrap draws over configurations (>= 1).
        seed: the bootstrap's seed.
        min_configs: fewer configurations than this give no number (>= 3).
        level: the coverage of the percentile intervals.
        by: the column grouping repeats into configurations (a frame without it: each trial its own).

    Returns:
        A `Fidelity`: its table has one row per epoch 1..final, then one per score.

    Raises:
        InputError: a bad setting, or a metric that is neither a trial column nor an epoch column.

    Example:
        >>> t = pd.DataFrame({"state": "COMPLETE", "config_key": list("abcdef"), "number": range(6),
        ...                   "val_acc": [.5, .6, .7, .8, .9, .95], "macs": [1, 2, 3, 4, 5, 6]})
        >>> e = pd.DataFrame({"state": "COMPLETE", "config_key": list("abcdef") * 2, "number": list(range(6)) * 2,
        ...                   "epoch": [1] * 6 + [2] * 6, "val_acc": [.1, .2, .3, .4, .5, .6, .5, .6, .7, .8, .9, .95]})
        >>> f = rank_fidelity(t, e, n_boot=50)
        >>> f.table[["source", "n", "spearman"]].to_dict("records"), f.faithful_epoch
        ([{'source': 'epoch 1', 'n': 6, 'spearman': 1.0}, {'source': 'epoch 2', 'n': 6, 'spearman': 1.0}], 1)
    """
    (sign,) = direction_signs([direction])
    if top_k < 1:
        raise InputError(f"top_k: expected an integer >= 1, got {top_k}")
    if not 0 <= tol < 2:
        raise InputError(f"tol: expected 0 <= tol < 2, got {tol}")
    if n_boot < 1:
        raise InputError(f"n_boot: expected an integer >= 1, got {n_boot}")
    if min_configs < 3:
        raise InputError(f"min_configs: expected an integer >= 3, got {min_configs}")
    done = trials[trials["state"].astype(str) == COMPLETE] if "state" in trials.columns else trials
    done = done.assign(_config=done[by] if by in done.columns else done.index,
                       _final=_final_values(done, epochs, metric))
    scores = [c for c in done.columns if str(c).startswith("score_")]
    has_cost = cost in done.columns
    keep = ["_final", *([cost] if has_cost else []), *scores]
    conf = done.dropna(subset=["_final"]).groupby("_config", sort=False)[keep].mean()
    final = pd.Series(_goodness(conf["_final"], sign), index=conf.index)
    costs = conf[cost].astype(float) if has_cost else None
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    final_epoch: int | None = None
    notes: list[str] = []
    if epochs is not None and len(epochs) and metric in epochs.columns:
        ep = epochs[epochs["state"].astype(str) == COMPLETE] if "state" in epochs.columns else epochs
        ep = ep.dropna(subset=[metric])
        if by in ep.columns:
            ep = ep.assign(_config=ep[by])
        else:  # each trial its own configuration, keyed as the trials are
            ep = ep.assign(_config=ep["number"].map(dict(zip(done["number"], done["_config"], strict=True))))
        if len(ep):
            final_epoch = int(ep["epoch"].max())
        for k in range(1, (final_epoch or 0) + 1):
            at = ep[ep["epoch"] == k].groupby("_config", sort=False)[metric].mean()
            common = [c for c in final.index if c in at.index]
            pred = _goodness(at.loc[common], sign)
            rows.append(_row(f"epoch {k}", "epoch", float(k), pred, final.loc[common].to_numpy(),
                             None if costs is None else costs.loc[common].to_numpy(), top_k=top_k,
                             min_configs=min_configs, n_boot=n_boot, rng=rng, level=level))
    elif epochs is not None and len(epochs):
        notes.append(f"{metric} is not recorded each epoch: only the training-free scores are ranked")
    for s in scores:
        col = conf[s].astype(float)
        ok = col.notna().to_numpy()
        rows.append(_row(s.removeprefix("score_"), "score", math.nan, col.to_numpy()[ok], final.to_numpy()[ok],
                         None if costs is None else costs.to_numpy()[ok], top_k=top_k, min_configs=min_configs,
                         n_boot=n_boot, rng=rng, level=level))
    table = pd.DataFrame(rows, columns=["source", "kind", "epoch", "n", "spearman", "spearman_lo", "spearman_hi",
                                        "kendall", "kendall_lo", "kendall_hi", "top_k", "overlap", "bias",
                                        "bias_lo", "bias_hi", "too_few"])
    epochs_ok = table[(table["kind"] == "epoch") & (table["spearman"] >= 1.0 - tol - 1e-12)]
    faithful = int(epochs_ok["epoch"].min()) if len(epochs_ok) else None
    return Fidelity(table=table, metric=metric, direction=direction, n_configs=len(final), final_epoch=final_epoch,
                    faithful_epoch=faithful, tol=tol, top_k=top_k, min_configs=min_configs, n_boot=n_boot,
                    seed=seed, level=level, cost=cost if has_cost else "", notes=tuple(notes))


# --------------------------------------------------------------------------------------------------------------
# The text


def _ci(v: float, lo: float, hi: float) -> str:
    if math.isnan(v):
        return "n/a (all tied)"  # with enough configurations, only a constant side gives no correlation
    return f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]" if not math.isnan(lo) else f"{v:+.3f} [n/a]"


def fidelity_text(f: Fidelity, study: str | None = None) -> str:
    """`Fidelity` as the lines `scalesearch fidelity` prints (see `Fidelity.text`)."""
    t = f.table
    name = f"study {study}" if study else "the study"
    budget = f" (epoch {f.final_epoch})" if f.final_epoch else ""
    pct = round(f.level * 100)
    scores = int((t["kind"] == "score").sum())
    epochs = f"epochs 1-{f.final_epoch}" if f.final_epoch else "no epochs"
    what = f"each epoch's {f.metric}" + (", and each training-free score," if scores else "")
    lines = [(f"{name}: how {what} ranks the configurations as the final {f.metric}{budget} does; {f.n_configs} "
              f"configurations (COMPLETE trials, repeats averaged; at epoch k those that recorded it)"),
             (f"correlations: Spearman's rho and Kendall's tau-b with {pct}% percentile bootstrap intervals over "
              f"configurations ({f.n_boot} draws, seed {f.seed}); tolerance {f.tol:g}: epoch k is faithful when "
              f"rho >= {1 - f.tol:g}; top-K overlap with K = {f.top_k}"),
             *f.notes]
    if f.n_configs < f.min_configs:
        lines.append(f"{f.n_configs} configuration{'s' if f.n_configs != 1 else ''}: a rank correlation needs at "
                     f"least {f.min_configs}; no correlation, overlap or bias is computed ({epochs}"
                     + (f", {scores} training-free score{'s' if scores != 1 else ''}" if scores else "") + ")")
        return "\n".join(lines)
    if f.cost:
        cost = "MACs" if f.cost == "macs" else f.cost
        lines.append(f"cost bias: Spearman's rho of counted {cost} with (rank at k - final rank), rank 1 the best: "
                     "positive = costly models ranked too low early (they climb by the end), negative = ranked "
                     "too high")
    head = f"{'source':10} {'n':>4} {'spearman':>24} {'kendall':>24} {f'top-{f.top_k}':>8}"
    lines.append(head + (f" {'cost bias (rho)':>24}" if f.cost else ""))
    for r in t.itertuples():
        if r.too_few:
            lines.append(f"{r.source:10} {r.n:>4}  a rank correlation needs at least {f.min_configs} "
                         "configurations: no number")
            continue
        overlap = f"{int(r.overlap)}/{r.top_k}" if not math.isnan(r.overlap) else "n/a"
        line = f"{r.source:10} {r.n:>4} {_ci(r.spearman, r.spearman_lo, r.spearman_hi):>24} " \
               f"{_ci(r.kendall, r.kendall_lo, r.kendall_hi):>24} {overlap:>8}"
        if f.cost:
            bias = _ci(r.bias, r.bias_lo, r.bias_hi) if not math.isnan(r.bias) else "n/a (no rank changes)" \
                if r.kind == "epoch" and r.epoch == f.final_epoch else "n/a"
            line += f" {bias:>24}"
        lines.append(line)
    if (t["top_k"] == 0).any() and not t["too_few"].all():
        lines.append(f"top-{f.top_k} n/a: {f.top_k} or fewer configurations (the top K would be all of them)")
    lines.append(_verdict(f))
    if f.cost:
        lines.append(_bias_verdict(f))
    return "\n".join(lines)


def _verdict(f: Fidelity) -> str:
    t = f.table
    if f.final_epoch is None:
        return "faithful epoch: n/a (no per-epoch values of the metric)"
    if f.faithful_epoch is None:
        return f"faithful epoch: none (no epoch's rho >= {1 - f.tol:g})"
    rho = float(t.loc[(t["kind"] == "epoch") & (t["epoch"] == f.faithful_epoch), "spearman"].iloc[0])
    if f.faithful_epoch == f.final_epoch:
        return (f"faithful epoch: {f.final_epoch} of {f.final_epoch}, the final epoch only: no shorter run ranks "
                f"within {f.tol:g} of it")
    later = t[(t["kind"] == "epoch") & (t["epoch"] > f.faithful_epoch)]
    dips = later[later["spearman"] < 1.0 - f.tol]
    tail = (f"; epochs {', '.join(str(int(k)) for k in dips['epoch'])} fall below it again" if len(dips)
            else "")
    return (f"faithful epoch: {f.faithful_epoch} of {f.final_epoch} (rho {rho:+.3f} >= {1 - f.tol:g}: "
            f"{f.faithful_epoch / f.final_epoch:.0%} of the budget){tail}")


def _bias_verdict(f: Fidelity) -> str:
    ep = epoch_rows(f)
    against = [int(k) for k in ep.loc[ep["bias_lo"] > 0, "epoch"]]
    towards = [int(k) for k in ep.loc[ep["bias_hi"] < 0, "epoch"]]
    parts = []
    if against:
        parts.append(f"biased AGAINST costly models at epoch{'s' if len(against) > 1 else ''} "
                     f"{', '.join(map(str, against))} (interval above 0: they are ranked too low early)")
    if towards:
        parts.append(f"biased TOWARDS costly models at epoch{'s' if len(towards) > 1 else ''} "
                     f"{', '.join(map(str, towards))} (interval below 0: they are ranked too high early)")
    return "cost bias: " + ("; ".join(parts) if parts else "no epoch's interval excludes 0")


def epoch_rows(f: Fidelity) -> pd.DataFrame:
    """The table's epoch rows with numbers (not too few), in epoch order."""
    t = f.table
    return t[(t["kind"] == "epoch") & ~t["too_few"]].sort_values("epoch")


def score_rows(f: Fidelity) -> pd.DataFrame:
    """The table's training-free score rows with numbers."""
    t = f.table
    return t[(t["kind"] == "score") & ~t["too_few"]]
