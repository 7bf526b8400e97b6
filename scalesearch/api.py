"""The public Python API of the core: specs, models and their cost (`import scalesearch` re-exports these).

`load_spec` reads a spec from a YAML file or a Python mapping with the same checks and one-line errors as the CLI;
`create_model` builds a network from a preset name, a NetSpec (object, dict or `.json` file) or a spec file's
baseline; `count` gives its analytic cost. The search itself (`run`, `resume`) is in `scalesearch.search.launch`,
the read side (`load_trials`, ...) in `scalesearch.results`. Nothing here imports torch until a model is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from scalesearch.errors import InputError
from scalesearch.spec.origin import MAPPING_FILE, SpecSource, spec_source

if TYPE_CHECKING:
    from torch import nn

    from scalesearch.nets import NetSpec
    from scalesearch.nets.cost import Cost
    from scalesearch.spec import SearchSpec

__all__ = ["MAPPING_FILE", "count", "create_model", "load_spec", "resolve_netspec", "spec_source"]

ModelSource = Union[str, "os.PathLike[str]", Mapping[str, Any], "NetSpec"]


def load_spec(source: SpecSource) -> SearchSpec:
    """Read and check a search spec.

    Args:
        source: a YAML spec file's path, a mapping with the file's structure (`{"study": ..., "dataset": ...}`),
            or an already loaded SearchSpec (returned as it is).

    Returns:
        The frozen SearchSpec.

    Raises:
        SpecError: any problem, one line: `file:LINE:COL: field: what is wrong; expected ...` for a file,
            `<mapping>: field: ...` (the field path, no line) for a mapping.
        OSError: the file cannot be read.

    Example:
        >>> import scalesearch
        >>> spec = scalesearch.load_spec({"study": "demo", "dataset": {"name": "synthetic"},
        ...                               "architecture": {"family": "cifar_resnet", "args": {"depth": 8}},
        ...                               "search": {"sampler": "random", "trials": 2}})
        >>> spec.study, spec.search.trials
        ('demo', 2)
    """
    return spec_source(source)[0]


def resolve_netspec(source: ModelSource, *, in_channels: int | None = None, num_classes: int | None = None,
                    resolution: int | None = None) -> NetSpec:
    """A NetSpec from a preset name, a NetSpec (object or dict), a NetSpec `.json` file or a spec `.yaml` file
    (its baseline point); the keywords override its input shape and classes."""
    from scalesearch.nets import NetSpec

    if isinstance(source, NetSpec):
        spec = source
    elif isinstance(source, Mapping):
        spec = NetSpec.from_dict(dict(source))
    elif isinstance(source, (str, os.PathLike)):
        from scalesearch.spec.refs import load_netspec

        return load_netspec(os.fspath(source), in_channels=in_channels, num_classes=num_classes,
                            resolution=resolution)
    else:
        raise InputError(f"a network is a preset name, a NetSpec, its dict or a .json/.yaml path; got "
                         f"{type(source).__name__}")
    return spec.with_io(in_channels, num_classes, resolution)


def create_model(source: ModelSource, *, in_channels: int | None = None, num_classes: int | None = None,
                 resolution: int | None = None, zero_init_residual: bool = False) -> nn.Module:
    """Build a network (CPU, float32, training mode; move and cast it yourself).

    Args:
        source: a preset name (`scalesearch presets`), a NetSpec or its dict, or a `.json` NetSpec / `.yaml` spec
            file path (a spec's baseline point).
        in_channels, num_classes, resolution: override the network's input shape and classes.
        zero_init_residual: start each residual branch's last BatchNorm at zero.

    Example:
        >>> import scalesearch
        >>> model = scalesearch.create_model("cifar_resnet20", num_classes=10)
        >>> sum(p.numel() for p in model.parameters())
        269722
    """
    from scalesearch.nets.build import build_model

    netspec = resolve_netspec(source, in_channels=in_channels, num_classes=num_classes, resolution=resolution)
    return build_model(netspec, zero_init_residual=zero_init_residual)


def count(source: ModelSource, *, in_channels: int | None = None, num_classes: int | None = None,
          resolution: int | None = None) -> Cost:
    """The analytic params, MACs and activations of a network, per part (stem, stages, head) and in total; no
    model is built.

    Example:
        >>> import scalesearch
        >>> c = scalesearch.count("resnet50")
        >>> c.params, c.macs
        (25557032, 4089184256)
    """
    from scalesearch.nets.cost import count as count_spec

    return count_spec(resolve_netspec(source, in_channels=in_channels, num_classes=num_classes,
                                      resolution=resolution))
