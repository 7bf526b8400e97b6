"""Costing a whole space without training (`scalesearch validate`): `check_space` and its report."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from scalesearch.spec.diagnostics import NOLOC, error_field, error_text
from scalesearch.spec.expr import Expr
from scalesearch.spec.resolve import Candidate, Match, baseline_candidate, fmt_values, resolve_values
from scalesearch.spec.schema import Point, SearchSpec
from scalesearch.spec.space import RandomSuggest, enumerate_grid, grid_point, grid_size, sample_params
from scalesearch.train.config import TrainConfig
from scalesearch.util.checks import check_int
from scalesearch.util.text import short

MAX_SAMPLES = 100_000  # random candidates `check_space` may cost


@dataclass(frozen=True)
class SpaceReport:
    """What `check_space` found. `n_candidates` is None for spaces with continuous parameters; `exhaustive` says
    whether every candidate was costed (else `evaluated` were sampled with RandomSuggest(spec.seed))."""

    study: str
    family: str
    sampler: str
    n_candidates: int | None
    exhaustive: bool
    evaluated: int
    feasible: int
    distinct: int
    macs_range: tuple[int, int] | None
    params_range: tuple[int, int] | None
    rejections: tuple[tuple[str, int], ...]
    invalid: int
    invalid_example: str
    matched: tuple[tuple[str, Match], ...]
    named: tuple[tuple[str, Candidate], ...]
    warnings: tuple[str, ...]
    trials: int | None
    points: tuple[Candidate, ...] = ()  # every candidate evaluated, in order (not part of to_dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form `scalesearch validate --json` prints (without `points`)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "points"}
        d["matched"] = [dict(dataclasses.asdict(m), at=at, rel_error=m.rel_error) for at, m in self.matched]
        d["named"] = [{"name": n, **p.summary()} for n, p in self.named]
        d["rejections"] = [{"constraint": c, "rejected": k} for c, k in self.rejections]
        return d


def check_space(spec: SearchSpec, *, samples: int = 256, limit: int = 20000) -> SpaceReport:
    """Resolve and cost the space without training: the baseline, the named points and every grid point (or
    `samples` random candidates when the space is continuous or larger than `limit`).

    The space is counted before anything is listed: a grid of 10**15 points is sampled, never enumerated.

    Raises:
        SpecError: the baseline or a point fails to resolve, an expression fails somewhere in the space, or no
            candidate is feasible (a fully infeasible space).
        FieldError: `samples` is not in [1, MAX_SAMPLES].
    """
    check_int("samples", samples, 1, MAX_SAMPLES)
    check_train(spec, {k: v for k, v in spec.train if not exprs_in(v)}, "")
    named: list[tuple[str, Candidate]] = []
    if spec.baseline is not None:
        named.append(("baseline", named_point(spec, spec.baseline)))
    for pt in spec.points:
        named.append((pt.name, named_point(spec, pt)))
    enumerable = all(p.enumerable for p in spec.sampled)
    n_candidates = grid_size(spec) if enumerable else None
    if spec.search.points_only:
        pts = [p for _, p in named]
        exhaustive = True
        n_candidates = len(pts)
    elif enumerable and n_candidates is not None and n_candidates <= limit:
        pts = enumerate_grid(spec, limit=limit)
        exhaustive = True
    else:
        rs = RandomSuggest(spec.seed)
        pts = [grid_point(spec, sample_params(spec, rs)) for _ in range(samples)]
        exhaustive = False
    feas = [p for p in pts if p.feasible]
    counts: dict[str, int] = {c.expr.source: 0 for c in spec.constraints}
    invalid, example = 0, ""
    for p in pts:
        for r in p.rejected_by:
            if r.startswith("architecture: "):
                invalid += 1
                example = example or f"{fmt_values(p.sampled)}: {r[len('architecture: '):]}"
            else:
                counts[r] += 1
    if not feas and invalid == len(pts) and pts:
        resolve_values(spec, pts[0].sampled)  # every point is an invalid architecture: raise the first one's error
    if not feas:
        what = (f"all {len(pts)} grid points" if exhaustive else f"all {len(pts)} sampled candidates")
        parts = [f"{c!r} rejects {k}" for c, k in counts.items() if k]
        if invalid:
            parts.append(f"{invalid} invalid architectures (e.g. {example})")
        worst = max(range(len(spec.constraints)), key=lambda i: counts[spec.constraints[i].expr.source], default=None)
        loc = spec.constraints[worst].loc if worst is not None and any(counts.values()) else spec.architecture.loc
        raise (loc or NOLOC).error(f"the space is infeasible: {what} are rejected ({'; '.join(parts)})",
                                    "at least one candidate that satisfies every constraint")
    matched = tuple((fmt_values(p.sampled), m) for p in pts for m in p.matches)
    warnings = space_warnings(spec)
    if spec.search.sampler == "grid" and spec.search.trials is not None and exhaustive and \
            spec.search.trials > len(feas) + len(named):
        warnings += (f"trials {spec.search.trials} exceeds the {len(feas)} feasible grid points",)
    return SpaceReport(
        study=spec.study, family=spec.architecture.family, sampler=spec.search.sampler, n_candidates=n_candidates,
        exhaustive=exhaustive, evaluated=len(pts), feasible=len(feas), distinct=len({p.hash for p in feas}),
        macs_range=(min(p.macs for p in feas), max(p.macs for p in feas)),  # type: ignore[type-var]
        params_range=(min(p.params for p in feas), max(p.params for p in feas)),  # type: ignore[type-var]
        rejections=tuple(counts.items()), invalid=invalid, invalid_example=example, matched=matched,
        named=tuple(named), warnings=warnings, trials=spec.search.trials, points=tuple(pts))


def named_point(spec: SearchSpec, pt: Point) -> Candidate:
    """The baseline or a named point, resolved, with its evaluated training settings checked."""
    where = "for the baseline" if pt is spec.baseline else f"for point {pt.name}"
    c = baseline_candidate(spec) if pt is spec.baseline else resolve_values(spec, pt.as_dict(), where)
    check_train(spec, c.train, f" ({where})")
    return c


def check_train(spec: SearchSpec, values: dict[str, Any], where: str) -> None:
    """Build a TrainConfig from training overrides, so that its own checks run before any training."""
    if not values:
        return
    locs = dict(spec.train_locs)
    try:
        TrainConfig(**values)
    except (ValueError, TypeError) as e:
        problem, expected = error_text(e)
        loc = locs.get(error_field(e)) or next(iter(locs.values()), None) or NOLOC
        raise loc.error(f"invalid training setting{where}: {problem}", expected or "values TrainConfig accepts") \
            from None


def space_warnings(spec: SearchSpec) -> tuple[str, ...]:
    """Parameters nothing uses (not the architecture, training, constraints or another parameter)."""
    used: set[str] = set()
    for _, v in spec.architecture.args + spec.train:
        for e in exprs_in(v):
            used |= e.names
    for c in spec.constraints:
        used |= c.expr.names
    for p in spec.parameters:
        used |= p.deps
    out = []
    for p in spec.parameters:
        if p.name not in used:
            out.append(f"parameter {p.name!r} is not used by the architecture, training, constraints or other "
                       "parameters")
    return tuple(out)


def exprs_in(v: Any) -> list[Expr]:
    """The expressions of an argument value (an Expr, or a tuple holding some)."""
    if isinstance(v, Expr):
        return [v]
    if isinstance(v, tuple):
        return [e for x in v for e in exprs_in(x)]
    return []


def _data_line(ds: Any) -> str:
    """The dataset's split sizes, channels and classes as `validate` prints them (file datasets: probed)."""
    info = ds.info
    train = ds.train_size if ds.train_size is not None else info.train_size - ds.val_size
    test = ds.test_size if ds.test_size is not None else info.test_size
    classes = ds.classes
    names = ", ".join(classes[:8]) + (f", ... ({len(classes)})" if len(classes) > 8 else "")
    where = f"{ds.origin}: " if ds.origin else ""
    return (f"{where}{info.train_size} training-pool images -> train {train}, val {ds.val_size}; test {test}; "
            f"{info.in_channels} channel{'s' * (info.in_channels > 1)}; {len(classes)} classes: {names}")


def format_report(report: SpaceReport, spec: SearchSpec) -> str:
    """The human-readable summary `scalesearch validate` prints."""
    from scalesearch.nets.cost import human

    def pct(x: float) -> str:
        """A relative error as a signed percentage."""
        return f"{100 * x:+.1f}%"

    ds = spec.dataset
    s = spec.search
    lines = [f"study        {spec.study}  ({spec.file})",
             (f"family       {spec.architecture.family}  on {ds.name} {ds.in_channels}x{ds.input_resolution}x"
              f"{ds.input_resolution}, {ds.num_classes} classes")]
    lines.append(f"data         {_data_line(ds)}")
    objs = ", ".join(f"{o.name} {o.direction}" for o in s.objectives)
    trials = "every grid point" if s.trials is None else f"{s.trials} trials"
    es = f", early stopping {s.early_stopping.type}" if s.early_stopping else ""
    lines.append(f"search       {s.sampler}, {trials} x {s.repeats} repeat{'s' * (s.repeats > 1)}, objectives "
                 f"{objs}{es}, {s.max_concurrency} concurrent")
    if s.points_only:
        what = f"{report.n_candidates} named points only"
    elif report.n_candidates is None:
        what = "continuous space"
    else:
        what = f"{report.n_candidates} {'grid points' if s.sampler == 'grid' else 'candidates'}"
    how = "all costed" if report.exhaustive else f"{report.evaluated} sampled (seed {spec.seed})"
    lines.append(f"candidates   {what} ({how}): {report.feasible} feasible, {report.distinct} distinct "
                 f"architectures, {report.evaluated - report.feasible} rejected")
    if report.macs_range and report.params_range:
        lines.append(f"MACs         {human(report.macs_range[0])} .. {human(report.macs_range[1])} (feasible)")
        lines.append(f"params       {human(report.params_range[0])} .. {human(report.params_range[1])} (feasible)")
    if report.rejections or report.invalid:
        width = max([len(c) for c, _ in report.rejections] + [12])
        first = True
        for c, k in report.rejections:
            lines.append(f"{'constraints' if first else '':12} {c:{width}}  rejects {k}")
            first = False
        if report.invalid:
            lines.append(f"{'constraints' if first else '':12} {'(invalid architecture)':{width}}  rejects "
                         f"{report.invalid}, e.g. {short(report.invalid_example, 100)}")
    if report.matched:
        by: dict[str, list[tuple[str, Match]]] = {}
        for at, m in report.matched:
            by.setdefault(m.name, []).append((at, m))
        first = True
        for name, ms in by.items():
            errs = [m.rel_error for _, m in ms]
            plural = "s" * (len(ms) > 1)
            lines.append(f"{'matched' if first else '':12} {name} ({ms[0][1].metric}): {len(ms)} candidate{plural}, "
                         f"achieved vs target {pct(min(errs))} .. {pct(max(errs))}")
            first = False
            shown = 12 if report.exhaustive else 4
            for at, m in ms[:shown]:
                lines.append(f"{'':14}{at or '-'}: {name}={m.value}, {human(m.achieved)} vs target "
                             f"{human(m.target)} ({pct(m.rel_error)})")
            if len(ms) > shown:
                lines.append(f"{'':14}... {len(ms) - shown} more")
    first = True
    for name, p in report.named:
        verdict = "feasible" if p.feasible else "rejected by " + "; ".join(p.rejected_by)
        mt = "".join(f", {m.name}={m.value} ({pct(m.rel_error)} of target)" for m in p.matches)
        lines.append(f"{'points' if first else '':12} {name}: {fmt_values(p.sampled, 8) or '-'}: MACs "
                     f"{human(p.macs or 0)}, params {human(p.params or 0)}{mt}, {verdict}")
        first = False
    for w in report.warnings:
        lines.append(f"warning      {w}")
    return "\n".join(lines)
