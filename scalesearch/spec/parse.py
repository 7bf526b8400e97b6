"""Reading a spec file: `load_spec` and `parse_spec`, one reader per section (a parameter's kind reads itself:
`scalesearch.spec.params`), then the checks across fields that no single section can make."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from scalesearch.data.catalog import CLUTTER_SOURCES, DATASETS, MAX_DATA_RESOLUTION, MIN_DATA_RESOLUTION
from scalesearch.errors import InputError
from scalesearch.nets import GENERATORS
from scalesearch.spec.diagnostics import NOLOC, Loc
from scalesearch.spec.expr import NAME_RE, Expr, parse_expr
from scalesearch.spec.params import Parameter, parse_parameter, point_value
from scalesearch.spec.schema import (
    BASE_NAMES,
    CLUTTERED_OPTIONS,
    COST_NAMES,
    IO_ARGS,
    RESERVED,
    STUDY_RE,
    SYNTHETIC_OPTIONS,
    TRAIN_FORBIDDEN,
    Architecture,
    ArgType,
    Constraint,
    DatasetSpec,
    Point,
    SearchSpec,
    generator_args,
    train_fields,
)
from scalesearch.spec.search_section import parse_search
from scalesearch.spec.space import check_grid
from scalesearch.spec.yamlnodes import (
    Node,
    check_keys,
    compose,
    did_you_mean,
    got,
    read_condition,
    read_expr,
    read_int,
    read_list,
    read_mapping,
    read_num,
    read_pair,
    read_str,
)
from scalesearch.util.checks import MAX_SEED, FieldError
from scalesearch.util.files import read_text
from scalesearch.util.text import short, type_name

_TOP_KEYS = ("study", "seed", "dataset", "train", "architecture", "parameters", "constraints", "baseline", "points",
             "search")

def load_spec(path: str) -> SearchSpec:
    """Read and check a spec file.

    Args:
        path: a YAML spec file.

    Returns:
        The SearchSpec. Costing the space (infeasible spaces, generator errors) is `check_space`'s job.

    Raises:
        SpecError: any problem, as one line `path:LINE:COL: field: what is wrong; expected ...`.
        OSError: the file cannot be read or is not a regular file (a FIFO or a device is refused unread).
        ValueError: the file is larger than MAX_FILE_BYTES or not UTF-8 text.

    Example:
        >>> spec = load_spec("spaces/quickstart.yaml")  # doctest: +SKIP
    """
    path = str(path)
    return parse_spec(read_text(path, what="spec file"), path)


def parse_spec(text: str, filename: str = "<spec>") -> SearchSpec:
    """Parse and check spec text; `filename` is used in error messages.

    Example:
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet}\\n"
        ...                "search: {sampler: random, trials: 4}\\n")
        >>> s.study, s.search.trials, s.architecture.family
        ('x', 4, 'cifar_resnet')
    """
    root = compose(text, filename)
    if not isinstance(root.v, dict):
        raise root.err(f"the document is {type_name(root.v)}, not a mapping",
                       "a YAML mapping with study, dataset, architecture, parameters and search")
    top = check_keys(root, _TOP_KEYS, required=("study", "dataset", "architecture", "search"))
    for k in ("train", "parameters", "constraints", "points"):  # an empty optional section (`train:`) is absent
        if k in top and top[k].v is None:
            del top[k]
    study = read_str(top["study"])
    if not STUDY_RE.match(study):
        raise top["study"].err(f"study name {short(study)!r} is not allowed",
                               "letters, digits, '_', '-', '.' (at most 64, not starting with '.', '-' or '_')")
    seed = read_int(top["seed"], 0, MAX_SEED) if "seed" in top else 0
    dataset = _parse_dataset(top["dataset"])
    params = parse_parameters(top["parameters"]) if "parameters" in top else ()
    names = {p.name for p in params}
    arch = _parse_architecture(top["architecture"], names)
    constraints = _parse_constraints(top["constraints"], names) if "constraints" in top else ()
    baseline = parse_point(top["baseline"], "baseline", params) if "baseline" in top else None
    points = parse_points(top["points"], params) if "points" in top else ()
    search = parse_search(top["search"])
    train, train_locs = _parse_train(top["train"], names) if "train" in top else ((), ())
    if any(o.name == "test_acc" for o in search.objectives) and dict(train).get("eval_test") is not True:
        node = read_mapping(top["search"], "")["objectives"]
        raise read_mapping(node, "")["test_acc"].key_err(
            "objective test_acc is only measured with train.eval_test: true, and a search that selects on the "
            "test set overfits it", "val_acc as the objective, or train: {eval_test: true} for a final report")
    spec = SearchSpec(study=study, seed=seed, dataset=dataset, train=train, architecture=arch, parameters=params,
                      constraints=constraints, baseline=baseline, points=points, search=search, file=filename,
                      train_locs=train_locs)
    check_spec(spec, top)
    return spec


def _parse_dataset(n: Node) -> DatasetSpec:
    """The `dataset:` section; split sizes are checked against the dataset's (or the generator's, or the files')
    sizes. The files of `imagefolder` and `npz` are probed here (names and headers), so a bad path or file is an
    error at the spec's line, before anything runs."""
    m = check_keys(n, ("name", "train_size", "val_size", "test_size", "resolution", "path", "channels",
                       *SYNTHETIC_OPTIONS, *CLUTTERED_OPTIONS), required=("name",), what="dataset settings")
    name = read_str(m["name"], list(DATASETS))
    files = DATASETS[name].files
    options = []
    for k, t in SYNTHETIC_OPTIONS.items():
        if k in m:
            if name != "synthetic":
                raise m[k].key_err(f"{k!r} applies to the synthetic dataset only",
                                   "name, train_size, val_size, test_size, resolution")
            v = read_int(m[k], 0 if k in ("max_shift", "pattern_seed") else 1) if t is int else read_num(m[k], 0.0)
            options.append((k, v))
    for k in CLUTTERED_OPTIONS:
        if k in m and name != "cluttered":
            raise m[k].key_err(f"{k!r} applies to the cluttered dataset only",
                               "name, train_size, val_size, test_size, resolution")
    if name == "cluttered":
        options = _parse_cluttered(n, m)
    for k in ("path", "channels"):
        if k in m and not files:
            raise m[k].key_err(f"{k!r} applies to the imagefolder and npz datasets only",
                               "name, train_size, val_size, test_size, resolution")
    if files and "path" not in m:
        raise n.err(f"dataset {name!r} needs a path", "path: the folder of class folders (imagefolder) or the "
                                                       ".npz file (npz)")
    resolution = (read_int(m["resolution"], MIN_DATA_RESOLUTION, MAX_DATA_RESOLUTION, null=True)
                  if "resolution" in m else None)
    path = os.path.abspath(os.path.expanduser(read_str(m["path"]))) if files else None
    channels = read_int(m["channels"], 1, 3) if "channels" in m else None
    if channels == 2:
        raise m["channels"].err("2 channels", "1 (grey) or 3 (RGB)")
    try:
        info = DatasetSpec(name, options=tuple(options), path=path, channels=channels, resolution=resolution).info
    except (InputError, FileNotFoundError) as e:  # the file's own message: it names the file and what is expected
        raise m.get("path", n).err(str(e)) from None
    val_size = read_int(m["val_size"], 0, info.train_size - 1) if "val_size" in m else min(5000, info.train_size // 2)
    train_size = read_int(m["train_size"], 1, info.train_size - val_size, null=True) if "train_size" in m else None
    return DatasetSpec(
        name=name, train_size=train_size, val_size=val_size,
        test_size=read_int(m["test_size"], 1, info.test_size, null=True) if "test_size" in m else None,
        resolution=resolution, options=tuple(options), loc=n.loc, path=path, channels=channels)


def _parse_cluttered(n: Node, m: dict[str, Node]) -> list[tuple[str, Any]]:
    """The cluttered task's construction (`scalesearch.data.cluttered`): every option, the defaults filled in (so that the
    spec, its canonical text and every trial's key hold them all), each checked at its own line."""
    from scalesearch.data.cluttered import cluttered_params

    raw: dict[str, Any] = {}
    for k, t in CLUTTERED_OPTIONS.items():
        if k not in m:
            continue
        if t is str:
            raw[k] = read_str(m[k], CLUTTER_SOURCES)
        elif t is int:
            raw[k] = read_int(m[k])
        else:  # scale: [low, high]
            raw[k] = tuple(read_num(v, 0.0, low_open=True) for v in read_pair(m[k], "numbers > 0"))
    try:
        return list(cluttered_params(raw).items())
    except FieldError as e:
        raise m.get(e.field, n).err(e.problem or got(e.got), e.expected) from None


def parse_parameters(n: Node) -> tuple[Parameter, ...]:
    """Every parameter of the `parameters:` mapping, in file order."""
    m = read_mapping(n, "a mapping of parameter names to {int: [low, high]}, {float: ...}, {grid: [...]}, "
                        "{choice: [...]}, {derived: expr}, {match: {...}} or a fixed number")
    out: list[Parameter] = []
    for name, pn in m.items():
        if not NAME_RE.match(name) or name in RESERVED or name.startswith("_"):
            why = "is reserved" if name in RESERVED else "is not a valid name"
            raise pn.key_err(f"parameter name {short(name)!r} {why}",
                             "a name of letters, digits and '_' starting with a letter, not one of "
                             "macs, params, acts, base_macs, base_params, base_acts, true, false, the function "
                             "names or a Python keyword")
        out.append(parse_parameter(name, pn))
    return tuple(out)


def parse_point(n: Node, name: str, params: tuple[Parameter, ...]) -> Point:
    """A named point (or the baseline): a value for every sampled parameter, optionally fixed and matched ones."""
    m = read_mapping(n, "a mapping of parameter names to values")
    by = {p.name: p for p in params}
    vals = []
    for k, vn in m.items():
        p = by.get(k)
        if p is None:
            raise vn.key_err(f"unknown parameter {k!r}{did_you_mean(k, by)}",
                             f"names among: {', '.join(by) or 'none (the spec has no parameters)'}")
        if not p.settable:
            raise vn.key_err(f"{k!r} is {p.kind} (computed from other parameters) and cannot be set",
                             "values for sampled, fixed or matched parameters")
        vals.append((k, point_value(p, vn)))
    for p in params:
        if p.sampled and p.name not in m:
            raise n.err(f"no value for the sampled parameter {p.name!r}",
                        f"a value for each of {', '.join(q.name for q in params if q.sampled)}")
    return Point(name, tuple(vals), loc=n.loc)


def parse_points(n: Node, params: tuple[Parameter, ...]) -> tuple[Point, ...]:
    """The `points:` mapping of named points."""
    m = read_mapping(n, "a mapping of point names to parameter values")
    out = []
    for name, pn in m.items():
        if not STUDY_RE.match(name) or name == "baseline":
            raise pn.key_err(f"point name {short(name)!r} is not allowed",
                             "letters, digits, '_', '-', '.' other than 'baseline'")
        out.append(parse_point(pn, name, params))
    return tuple(out)


def _arg_value(n: Node, t: ArgType, params: set[str], what: str) -> Any:
    """A literal or Expr for an argument of type t; strings are expressions for numeric/bool arguments and
    parameter references (exactly a parameter's name) for string arguments."""
    v = n.v
    if t.base is tuple and not isinstance(v, str):
        items = read_list(n, t.text())
        return tuple(_arg_value(it, ArgType(t.item), params, what) for it in items)
    if isinstance(v, str):
        if t.base is str or (t.base is tuple and t.item is str) or (t.base is None and not _looks_like_expr(v)):
            if v in params:
                return parse_expr(v)
            return v
        e = read_expr(n, f"{t.text()} or an expression of parameters")
        check_names(n, e, params, what)
        return e
    if v is None:
        if t.optional or t.base is None:
            return None
        raise n.err("got null", t.text())
    if isinstance(v, (dict, list)):
        raise n.err(got(v), t.text())
    return _typed_literal(n, v, t)


def _looks_like_expr(s: str) -> bool:
    """Whether a string for an argument of unknown type is an expression rather than a plain string."""
    return any(c in s for c in "+-*/%()<>= ")


# Whether a literal from the file fits an argument's base type (bools are never numbers; ints are floats).
_FITS: dict[Any, Callable[[Any], bool]] = {
    None: lambda v: True, int: lambda v: type(v) is int, float: lambda v: type(v) in (int, float),
    bool: lambda v: type(v) is bool, str: lambda v: type(v) is str, tuple: lambda v: False,
}


def _typed_literal(n: Node, v: Any, t: ArgType) -> Any:
    """A scalar from the file checked against its argument's type; numbers for float arguments become floats."""
    if not _FITS[t.base](v):
        raise n.err(got(v), t.text())
    return float(v) if t.base is float else v


def _parse_architecture(n: Node, params: set[str]) -> Architecture:
    """The `architecture:` section: a family and arguments its generator takes (not the dataset's shapes)."""
    m = check_keys(n, ("family", "args"), required=("family",), what="family and args")
    family = read_str(m["family"], list(GENERATORS))
    sig = generator_args(family)
    args: list[tuple[str, Any]] = []
    locs: list[tuple[str, Loc]] = []
    if "args" in m:
        am = read_mapping(m["args"], f"a mapping of {family} arguments")
        for k, an in am.items():
            if k in IO_ARGS:
                raise an.key_err(f"{k!r} is set by the dataset",
                                 f"one of {', '.join(a for a in sig if a not in IO_ARGS)}")
            if k not in sig:
                choices = [a for a in sig if a not in IO_ARGS]
                hint = did_you_mean(k, choices)
                raise an.key_err(f"{family} has no argument {k!r}{hint}", f"one of {', '.join(choices)}")
            args.append((k, _arg_value(an, sig[k][0], params, "architecture arguments")))
            locs.append((k, an.loc))
    return Architecture(family, tuple(args), loc=m["family"].loc, arg_locs=tuple(locs))


def _parse_train(n: Node, params: set[str]) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Loc], ...]]:
    """The `train:` section: TrainConfig fields (except the seed), literals or expressions; and their places."""
    m = read_mapping(n, "a mapping of training settings (fields of scalesearch.train.config.TrainConfig)")
    fields = train_fields()
    out, locs = [], []
    for k, vn in m.items():
        if k in TRAIN_FORBIDDEN:
            raise vn.key_err(f"{k!r} cannot be set here: {TRAIN_FORBIDDEN[k]}",
                             "the top-level seed: key instead")
        if k not in fields:
            choices = [f for f in fields if f not in TRAIN_FORBIDDEN]
            hint = did_you_mean(k, choices)
            raise vn.key_err(f"unknown training setting {k!r}{hint}", f"one of {', '.join(choices)}")
        out.append((k, _arg_value(vn, fields[k], params, "training settings")))
        locs.append((k, vn.loc))
    return tuple(out), tuple(locs)


def check_names(n: Node, e: Expr, allowed: set[str], what: str, extra: Sequence[str] = ()) -> None:
    """Every name `e` uses is in `allowed` or `extra`; else a located error saying why the name is not known."""
    for name in sorted(e.names):
        if name not in allowed and name not in extra:
            if name in COST_NAMES:
                hint = f"{name!r} (the candidate's cost) is known only in constraints"
            elif name in BASE_NAMES:
                hint = f"{name!r} cannot be used in {what}"
            else:
                hint = f"undefined name {name!r}{did_you_mean(name, sorted(allowed | set(extra)))}"
            names = ", ".join(sorted(allowed | set(extra))) or "none"
            raise n.err(f"{short(e.source)!r}: {hint}", f"names among: {short(names, 120)}")


def _parse_constraints(n: Node, params: set[str]) -> tuple[Constraint, ...]:
    """The `constraints:` list of conditions over parameters, costs and base costs."""
    items = read_list(n, "a list of conditions such as \"macs <= 2 * base_macs\"")
    out = []
    for it in items:
        e = read_condition(it, "macs <= 2 * base_macs")
        check_names(it, e, params, "constraints", COST_NAMES + BASE_NAMES)
        out.append(Constraint(e, loc=it.loc))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# Checks across fields, once every section is read.

def check_spec(spec: SearchSpec, top: dict[str, Node]) -> None:
    """Checks no single field can make: names and cycles among parameters, base_* without a baseline, the grid's
    size, points_only without points, ASHA's grace period against the epochs. `top` holds the file's nodes."""
    _check_parameters(spec, top)
    _check_base_names(spec)
    _check_search(spec)


def _check_parameters(spec: SearchSpec, top: dict[str, Node]) -> None:
    """Parameter expressions use known names, and derived and matched parameters depend on each other acyclically."""
    names = set(spec.params_by_name)
    pn = top.get("parameters")
    pm = pn.v if pn is not None else {}
    for p in spec.parameters:
        for key, e in p.exprs():
            node = pm[p.name].v[p.kind]  # the kind's node: the expression itself, or the mapping holding it
            node = node if key == p.kind else node.v[key]
            if p.name in e.names:
                raise node.err(f"parameters form a cycle: {p.name} -> {p.name} ({key} refers to itself)",
                               "an expression of other parameters")
            check_names(node, e, names - {p.name}, f"parameter {p.name}", BASE_NAMES)
    deps = {p.name: p.deps & names for p in spec.parameters}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
        """Depth-first search from u; a name met again while on the stack closes a cycle."""
        state[u] = 1
        stack.append(u)
        for w in sorted(deps[u]):
            if state.get(w) == 1:
                cyc = stack[stack.index(w):] + [w]
                p = spec.params_by_name[w]
                raise (p.loc or NOLOC).error(f"parameters form a cycle: {' -> '.join(cyc)}",
                                              "derived and matched parameters that depend on each other acyclically")
            if state.get(w) is None:
                visit(w)
        stack.pop()
        state[u] = 2

    for p in spec.parameters:
        if state.get(p.name) is None:
            visit(p.name)


def _check_base_names(spec: SearchSpec) -> None:
    """base_macs, base_params and base_acts need a baseline."""
    if spec.baseline is None:
        uses: list[tuple[Loc | None, Expr]] = [(c.loc, c.expr) for c in spec.constraints]
        for p in spec.parameters:
            uses += [(p.loc, e) for _, e in p.exprs()]
        for loc, e in uses:
            used = sorted(e.names & set(BASE_NAMES))
            if used:
                raise (loc or NOLOC).error(f"{short(e.source)!r} uses {used[0]}, but the spec has no baseline",
                                            "a `baseline:` point (it defines base_macs, base_params, base_acts)")


def _check_search(spec: SearchSpec) -> None:
    """The search settings against the rest: a grid sampler's parameters and size, points, ASHA and epochs."""
    s = spec.search
    if s.sampler == "grid" and not s.points_only:
        check_grid(spec)
    if s.points_only and not spec.points and spec.baseline is None:
        raise (s.loc or NOLOC).error("points_only is set but the spec has no points", "points: or a baseline:")
    es = s.early_stopping
    if es is not None:
        epochs = spec.train_dict.get("epochs")
        if isinstance(epochs, int) and 1 <= epochs <= es.grace_epochs:  # epochs < 1: TrainConfig's error
            raise (es.loc or s.loc or NOLOC).error(
                f"grace_epochs {es.grace_epochs} leaves nothing to stop in {epochs} epochs",
                f"grace_epochs < train.epochs ({epochs})")
    if es is not None and es.type == "moasha":
        names = [o.name for o in s.objectives]
        other = [n for n in names if n not in ("val_acc", "macs", "params")]
        if "val_acc" not in names or other:
            raise (es.loc or s.loc or NOLOC).error(
                f"moasha ranks trials mid-training by val_acc and the counted costs; the objectives are "
                f"{', '.join(names)}", "objectives among val_acc (required), macs and params")
        if es.cost_band is not None and not {"macs", "params"} & set(names):
            raise (es.loc or s.loc or NOLOC).error(
                f"cost_band {es.cost_band:g} bands trials by their cost; the objectives are {', '.join(names)}",
                "macs or params among the objectives, or no cost_band")
    if len({o.name for o in s.objectives}) != len(s.objectives):  # pragma: no cover - mapping keys are unique
        raise (s.loc or NOLOC).error("duplicate objective", "each objective once")
