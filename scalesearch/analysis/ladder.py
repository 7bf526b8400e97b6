"""Scaling-law fits on a ladder, extrapolation checked: `fit_ladder`.

A ladder is a study whose trials carry a scale column (EfficientNet's phi, a width multiplier, a depth) and a group
column (the scaling strategy). Per group, a power law of error against complexity (`fits.fit_power_law`; with an
irreducible error where at least 4 fitted steps allow it) is fitted on the steps at or below `fit_upto` and
predicts every step above it. The uncertainty is a bootstrap over seeds (repeats): each draw resamples the repeats
with replacement (the same draw for every group and step, since repeat r trains with the same seed everywhere),
averages each step's error over the drawn repeats and refits; the percentile interval of the refits' predictions
is the prediction interval, that of the drawn means the observed interval.

A prediction is checked against the trained step: "held" where the observed mean lies inside the prediction
interval, "missed" where it lies outside, and "not checkable" where the interval is not narrower than the spread
between the groups' observed means at that step (a prediction that cannot tell the strategies apart decides
nothing; with one group every prediction is "not checkable").

Legend: err, error (1 - accuracy for an accuracy metric); x, the complexity column (counted MACs by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalesearch.analysis.columns import check_columns, complete_rows, to_error
from scalesearch.analysis.fits import fit_power_law
from scalesearch.errors import InputError

__all__ = ["DEFAULT_BOOT", "LadderFit", "fit_ladder"]

DEFAULT_BOOT = 1000
MIN_OFFSET_STEPS = 4  # an irreducible error is fitted only with at least this many fitted steps


@dataclass(frozen=True)
class LadderFit:
    """What `fit_ladder` returns.

    `laws`: one row per group: `group`, `steps_fit`, `a`, `b`, `c`, `offset`. `checks`: one row per (group, step
    above `fit_upto`): `group`, `scale`, `x`, `observed`, `observed_lo`, `observed_hi`, `predicted`,
    `predicted_lo`, `predicted_hi`, `spread` (max - min of the groups' observed means at that step) and `verdict`
    ("held", "missed" or "not checkable"); values in the metric's units (accuracy for an accuracy metric).
    """

    metric: str
    scale: str
    by: str
    fit_upto: float
    n_repeats: int
    n_boot: int
    level: float
    laws: pd.DataFrame
    checks: pd.DataFrame

    def lines(self) -> list[str]:
        """The fit as printed by `scalesearch fit`."""
        pct = round(self.level * 100)
        out = [(f"per {self.by}: error = a * x^b (+ c) fitted on {self.scale} <= {self.fit_upto:g}, over the means "
                f"of {self.n_repeats} repeats; {pct}% intervals from {self.n_boot} refits on repeats drawn with "
                "replacement (the same draw for every group)")]
        for _, r in self.laws.iterrows():
            out.append(f"{r['group']}: b = {r['b']:+.3f}, c = {r['c']:.4f} ({'with' if r['offset'] else 'no'} "
                       f"irreducible error; {int(r['steps_fit'])} fitted steps)")
        if self.checks.empty:
            out.append(f"no trained step above {self.scale} = {self.fit_upto:g}: nothing to check")
        for _, r in self.checks.iterrows():
            out.append(f"{r['group']} at {self.scale} = {r['scale']:g}: predicted {r['predicted']:.4f} "
                       f"[{r['predicted_lo']:.4f}, {r['predicted_hi']:.4f}], observed {r['observed']:.4f} "
                       f"[{r['observed_lo']:.4f}, {r['observed_hi']:.4f}]; spread between groups {r['spread']:.4f}: "
                       f"{r['verdict']}")
        return out


def fit_ladder(trials: pd.DataFrame, *, by: str, scale: str, fit_upto: float, x: str = "macs",
               metric: str = "val_acc", repeat: str = "repeat", offset: bool | None = None,
               n_boot: int = DEFAULT_BOOT, seed: int = 0, level: float = 0.95,
               complete_only: bool = True) -> LadderFit:
    """Fit each group's scaling law on the steps up to `fit_upto` and check its predictions above it.

    Args:
        trials: one row per trained trial with the `by`, `scale`, `x`, `metric` and `repeat` columns.
        by: the group column (the scaling strategy).
        scale: the ladder's step column (e.g. phi).
        fit_upto: the largest step fitted; the steps above it are predicted and checked.
        x: the complexity the law is fitted against (counted MACs by default).
        metric: an accuracy (error = 1 - accuracy) or an error/loss.
        repeat: the repeat column (repeat r trains with the same seed in every group and step).
        offset: fit an irreducible error (None: where a group has at least 4 fitted steps).
        n_boot: bootstrap draws over repeats.
        seed: the bootstrap's seed.
        level: the intervals' coverage.
        complete_only: use only "COMPLETE" rows.

    Returns:
        A LadderFit.

    Raises:
        InputError: a missing column, a group with fewer than 2 fitted steps, fewer than 2 repeats, or
            `offset=True` with fewer than 4 fitted steps.

    Example:
        >>> rows = [{"arm": "w", "phi": p, "macs": 2.0 ** p, "repeat": r,
        ...          "val_acc": 1 - 0.3 * 2.0 ** (-0.5 * p) + 0.001 * (r - 1)} for p in range(4) for r in range(3)]
        >>> f = fit_ladder(pd.DataFrame(rows), by="arm", scale="phi", fit_upto=2, n_boot=200)
        >>> round(float(f.laws.iloc[0]["b"]), 3), f.checks.iloc[0]["verdict"]
        (-0.5, 'not checkable')
    """
    check_columns(trials, [by, scale, x, metric, repeat])
    if n_boot < 1 or not 0 < level < 1:
        raise InputError(f"n_boot {n_boot}, level {level}: expected n_boot >= 1 and 0 < level < 1")
    d = complete_rows(trials, complete_only)
    d = d.assign(_err=to_error(d[metric], metric))
    d = d[d[[scale, x, "_err", repeat]].notna().all(axis=1)]
    repeats = sorted(d[repeat].unique())
    if len(repeats) < 2:
        raise InputError(f"{repeat}: {len(repeats)} repeat(s); a bootstrap over seeds needs at least 2")
    accuracy = bool(to_error([0.25], metric)[0] != 0.25)  # an accuracy: shown as accuracy, fitted as error
    table = d.pivot_table(index=[by, scale], columns=repeat, values="_err")  # error per (group, step) and repeat
    xs = d.groupby([by, scale])[x].mean()
    groups = list(dict.fromkeys(table.index.get_level_values(0)))
    fits: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
    for g in groups:
        steps = np.array(sorted(table.loc[g].index), dtype=float)
        fitted, held = steps[steps <= fit_upto], steps[steps > fit_upto]
        if len(fitted) < 2:
            raise InputError(f"{by} {g!r}: {len(fitted)} step(s) at or below {scale} = {fit_upto:g}; a power law "
                             "needs at least 2")
        use_offset = len(fitted) >= MIN_OFFSET_STEPS if offset is None else offset
        if use_offset and len(fitted) < MIN_OFFSET_STEPS:
            raise InputError(f"{by} {g!r}: an irreducible error needs at least {MIN_OFFSET_STEPS} fitted steps, "
                             f"{len(fitted)} are at or below {scale} = {fit_upto:g}")
        fits[g] = (fitted, held, use_offset)

    def means(cols: np.ndarray) -> pd.Series:
        return table[cols].mean(axis=1)

    def refit(m: pd.Series) -> dict[str, tuple[float, ...]]:
        out = {}
        for g, (fitted, held, use_offset) in fits.items():
            law = fit_power_law([xs.loc[(g, s)] for s in fitted], [m.loc[(g, s)] for s in fitted],
                                offset=use_offset)
            out[g] = (law, *(float(law.predict(xs.loc[(g, s)])) for s in held))
        return out

    point = refit(means(np.array(repeats)))
    rng = np.random.default_rng(seed)
    draws_pred: dict[str, list[tuple[float, ...]]] = {g: [] for g in groups}
    draws_obs: list[pd.Series] = []
    for _ in range(n_boot):
        cols = rng.choice(np.array(repeats), size=len(repeats), replace=True)
        m = means(cols)
        draws_obs.append(m)
        for g, (_, *pred) in refit(m).items():
            draws_pred[g].append(tuple(pred))
    obs = pd.concat(draws_obs, axis=1)
    q = ((1 - level) / 2, (1 + level) / 2)
    full = means(np.array(repeats))

    def show(e: float) -> float:
        return 1 - e if accuracy else e

    laws, checks = [], []
    for g, (fitted, held, use_offset) in fits.items():
        law = point[g][0]
        laws.append({"group": g, "steps_fit": len(fitted), "a": law.a, "b": law.b, "c": law.c,
                     "offset": use_offset})
        preds = np.array(draws_pred[g], dtype=float)
        for j, s in enumerate(held):
            at = [h for h in groups if (h, s) in full.index]
            spread = float(np.ptp([full.loc[(h, s)] for h in at])) if len(at) > 1 else 0.0
            plo, phi_ = np.quantile(preds[:, j], q)
            olo, ohi = np.quantile(obs.loc[(g, s)].to_numpy(dtype=float), q)
            observed = float(full.loc[(g, s)])
            verdict = ("not checkable" if phi_ - plo >= spread else
                       "held" if plo <= observed <= phi_ else "missed")
            lo_hi = sorted((show(plo), show(phi_)))
            o_lo_hi = sorted((show(olo), show(ohi)))
            checks.append({"group": g, "scale": float(s), "x": float(xs.loc[(g, s)]), "observed": show(observed),
                           "observed_lo": o_lo_hi[0], "observed_hi": o_lo_hi[1], "predicted": show(point[g][1 + j]),
                           "predicted_lo": lo_hi[0], "predicted_hi": lo_hi[1], "spread": spread,
                           "verdict": verdict})
    cols = ["group", "scale", "x", "observed", "observed_lo", "observed_hi", "predicted", "predicted_lo",
            "predicted_hi", "spread", "verdict"]
    return LadderFit(metric, scale, by, float(fit_upto), len(repeats), n_boot, level, pd.DataFrame(laws),
                     pd.DataFrame(checks, columns=cols))
