"""Writing a spec back as canonical YAML: `parse_spec(format_spec(s)) == s` (each parameter kind gives its own
mapping: `Parameter.yaml_form`)."""

from __future__ import annotations

from typing import Any

import yaml

from scalesearch.spec.expr import Expr
from scalesearch.spec.schema import SearchSpec
from scalesearch.spec.yamlnodes import FLOAT_12


def out_value(v: Any) -> Any:
    """An argument value as YAML data: expressions as their text, tuples as flow lists."""
    if isinstance(v, Expr):
        return v.source
    if isinstance(v, tuple):
        return FlowSeq(out_value(x) for x in v)
    return v


def spec_to_dict(spec: SearchSpec) -> dict[str, Any]:
    """The canonical plain-data form of a spec (what `format_spec` writes as YAML)."""
    ds = spec.dataset
    dd: dict[str, Any] = {"name": ds.name}
    if ds.train_size is not None:
        dd["train_size"] = ds.train_size
    dd["val_size"] = ds.val_size
    if ds.test_size is not None:
        dd["test_size"] = ds.test_size
    if ds.resolution is not None:
        dd["resolution"] = ds.resolution
    if ds.path is not None:
        dd["path"] = ds.path
    if ds.channels is not None:
        dd["channels"] = ds.channels
    dd.update((k, out_value(v)) for k, v in ds.options)  # cluttered's scale range as a flow list
    d: dict[str, Any] = {"study": spec.study, "seed": spec.seed, "dataset": Flow(dd) if len(dd) <= 5 else dd}
    if spec.train:
        train = {k: out_value(v) for k, v in spec.train}
        d["train"] = Flow(train) if len(train) <= 5 else train
    arch: dict[str, Any] = {"family": spec.architecture.family}
    if spec.architecture.args:
        arch["args"] = Flow((k, out_value(v)) for k, v in spec.architecture.args)
    d["architecture"] = arch
    if spec.parameters:
        d["parameters"] = {p.name: Flow(p.yaml_form()) for p in spec.parameters}  # each kind writes itself
    if spec.constraints:
        d["constraints"] = [c.expr.source for c in spec.constraints]
    if spec.baseline is not None:
        d["baseline"] = Flow(spec.baseline.values)
    if spec.points:
        d["points"] = {p.name: Flow(p.values) for p in spec.points}
    s = spec.search
    sd: dict[str, Any] = {"sampler": s.sampler}
    if s.trials is not None:
        sd["trials"] = s.trials
    sd["repeats"] = s.repeats
    sd["objectives"] = Flow((o.name, o.direction) for o in s.objectives)
    if s.early_stopping is not None:
        es = s.early_stopping
        sd["early_stopping"] = Flow(type=es.type, grace_epochs=es.grace_epochs,
                                     reduction_factor=es.reduction_factor, metric=es.metric)
        if es.brackets is not None:
            sd["early_stopping"]["brackets"] = es.brackets
        if es.cost_band is not None:  # written only when set: older studies' canonical text is unchanged
            sd["early_stopping"]["cost_band"] = es.cost_band
    sd["resources"] = Flow(cpus=s.resources.cpus, gpus=s.resources.gpus)
    if s.resources.memory_gb is not None:  # written only when set: older studies' canonical text is unchanged
        sd["resources"]["memory_gb"] = s.resources.memory_gb
    sd["max_concurrency"] = s.max_concurrency
    if s.time_budget_s is not None:
        sd["time_budget_s"] = s.time_budget_s
    if s.points_only:
        sd["points_only"] = True
    if s.keep != "pareto":
        sd["keep"] = s.keep
    if s.population is not None:
        sd["population"] = s.population
    if s.tournament is not None:
        sd["tournament"] = s.tournament
    if s.prefilter is not None:
        sd["prefilter"] = Flow(score=s.prefilter.score, pool=s.prefilter.pool, keep=s.prefilter.keep)
    if s.warm_start is not None:
        w = s.warm_start
        sd["warm_start"] = Flow(study=w.study, **({"db": w.db} if w.db is not None else {}),
                                **({"enqueue_front": True} if w.enqueue_front else {}))
    d["search"] = sd
    return d


class Dumper(yaml.SafeDumper):
    """SafeDumper that never writes aliases and quotes strings that `Loader` would read as floats (1e-3)."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never write aliases: a spec file repeats values instead."""
        return True


Dumper.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))


class Flow(dict):
    """A mapping written on one line ({a: 1, b: [2, 3]})."""


class FlowSeq(list):
    """A list written on one line ([1, 2])."""


Dumper.add_representer(FlowSeq, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data,
                                                                       flow_style=True))


Dumper.add_representer(Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                    flow_style=True))


def format_spec(spec: SearchSpec) -> str:
    """Canonical YAML of a spec: `parse_spec(format_spec(s)) == s`.

    Example:
        >>> from scalesearch.spec import parse_spec
        >>> s = parse_spec("study: x\\ndataset: {name: synthetic}\\narchitecture: {family: cifar_resnet}\\n"
        ...                "search: {sampler: grid}\\n")
        >>> parse_spec(format_spec(s)) == s
        True
    """
    return yaml.dump(spec_to_dict(spec), Dumper=Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)
