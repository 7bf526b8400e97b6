"""The argument types of a family generator and of TrainConfig, read from their signatures."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

from scalesearch.arch import GENERATORS
from scalesearch.recipe import TrainConfig


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


@functools.lru_cache(maxsize=None)
def generator_args(family: str) -> dict[str, tuple[ArgType, Any]]:
    """name -> (type, default) of every argument of a family's generator."""
    gen = GENERATORS[family]
    try:
        hints = typing.get_type_hints(gen)
    except Exception:  # pragma: no cover - unresolvable annotations: accept any value
        hints = {}
    return {name: (type_of(hints.get(name, Any)), p.default) for name, p in inspect.signature(gen).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@functools.lru_cache(maxsize=None)
def train_fields() -> dict[str, ArgType]:
    """name -> type of every TrainConfig field: the one home of the training settings a spec may set."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: type_of(hints.get(f.name, Any)) for f in dataclasses.fields(TrainConfig)}
