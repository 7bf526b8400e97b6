"""Resolution: parameter values -> NetSpec, costs, matched values, constraint verdicts; and what it gives, a
`Candidate` (one type for grid points, samples and named points) with how its matched parameters were chosen
(`Match`)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalesearch.nets import GENERATORS, NetSpec
from scalesearch.nets.cost import count
from scalesearch.nets.match import search_int
from scalesearch.spec.diagnostics import NOLOC, InvalidArchitecture, Loc, SpecError, error_field, error_text
from scalesearch.spec.expr import Expr, ExprError
from scalesearch.spec.params import METRICS, MatchedParam
from scalesearch.spec.schema import BASE_NAMES, COST_NAMES, IO_ARGS, ArgType, SearchSpec, generator_args, train_fields
from scalesearch.util.text import fmt_num, short, show


@dataclass(frozen=True)
class Match:
    """How a matched parameter was resolved at one candidate."""

    name: str
    metric: str
    target: float
    value: int
    achieved: int

    @property
    def rel_error(self) -> float:
        """(achieved - target) / target."""
        return (self.achieved - self.target) / self.target if self.target else math.inf * (self.achieved != 0)


@dataclass(frozen=True)
class Candidate:
    """One candidate of a space: the values it was given, every parameter's value, its network, cost and verdict.

    A candidate whose architecture the family rejects (a grid point or a sample `check_space` costs) has no
    network: `netspec`, `hash`, `macs`, `params` and `acts` are None and `rejected_by` holds
    "architecture: <why>".

    Attributes:
        values: every parameter's value (sampled, fixed, derived, matched), in spec order.
        netspec: the network (with the dataset's in_channels and classes), None if the family rejects it.
        macs, params, acts: its analytic cost (None without a network).
        train: the training overrides evaluated at this candidate.
        matches: how each active matched parameter was chosen.
        rejected_by: the sources of the constraints it violates (empty: feasible).
        sampled: the values it was resolved from: the sampled parameters' (and those a point pins).
    """

    values: dict[str, Any]
    netspec: NetSpec | None
    macs: int | None
    params: int | None
    acts: int | None
    train: dict[str, Any] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()
    rejected_by: tuple[str, ...] = ()
    sampled: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def invalid(cls, sampled: dict[str, Any], values: dict[str, Any], reason: str) -> Candidate:
        """A candidate whose architecture the family rejects, for `reason`."""
        return cls(values, None, None, None, None, rejected_by=(f"architecture: {reason}",), sampled=sampled)

    @property
    def feasible(self) -> bool:
        """Whether it has a network and satisfies every constraint."""
        return not self.rejected_by

    @property
    def hash(self) -> str | None:
        """The NetSpec's hash (the search's dedupe key), None without a network."""
        return self.netspec.hash if self.netspec is not None else None

    def summary(self) -> dict[str, Any]:
        """The JSON-able form `scalesearch validate --json` prints (no network, no matches)."""
        return {"sampled": self.sampled, "values": self.values, "feasible": self.feasible,
                "rejected_by": list(self.rejected_by), "hash": self.hash, "macs": self.macs, "params": self.params,
                "acts": self.acts}


# The name a grid's points went by: one candidate type serves grids, samples and named points.
GridPoint = Candidate


@functools.lru_cache(maxsize=1 << 16)
def cost_of(netspec: NetSpec) -> tuple[int, int, int]:
    """(MACs, params, activations) of a network, cached: matching costs the same networks many times."""
    c = count(netspec)
    return c.macs, c.params, c.acts


def fmt_values(values: Mapping[str, Any], limit: int = 6) -> str:
    """'n=2, w=16, sc='A', ...': parameter values for a message (at most `limit`)."""
    items = [f"{k}={short(repr(v), 16) if isinstance(v, str) else fmt_num(v)}" for k, v in values.items()]
    if len(items) > limit:
        items = items[:limit] + ["..."]
    return ", ".join(items)


class NoBase(Exception):
    """base_* asked for while resolving the baseline itself."""


class Resolver:
    """Lazy evaluation of parameters at one candidate, with cycle and nested-matching detection."""

    def __init__(self, spec: SearchSpec, env: dict[str, Any], where: str, base: Callable[[], tuple[int, int, int]]
                 | None, matching: tuple[str, ...] = ()) -> None:
        self.spec, self.env, self.where, self.base, self.matching = spec, env, where, base, matching
        self.busy: list[str] = []
        self.matches: dict[str, Match] = {}

    def label(self) -> str:
        """Where, for messages: `where`, or the sampled values ('at n=2, w=16')."""
        sampled = {p.name: self.env[p.name] for p in self.spec.sampled if p.name in self.env}
        return self.where or (f"at {fmt_values(sampled)}" if sampled else "at the fixed values")

    def get(self, name: str) -> Any:
        """The value of a parameter or base_* name, evaluating (and caching) derived and matched ones."""
        if name in self.env:
            return self.env[name]
        if name in BASE_NAMES:
            if self.base is None:
                raise NoBase(name)  # turned into a located SpecError by the caller
            return self.base()[BASE_NAMES.index(name)]
        p = self.spec.params_by_name.get(name)
        if p is None:
            raise (self.spec.architecture.loc or NOLOC).error(f"undefined name {name!r}", "a parameter name")
        if name in self.busy:
            cyc = self.busy[self.busy.index(name):] + [name]
            raise (p.loc or NOLOC).error(f"parameters form a cycle through the architecture: {' -> '.join(cyc)}",
                                          "a matched parameter whose target does not depend on itself")
        self.busy.append(name)
        try:
            v = p.resolve(self)  # fixed: its value; derived: its expression; matched: `match`; sampled: an error
        finally:
            self.busy.pop()
        self.env[name] = v
        return v

    def eval(self, e: Expr, loc: Loc | None, what: str) -> Any:
        """`e` evaluated at this candidate; failures are SpecErrors located at `loc`."""
        env = {}
        for n in e.names:
            try:
                env[n] = self.get(n)
            except NoBase:
                raise (loc or NOLOC).error(f"{short(e.source)!r} uses {n}, which the baseline defines, in "
                                            f"{self.where or 'the baseline'}",
                                            "a baseline that does not depend on base_macs/base_params/base_acts") \
                    from None
        try:
            return e(env)
        except ExprError as ex:
            raise (loc or NOLOC).error(f"{short(e.source)!r} {self.label()}: {ex.problem}",
                                        ex.expected or "an expression that evaluates everywhere in the space") \
                from None

    def match(self, p: MatchedParam) -> int:
        """A matched parameter's value: `otherwise` where `when` is false, else the value whose cost is closest to
        the target (`scalesearch.nets.match.search_int`), recorded in `matches`."""
        if p.when is not None:
            cond = self.eval(p.when, p.loc.child("when") if p.loc else None, p.name)
            if type(cond) is not bool:
                raise (p.loc or NOLOC).child("when").error(f"{short(p.when.source)!r} gives {show(cond)}",
                                                            "a boolean")
            if not cond:
                v = self.eval(p.otherwise, p.loc.child("otherwise") if p.loc else None, p.name)
                if type(v) is float and v.is_integer():
                    v = int(v)
                if type(v) is not int:
                    raise (p.loc or NOLOC).child("otherwise").error(
                        f"{short(p.otherwise.source)!r} gives {show(v)} {self.label()}",
                        "an integer")
                return v
        if self.matching:
            raise (p.loc or NOLOC).error(
                f"matched parameters {self.matching[-1]!r} and {p.name!r} are both active {self.label()}",
                "at most one active matched parameter per candidate (use when: to switch between them)")
        target = self.eval(p.target, p.loc.child("target") if p.loc else None, p.name)
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise (p.loc or NOLOC).child("target").error(f"target gives {show(target)}", "a number")
        frozen = dict(self.env)
        metric = METRICS.index(p.metric)
        errors: list[InvalidArchitecture] = []

        def cost(x: int) -> int | None:
            """The metric at value x, None where the family rejects the candidate."""
            child = Resolver(self.spec, {**frozen, p.name: x}, self.where, self.base, self.matching + (p.name,))
            try:
                return cost_of(child.netspec())[metric]
            except InvalidArchitecture as e:
                errors.append(e)
                return None

        value, achieved = search_int(cost, float(target), p.values())
        if value is None:
            e = errors[0] if errors else None
            raise (p.loc or NOLOC).error(
                f"no value in [{p.low}, {p.high}] gives a valid architecture {self.label()}"
                + (f" (e.g. {p.name}={p.low}: {e.reason})" if e else ""),
                "a range of values the family accepts")
        self.matches[p.name] = Match(p.name, p.metric, float(target), value, achieved)
        return value

    def arg(self, v: Any, t: ArgType, loc: Loc | None, field_name: str, coerce: bool = True) -> Any:
        """An argument's value: literals as they are, expressions evaluated and checked against `t`."""
        if isinstance(v, Expr):
            x = self.eval(v, loc, field_name)
            return coerce_arg(x, t, loc, f"{short(v.source)!r} gives {{}} {self.label()}") if coerce else x
        if isinstance(v, tuple):
            return tuple(self.arg(x, ArgType(t.item), loc, field_name, coerce) for x in v)
        return v

    def netspec(self) -> NetSpec:
        """The family generator called with the evaluated arguments and the dataset's shapes."""
        spec = self.spec
        arch = spec.architecture
        sig = generator_args(arch.family)
        locs = dict(arch.arg_locs)
        kwargs = {}
        for k, v in arch.args:
            kwargs[k] = self.arg(v, sig[k][0], locs.get(k, arch.loc), k)
        ds = spec.dataset
        kwargs["in_channels"], kwargs["num_classes"] = ds.in_channels, ds.num_classes
        if "resolution" in sig and "resolution" not in kwargs:
            kwargs["resolution"] = ds.input_resolution
        elif "base_resolution" in sig and "base_resolution" not in kwargs and "resolution" not in sig:
            kwargs["base_resolution"] = ds.input_resolution
        try:
            return GENERATORS[arch.family](**kwargs)
        except (ValueError, TypeError) as e:
            problem, expected = error_text(e)
            arg = error_field(e)
            loc = locs.get(arg) or (dataclasses.replace(arch.loc, field="architecture") if arch.loc else NOLOC)
            shown = fmt_values({k: v for k, v in kwargs.items() if k not in IO_ARGS})
            values = {p.name: self.env[p.name] for p in spec.parameters if p.name in self.env}
            raise InvalidArchitecture(f"{arch.family} rejects {shown} {self.label()}: {problem}", reason=str(e),
                                      values=values, expected=expected or "arguments the family accepts",
                                      **loc.where()) from None

    def train(self) -> dict[str, Any]:
        """The training overrides evaluated at this candidate."""
        fields = train_fields()
        locs = dict(self.spec.train_locs)
        return {k: self.arg(v, fields.get(k, ArgType(None)), locs.get(k), k) for k, v in self.spec.train}


def coerce_arg(x: Any, t: ArgType, loc: Loc | None, fmt: str) -> Any:
    """Check an evaluated argument against its type; integral floats become ints for int arguments."""
    b = t.base
    ok = True
    if b is int:
        if type(x) is float and x.is_integer():
            x = int(x)
        ok = type(x) is int
    elif b is float:
        ok = type(x) in (int, float)
        x = float(x) if ok else x
    elif b is bool:
        ok = type(x) is bool
    elif b is str:
        ok = type(x) is str
    if not ok:
        hint = "; wrap it in round(), ceil() or floor()" if b is int and type(x) is float else ""
        raise (loc or NOLOC).error(fmt.format(show(x)) + hint, t.text())
    return x


def check_values(spec: SearchSpec, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The given values as an environment: known, settable names and every sampled parameter."""
    env: dict[str, Any] = {}
    by = spec.params_by_name
    for k, v in values.items():
        p = by.get(k)
        if p is None:
            raise SpecError(f"unknown parameter {k!r} ({where})", file=spec.file, field="parameters",
                            expected=f"names among {', '.join(by) or 'none'}")
        if not p.settable:
            raise (p.loc or NOLOC).error(f"{k!r} is {p.kind} and cannot be given a value ({where})",
                                          "values for sampled, fixed or matched parameters")
        env[k] = v
    for p in spec.sampled:
        if p.name not in env:
            raise (p.loc or NOLOC).error(f"no value for the sampled parameter {p.name!r} ({where})",
                                          f"values for {', '.join(q.name for q in spec.sampled)}")
    return env


@functools.lru_cache(maxsize=256)
def baseline_candidate(spec: SearchSpec) -> Candidate:
    """The baseline, resolved once per spec (it defines base_macs, base_params, base_acts)."""
    if spec.baseline is None:  # pragma: no cover - callers check
        raise SpecError("the spec has no baseline", file=spec.file, field="baseline")
    return resolve_values(spec, spec.baseline.as_dict(), "for the baseline", is_baseline=True)


def resolve_values(spec: SearchSpec, values: Mapping[str, Any], where: str = "", *,
                   is_baseline: bool = False) -> Candidate:
    """The Candidate at `values` (see `resolve_candidate`); `is_baseline` makes its own cost the base_* one."""
    env = check_values(spec, values, where or "resolve")
    base = None if is_baseline or spec.baseline is None else (lambda: base_cost(spec))
    r = Resolver(spec, env, where, base)
    for p in spec.parameters:
        r.get(p.name)
    ns = r.netspec()
    macs, params, acts = cost_of(ns)
    train = r.train()
    out_values = {p.name: r.env[p.name] for p in spec.parameters}
    rejected = _rejections(spec, out_values, (macs, params, acts), r.label, is_baseline)
    return Candidate(out_values, ns, macs, params, acts, train, tuple(r.matches.values()), rejected,
                     sampled=dict(values))


def _rejections(spec: SearchSpec, values: dict[str, Any], cost: tuple[int, int, int], label: Callable[[], str],
                is_baseline: bool) -> tuple[str, ...]:
    """The sources of the constraints a candidate with these values and cost violates."""
    if not spec.constraints:
        return ()
    env = {**values, **dict(zip(COST_NAMES, cost, strict=True))}
    if is_baseline:
        env.update(zip(BASE_NAMES, cost, strict=True))
    elif spec.baseline is not None and any(c.expr.names & set(BASE_NAMES) for c in spec.constraints):
        env.update(zip(BASE_NAMES, base_cost(spec), strict=True))
    rejected = []
    for c in spec.constraints:
        try:
            ok = c.expr(env)
        except ExprError as e:
            raise (c.loc or NOLOC).error(f"{short(c.expr.source)!r} {label()}: {e.problem}",
                                         e.expected or "a condition that evaluates everywhere in the space") from None
        if type(ok) is not bool:
            raise (c.loc or NOLOC).error(f"{short(c.expr.source)!r} gives {show(ok)} {label()}",
                                         "a condition (true or false)")
        if not ok:
            rejected.append(c.expr.source)
    return tuple(rejected)


def base_cost(spec: SearchSpec) -> tuple[int, int, int]:
    """(base_macs, base_params, base_acts)."""
    b = baseline_candidate(spec)
    return b.macs, b.params, b.acts  # type: ignore[return-value]  # a resolved baseline has its cost


def resolve_candidate(spec: SearchSpec, params: Mapping[str, Any], *, where: str = "") -> Candidate:
    """Resolve parameter values (every sampled one; fixed and matched ones optional) to a full Candidate.

    Args:
        spec: the SearchSpec.
        params: values of the sampled parameters (as `sample_params` returns), optionally overriding fixed
            parameters or pinning matched ones.
        where: a label for error messages (e.g. "for point paper").

    Returns:
        The Candidate: values, NetSpec, costs, evaluated training overrides, matches, violated constraints.

    Raises:
        InvalidArchitecture: the family rejects the arguments (a SpecError located at the argument).
        SpecError: a missing value, an expression failing (division by zero, ...), a wrong type.
    """
    return resolve_values(spec, params, where)


def resolve(spec: SearchSpec, params: Mapping[str, Any]) -> NetSpec:
    """The NetSpec of a candidate (see `resolve_candidate` for costs and constraint verdicts).

    Example:
        >>> from scalesearch.spec import parse_spec
        >>> s = parse_spec("study: x\\ndataset: {name: fashion-mnist}\\n"
        ...                "architecture: {family: cifar_resnet, args: {depth: d, width: 8}}\\n"
        ...                "parameters: {d: {grid: [20, 32]}}\\nsearch: {sampler: grid}\\n")
        >>> ns = resolve(s, {"d": 32})
        >>> ns.depth, ns.in_channels, ns.resolution
        (15, 1, 28)
    """
    return _network(resolve_values(spec, params))


def resolve_point(spec: SearchSpec, name: str) -> Candidate:
    """The Candidate of a named point, or of the baseline for name "baseline"."""
    pt = spec.point(name)
    if pt is spec.baseline:
        return baseline_candidate(spec)
    return resolve_values(spec, pt.as_dict(), f"for point {name}")


def default_candidate(spec: SearchSpec) -> Candidate:
    """The candidate a spec stands for when one network is wanted (`scalesearch train/count SPEC`): the
    baseline; without one, the first named point; or the only candidate of a space with no sampled parameters."""
    if spec.baseline is not None:
        return baseline_candidate(spec)
    if spec.points:
        return resolve_point(spec, spec.points[0].name)
    if not spec.sampled:
        return resolve_values(spec, {}, "for the fixed values")
    raise SpecError("the spec has no baseline or points to pick a network from", file=spec.file, field="baseline",
                    expected="a baseline: point")


def baseline_netspec(spec: SearchSpec) -> NetSpec:
    """The NetSpec of `default_candidate(spec)`."""
    return _network(default_candidate(spec))


def _network(c: Candidate) -> NetSpec:
    """The network of a resolved candidate (resolution raises rather than return one without a network)."""
    assert c.netspec is not None
    return c.netspec
