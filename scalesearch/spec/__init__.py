"""Search-space spec files: schema, validation with file:line:column errors, resolution to NetSpecs.

A spec (YAML, documented in full in docs/spec.md) names a study, its seed, the dataset, the training recipe, an
architecture family of `scalesearch.nets.GENERATORS` with its arguments, and the search space: sampled parameters
(int/float ranges, categorical choices, grids), fixed, derived (expressions) and matched parameters (an integer
chosen so that the candidate's MACs or params come closest to a target), constraints over parameters and the
candidate's analytic cost, a baseline and named points, and the search settings (sampler, trials, repeats,
objectives, early stopping, resources, concurrency, time budget).

Specs are data: YAML is read with `yaml.SafeLoader` (composed node by node, so that every key and value keeps
its line and column), and expressions are evaluated only by `scalesearch.spec.expr`'s AST whitelist. Every problem is a
`SpecError` (a ValueError) whose message is one line: `file:LINE:COL: field.path: what is wrong; expected ...`.

Flow: `load_spec(path)` / `parse_spec(text, filename)` -> `SearchSpec` (frozen; `format_spec` writes it back as
canonical YAML and `parse_spec(format_spec(s)) == s`) -> `sample_params(spec, suggest)` (any object with Optuna's
suggest_int / suggest_float / suggest_categorical) or `enumerate_grid(spec)` or a named point -> `resolve(spec,
params)` -> `NetSpec` (`resolve_candidate` also gives costs, matched values and the constraints that reject it)
-> `check_space(spec)` costs the whole space without training (what `scalesearch validate` prints).

Modules, each importing only from the ones before it: `errors` (SpecError, Loc), `yamlnodes` (positions-keeping
YAML and typed node readers), `params` (one class per parameter kind, owning its parsing, values and YAML form,
registered once in `PARAMETER_CLASSES`), `schema` (vocabulary, argument types, the frozen dataclasses), `resolve`
(values -> Candidate), `space` (sampling, grids), `parse` (sections and cross-field checks), `write` (YAML out),
`check` (`check_space`, `format_report`).

Legend: a *sampled* parameter is one a sampler chooses (int, float, grid, choice); `values` are every parameter's
value at a candidate (sampled, fixed, derived, matched); `macs`, `params`, `acts` are the candidate's analytic
cost (`scalesearch.nets.cost.count`) and `base_macs`, `base_params`, `base_acts` the baseline's.

Example:
    >>> spec = parse_spec('''
    ... study: demo
    ... dataset: {name: synthetic}
    ... architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: 8}}
    ... parameters: {n: {grid: [1, 2, 3]}}
    ... constraints: ["macs <= 3 * base_macs"]
    ... baseline: {n: 1}
    ... search: {sampler: grid}
    ... ''', "demo.yaml")
    >>> [(p.values["n"], p.feasible) for p in enumerate_grid(spec)]
    [(1, True), (2, True), (3, False)]
"""

from __future__ import annotations

from scalesearch.spec.check import MAX_SAMPLES, SpaceReport, check_space, format_report
from scalesearch.spec.diagnostics import InvalidArchitecture, Loc, SpecError
from scalesearch.spec.params import (
                                     MAX_GRID,
                                     MAX_STEPS,
                                     ChoiceParam,
                                     DerivedParam,
                                     FixedParam,
                                     FloatParam,
                                     GridParam,
                                     IntParam,
                                     MatchedParam,
                                     Parameter,
)
from scalesearch.spec.parse import load_spec, parse_spec
from scalesearch.spec.resolve import (
                                     Candidate,
                                     GridPoint,
                                     Match,
                                     baseline_netspec,
                                     default_candidate,
                                     resolve,
                                     resolve_candidate,
                                     resolve_point,
)
from scalesearch.spec.schema import (
                                     BASE_NAMES,
                                     COST_NAMES,
                                     DATASET_INFO,
                                     OBJECTIVES,
                                     SAMPLERS,
                                     SYNTHETIC_OPTIONS,
                                     Architecture,
                                     Constraint,
                                     DatasetSpec,
                                     EarlyStopping,
                                     Objective,
                                     Point,
                                     Resources,
                                     SearchConfig,
                                     SearchSpec,
)
from scalesearch.spec.space import RandomSuggest, Suggest, enumerate_grid, grid_size, grid_space, sample_params
from scalesearch.spec.write import format_spec, spec_to_dict
from scalesearch.spec.yamlnodes import MAX_YAML_DEPTH, MAX_YAML_VALUES

__all__ = [
                                     "BASE_NAMES",
                                     "COST_NAMES",
                                     "DATASET_INFO",
                                     "MAX_GRID",
                                     "MAX_SAMPLES",
                                     "MAX_STEPS",
                                     "MAX_YAML_DEPTH",
                                     "MAX_YAML_VALUES",
                                     "OBJECTIVES",
                                     "SAMPLERS",
                                     "SYNTHETIC_OPTIONS",
                                     "Architecture",
                                     "Candidate",
                                     "ChoiceParam",
                                     "Constraint",
                                     "DatasetSpec",
                                     "DerivedParam",
                                     "EarlyStopping",
                                     "FixedParam",
                                     "FloatParam",
                                     "GridParam",
                                     "GridPoint",
                                     "IntParam",
                                     "InvalidArchitecture",
                                     "Loc",
                                     "Match",
                                     "MatchedParam",
                                     "Objective",
                                     "Parameter",
                                     "Point",
                                     "RandomSuggest",
                                     "Resources",
                                     "SearchConfig",
                                     "SearchSpec",
                                     "SpaceReport",
                                     "SpecError",
                                     "Suggest",
                                     "baseline_netspec",
                                     "check_space",
                                     "default_candidate",
                                     "enumerate_grid",
                                     "format_report",
                                     "format_spec",
                                     "grid_size",
                                     "grid_space",
                                     "load_spec",
                                     "parse_spec",
                                     "resolve",
                                     "resolve_candidate",
                                     "resolve_point",
                                     "sample_params",
                                     "spec_to_dict",
]
