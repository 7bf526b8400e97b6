"""The shape of a spec file: its vocabulary (objective, sampler and cost names, reserved names), the argument types
of a family generator and of TrainConfig (read from their signatures), and the frozen dataclasses: dataset,
architecture, constraints, points, search settings and the whole `SearchSpec`.

Dataset facts are not copied here: they come from `scalesearch.data.catalog` (one table for data, spec and cli).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import keyword
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from scalesearch.data.catalog import CLUTTERED_DEFAULTS, DATASETS, SYNTHETIC_DEFAULTS, DatasetInfo
from scalesearch.nets import GENERATORS
from scalesearch.spec.diagnostics import Loc
from scalesearch.spec.expr import FUNCTIONS, Expr
from scalesearch.spec.params import MatchedParam, Parameter
from scalesearch.strategies.names import SAMPLERS as SAMPLER_TABLE
from scalesearch.strategies.names import SCHEDULERS
from scalesearch.train.config import TrainConfig

OBJECTIVES = ("val_acc", "test_acc", "macs", "params", "latency")
DIRECTIONS = ("max", "min")
SAMPLERS = tuple(SAMPLER_TABLE)  # the one table: scalesearch.strategies.names
COST_NAMES = ("macs", "params", "acts")  # the candidate's cost, known in constraints
BASE_NAMES = ("base_macs", "base_params", "base_acts")  # the baseline's cost
EARLY_STOPPING = tuple(SCHEDULERS)
KEEP = ("pareto", "best", "all", "none")  # whose final weights a search keeps (results/<study>/checkpoints/)
ES_METRICS = ("val_acc",)  # never the test set: searches select on validation
# (in_channels, num_classes, native resolution) of each dataset, derived from scalesearch.data.catalog.DATASETS.
DATASET_INFO: dict[str, tuple[int, int, int]] = {
    name: (d.in_channels, d.num_classes, d.resolution) for name, d in DATASETS.items()}
# Options of the synthetic generator a spec may set under `dataset`, with their types.
SYNTHETIC_OPTIONS: dict[str, type] = {k: type(v) for k, v in SYNTHETIC_DEFAULTS.items()}
# Options of the cluttered task's construction (scalesearch.data.cluttered) a spec may set under `dataset`, with their
# types; a parsed spec holds every one of them (defaults filled in), so each is part of a trial's key.
CLUTTERED_OPTIONS: dict[str, type] = {k: type(v) for k, v in CLUTTERED_DEFAULTS.items()}
# Train keys a spec may not set: the driver derives each trial's seed from the study seed and the repeat.
TRAIN_FORBIDDEN = {"seed": "each trial's training seed is derived from the study `seed` and the repeat"}
IO_ARGS = ("in_channels", "num_classes")  # generator arguments the dataset sets
RESERVED = frozenset(COST_NAMES + BASE_NAMES + tuple(FUNCTIONS) + ("true", "false", "True", "False", "None")
                     + tuple(keyword.kwlist))
STUDY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ArgType:
    """What an argument accepts: `base` int, float, str, bool, tuple (of `item`) or None (anything)."""

    base: Any  # int, float, str, bool, tuple, or None for anything
    item: Any = None
    optional: bool = False

    def text(self) -> str:
        """'an integer', 'a list of numbers or null': the `expected` part of a message."""
        if self.base is tuple:
            s = f"a list of {_PLURAL.get(self.item, 'values')}"
        else:
            s = _SINGULAR.get(self.base, "a value")
        return s + (" or null" if self.optional else "")


_SINGULAR = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def type_of(hint: Any) -> ArgType:
    """The ArgType of a type hint (Optional[...] and tuple[X, ...] included)."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return ArgType(None, optional=optional)
        hint = args[0]
        origin = typing.get_origin(hint)
    if hint in (int, float, str, bool):
        return ArgType(hint, optional=optional)
    if origin is tuple:
        a = typing.get_args(hint)
        return ArgType(tuple, a[0] if a and a[0] in (int, float, str, bool) else None, optional)
    return ArgType(None, optional=optional)


@functools.cache
def generator_args(family: str) -> dict[str, tuple[ArgType, Any]]:
    """name -> (type, default) of every argument of a family's generator."""
    gen = GENERATORS[family]
    try:
        hints = typing.get_type_hints(gen)
    except Exception:  # pragma: no cover  # noqa: BLE001 - any annotation that fails to evaluate: accept any value
        hints = {}
    return {name: (type_of(hints.get(name, Any)), p.default) for name, p in inspect.signature(gen).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@functools.cache
def train_fields() -> dict[str, ArgType]:
    """name -> type of every TrainConfig field: the one home of the training settings a spec may set."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: type_of(hints.get(f.name, Any)) for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class DatasetSpec:
    """The dataset: `name` (one of `scalesearch.data.catalog.DATASETS`), split sizes (None = all; val carved from
    train), the input resolution (None = native), for `imagefolder` and `npz` the `path` of the files (absolute)
    and the declared `channels`, for `synthetic` its generator's options and for `cluttered` its construction's
    (`scalesearch.data.cluttered`: source, canvas, scale, clutter, clutter_size, build_seed)."""

    name: str
    train_size: int | None = None
    val_size: int = 5000
    test_size: int | None = None
    resolution: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)
    path: str | None = None
    channels: int | None = None

    @functools.cached_property
    def content(self) -> str | None:
        """For `imagefolder` and `npz`, the identity of the files by their content (`scalesearch.data.own.
        content_id`), computed once per parsed spec: every job of a study carries it, and a search builds
        hundreds of jobs. None for the other datasets."""
        if self.path is None:
            return None
        from scalesearch.data.own import content_id

        return content_id(self.name, self.path)

    @property
    def info(self) -> DatasetInfo:
        """The dataset's facts (`scalesearch.data.catalog.DATASETS`) with the synthetic generator's options applied;
        for `cluttered`, its source's with the canvas as the resolution; for `imagefolder` and `npz`, probed from
        the files (`scalesearch.data.own.probe`, names and headers only).
        """
        d, o = DATASETS[self.name], dict(self.options)
        if self.name == "cluttered":
            src = DATASETS[o.get("source", CLUTTERED_DEFAULTS["source"])]
            return dataclasses.replace(d, in_channels=src.in_channels, num_classes=src.num_classes,
                                       resolution=o.get("canvas", CLUTTERED_DEFAULTS["canvas"]),
                                       train_size=src.train_size, test_size=src.test_size)
        if d.files:
            from scalesearch.data.own import probe

            f = probe(self.name, self.path or "", channels=self.channels, resolution=self.resolution)
            return dataclasses.replace(d, in_channels=f.in_channels, num_classes=f.num_classes,
                                       resolution=f.resolution, train_size=f.train_size, test_size=f.test_size)
        return dataclasses.replace(d, in_channels=o.get("in_channels", d.in_channels),
                                   num_classes=o.get("num_classes", d.num_classes),
                                   resolution=o.get("image_size", d.resolution),
                                   train_size=o.get("num_train", d.train_size),
                                   test_size=o.get("num_test", d.test_size))

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names: an image folder's sub-folder names, the catalog row's names (Fashion-MNIST's, CIFAR-10's;
        the cluttered task's are its source's), else "0", "1", ..."""
        if DATASETS[self.name].files:
            from scalesearch.data.own import probe

            return probe(self.name, self.path or "", channels=self.channels, resolution=self.resolution).classes
        name = dict(self.options).get("source", CLUTTERED_DEFAULTS["source"]) if self.name == "cluttered" else self.name
        return DATASETS[name].classes or tuple(str(i) for i in range(self.num_classes))

    @property
    def origin(self) -> str:
        """Where the images come from, for `validate`: the files' path, how a cluttered task is built, else ""."""
        if self.name == "cluttered":
            o = {**CLUTTERED_DEFAULTS, **dict(self.options)}
            lo, hi = o["scale"]
            return (f"{o['source']} items on a {o['canvas']} px canvas at scale {lo:g}..{hi:g} with {o['clutter']} "
                    f"clutter piece{'s' * (o['clutter'] != 1)} of {o['clutter_size']} px, build_seed {o['build_seed']}")
        return self.path or ""

    @property
    def in_channels(self) -> int:
        """Image channels."""
        return self.info.in_channels

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.info.num_classes

    @property
    def input_resolution(self) -> int:
        """The resolution images are given to the network at: `resolution` or the native one."""
        return self.resolution if self.resolution is not None else self.info.resolution

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `scalesearch.data.loader.load_dataset(name, **kwargs)` (without seed and device)."""
        kw: dict[str, Any] = {"train_size": self.train_size, "val_size": self.val_size, "test_size": self.test_size,
                              "resolution": self.resolution}
        if DATASETS[self.name].files:
            kw.update(path=self.path, channels=self.channels)
        if self.name == "cluttered":  # every construction parameter, set or default, canonical: each is in the key
            from scalesearch.data.cluttered import cluttered_params

            kw.update(cluttered_params(dict(self.options)))
            return kw
        kw.update(self.options)
        return kw


@dataclass(frozen=True)
class Architecture:
    """A family of `scalesearch.nets.GENERATORS` and its arguments: literals, `Expr`s of parameters, or tuples of
    those (for tuple arguments). `in_channels` and `num_classes` come from the dataset; `resolution` (or
    `base_resolution` of `efficientnet_compound`) defaults to the dataset's input resolution."""

    family: str
    args: tuple[tuple[str, Any], ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)
    arg_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Constraint:
    """A boolean expression over parameters and `macs`/`params`/`acts`/`base_*`; false rejects a candidate."""

    expr: Expr
    loc: Loc | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The constraint's text (how reports name it)."""
        return self.expr.source


@dataclass(frozen=True)
class Point:
    """A named configuration: values of every sampled parameter, optionally of fixed and matched ones."""

    name: str
    values: tuple[tuple[str, Any], ...]
    loc: Loc | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """name -> value."""
        return dict(self.values)


@dataclass(frozen=True)
class Objective:
    """A metric to optimise: one of OBJECTIVES, direction "max" or "min"."""

    name: str
    direction: str


@dataclass(frozen=True)
class EarlyStopping:
    """ASHA: stop the worst trials at epochs grace_epochs * reduction_factor**k on `metric` (maximised); MO-ASHA
    (`type: moasha`): the same rungs, ranked by the search's objectives (`metric` in place of val_acc, the static
    costs as they are) by non-dominated sorting with an epsilon-net tie-break."""

    type: str = "asha"
    grace_epochs: int = 1
    reduction_factor: int = 3
    metric: str = "val_acc"
    brackets: int | None = None  # hyperband only: None = every bracket down to one with no rung
    cost_band: float | None = None  # moasha only: promote within cost bands of this factor (None: one band)
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Prefilter:
    """Score `pool` sampled candidates before training, train the best `keep` by `score` (higher is better), store
    the others as rejected (told to Optuna as rejected)."""

    score: str
    pool: int
    keep: int
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WarmStart:
    """Start a new study's sampler from an old study's results (`scalesearch.search.warmstart` states the rule):
    the old study `study` in the database `db` (None: the new study's own database) is read, never written; its
    results are told to the new study's sampler before its first proposal; `enqueue_front`: the old Pareto front's
    configurations that lie in the new space are trained first."""

    study: str
    db: str | None = None
    enqueue_front: bool = False
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Resources:
    """Per trial: CPU cores, GPU fraction and, optionally, a memory budget in GiB (`memory_gb`): the address space
    a trial may add to what its worker process held when the trial started, enforced on Linux (RLIMIT_AS, see
    `scalesearch.trial.job.memory_limit`), so that a trial that would exhaust the machine fails at once as "out of
    memory" and the search goes on, instead of swapping the machine to a halt. None: no limit."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None


def rea_sizes(trials: int | None, population: int | None = None, tournament: int | None = None) -> tuple[int, int]:
    """(P, S): the spec's values, or defaults that scale with the number of trials: P = trials / 5 within
    [4, 100] (so that most of a search is evolution), S = P / 4, at least 2 (Real et al. keep S well below P: a
    tournament of the whole population would always pick the same parent)."""
    p = population if population is not None else max(4, min(100, (trials or 100) // 5))
    s = tournament if tournament is not None else max(2, p // 4)
    return p, min(s, p)


@dataclass(frozen=True)
class SearchConfig:
    """How to search: sampler, trials (None: every grid point), repeats (seeds per configuration), objectives,
    early stopping, resources, concurrency and time budget; `points_only` evaluates the named points only; `keep`
    whose final weights are kept (`KEEP`: the Pareto front over the objectives, the best, all or none);
    `population` and `tournament` the REA sampler's P and S (None: `rea_sizes`' defaults); `prefilter` the
    training-free ranking of proposals; `warm_start` an old study whose results the sampler starts from."""

    sampler: str
    trials: int | None = None
    repeats: int = 1
    objectives: tuple[Objective, ...] = (Objective("val_acc", "max"),)
    early_stopping: EarlyStopping | None = None
    resources: Resources = Resources()
    max_concurrency: int = 1
    time_budget_s: float | None = None
    points_only: bool = False
    loc: Loc | None = field(default=None, compare=False, repr=False)
    keep: str = "pareto"
    population: int | None = None
    tournament: int | None = None
    prefilter: Prefilter | None = None
    warm_start: WarmStart | None = None

    def rea(self) -> tuple[int, int]:
        """The REA sampler's (P, S): the spec's values or `rea_sizes`' defaults."""
        return rea_sizes(self.trials, self.population, self.tournament)


@dataclass(frozen=True)
class SearchSpec:
    """A whole spec file. Frozen; compare with ==, which ignores file positions.

    Attributes:
        study: the study name (results/<study>/).
        seed: seeds the sampler and every trial's training seed.
        dataset: the DatasetSpec.
        train: overrides of `scalesearch.train.config.TrainConfig`: literals or `Expr`s of parameters.
        architecture: the family and its arguments.
        parameters: every parameter, in file order.
        constraints: rejection rules, in file order.
        baseline: the reference point (defines base_macs/base_params/base_acts) or None.
        points: named points to evaluate first (or only, with search.points_only).
        search: the SearchConfig.
        file: the file it was read from (not compared).
    """

    study: str
    dataset: DatasetSpec
    architecture: Architecture
    search: SearchConfig
    seed: int = 0
    train: tuple[tuple[str, Any], ...] = ()
    parameters: tuple[Parameter, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    baseline: Point | None = None
    points: tuple[Point, ...] = ()
    file: str = field(default="<spec>", compare=False, repr=False)
    train_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False, repr=False)

    @functools.cached_property
    def params_by_name(self) -> dict[str, Parameter]:
        """name -> Parameter."""
        return {p.name: p for p in self.parameters}

    @property
    def sampled(self) -> tuple[Parameter, ...]:
        """The parameters a sampler chooses, in file order."""
        return tuple(p for p in self.parameters if p.sampled)

    @property
    def matched(self) -> tuple[MatchedParam, ...]:
        """The matched parameters, in file order."""
        return tuple(p for p in self.parameters if isinstance(p, MatchedParam))

    @property
    def train_dict(self) -> dict[str, Any]:
        """The train overrides as a dict (values may be Exprs; see `Candidate.train` for evaluated ones)."""
        return dict(self.train)

    @property
    def point_names(self) -> list[str]:
        """"baseline" (when there is one), then the named points, in file order."""
        return ["baseline"] * (self.baseline is not None) + [p.name for p in self.points]

    def point(self, name: str) -> Point:
        """The named point ("baseline" for the baseline)."""
        if name == "baseline" and self.baseline is not None:
            return self.baseline
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"no point {name!r}; the spec has {', '.join(self.point_names) or 'none'}")
