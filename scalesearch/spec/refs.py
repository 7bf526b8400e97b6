"""`load_netspec(ref)`: a network named on the command line, as a preset name, a NetSpec JSON file or a spec
file (its baseline point); `with_shape` gives it the input shape and classes the options ask for, each checked
against what the network accepts (`check_resolution`).

It sits on top of the core (it reads files, and spec files need the spec reader), so that `arch` reads none.
A name of a preset always means the preset: a file or folder of that name in the working directory does not
shadow it; give a path with an extension (`./resnet50.json`) to mean the file.
"""

from __future__ import annotations

from pathlib import Path

from scalesearch.errors import InputError
from scalesearch.nets import MAX_CLASSES, MAX_INPUT_RESOLUTION, MAX_WIDTH, NetSpec, is_preset, preset
from scalesearch.util.checks import FieldError, check_int, range_text
from scalesearch.util.files import read_text

__all__ = ["check_resolution", "load_netspec", "with_shape"]

SPEC_SUFFIXES = (".yaml", ".yml")
NETSPEC_SUFFIXES = (".json",)


def load_netspec(ref: str, *, in_channels: int | None = None, num_classes: int | None = None,
                 resolution: int | None = None) -> NetSpec:
    """A NetSpec from a preset name, a NetSpec `.json` file, or a spec `.yaml`/`.yml` file (its baseline point);
    extensions are matched whatever their case. None keeps the network's own input shape and classes.

    Raises:
        ValueError: an unknown preset, a malformed file (the message names the file and the field).
        OSError: a file that cannot be read (missing, a directory, a FIFO or device).
    """
    suffix = Path(ref).suffix.lower()
    if suffix in SPEC_SUFFIXES:
        from scalesearch.spec import (  # the spec reader is the layer above
            baseline_netspec,
            load_spec,
        )

        spec = baseline_netspec(load_spec(ref))
    elif suffix in NETSPEC_SUFFIXES:
        text = read_text(ref, what="NetSpec JSON")
        try:
            spec = NetSpec.from_json(text)
        except FieldError as e:
            raise FieldError(f"{ref}: {e.field}", e.expected, e.got, problem=e.problem) from None
    elif is_preset(ref) or not Path(ref).exists():
        spec = preset(ref)
    else:
        raise InputError(f"{ref}: not a preset name and not a .json NetSpec or .yaml spec file; expected a preset "
                         "(`scalesearch presets`), a .json or a .yaml path")
    return spec.with_io(in_channels, num_classes, resolution)


def check_resolution(option: str, value: int, low: int, high: int, stride: int | None = None) -> None:
    """One range for a resolution option: what the data and the network both accept, saying why the floor.

    Raises:
        FieldError: `value` is outside [low, high], named as `option`.
    """
    if not low <= value <= high:
        why = f" (the network's total stride is {stride if stride is not None else low})"
        raise FieldError(option, range_text("an integer", low, high) + why, value)


def with_shape(spec: NetSpec, *, in_channels: int | None = None, num_classes: int | None = None,
               resolution: int | None = None) -> NetSpec:
    """`spec` with the input shape and classes asked for (None keeps the network's), each checked against what
    the network accepts, one range per value, named as the option that sets it (`--resolution`, `--in-channels`,
    `--classes`)."""
    if resolution is not None:
        check_resolution("--resolution", resolution, spec.total_stride, MAX_INPUT_RESOLUTION)
    if in_channels is not None:
        check_int("--in-channels", in_channels, 1, MAX_WIDTH)
    if num_classes is not None:
        check_int("--classes", num_classes, 1, MAX_CLASSES)
    return spec.with_io(in_channels, num_classes, resolution)
