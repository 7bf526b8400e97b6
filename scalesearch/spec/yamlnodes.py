"""YAML with positions: compose with SafeLoader, convert nodes ourselves (only plain scalars are
constructed), so that every key and value keeps its file, line, column and dotted field path."""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from scalesearch.spec.constants import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_VALUES
from scalesearch.spec.errors import Loc, SpecError
from scalesearch.text import one_line, short


class TooDeep(yaml.MarkedYAMLError):
    """Mappings and lists nested deeper than MAX_YAML_DEPTH (PyYAML's composer recurses once per level)."""


class Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-3 as a float (YAML 1.2), as PyYAML's 1.1 resolver does not, and refuses
    nesting deeper than MAX_YAML_DEPTH before it recurses that deep."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """One node, one level deeper; past MAX_YAML_DEPTH a TooDeep error at the node."""
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise TooDeep(problem=f"the document is nested more than {MAX_YAML_DEPTH} levels deep",
                              problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789"))

SCALAR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}


class Node:
    """A YAML value with its place: `v` is a dict[str, Node], list[Node] or a plain scalar."""

    __slots__ = ("v", "loc", "key_loc")

    def __init__(self, v: Any, loc: Loc, key_loc: Loc | None = None) -> None:
        self.v, self.loc, self.key_loc = v, loc, key_loc or loc

    def err(self, problem: str, expected: str = "") -> SpecError:
        """A SpecError at the value."""
        return self.loc.error(problem, expected)

    def key_err(self, problem: str, expected: str = "") -> SpecError:
        """A SpecError at the value's key (the value itself for list items)."""
        return self.key_loc.error(problem, expected)

    @property
    def path(self) -> str:
        """The dotted field path."""
        return self.loc.field


def compose(text: str, file: str) -> Node:
    """The document of `text` as Nodes, every value with its place; YAML errors, unsupported tags, non-finite or
    huge numbers, duplicate keys and oversized or overdeep documents are located SpecErrors."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file, line=1, col=1, field="(file)",
                        expected="a spec of a few kilobytes")
    loader = Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = one_line(e.problem or e.context or "invalid YAML")
        deep = isinstance(e, TooDeep)
        raise SpecError(problem if deep else f"invalid YAML: {problem}", file=file,
                        line=(mark.line + 1) if mark else 1, col=(mark.column + 1) if mark else 1, field="(yaml)",
                        expected=f"at most {MAX_YAML_DEPTH} levels of mappings and lists (a spec needs about 6)"
                        if deep else "a valid YAML mapping") from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {one_line(str(e))[:200]}", file=file, line=1, col=1, field="(yaml)",
                        expected="a valid YAML mapping") from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError("the file is empty", file=file, line=1, col=1, field="(file)",
                        expected="a YAML mapping with study, dataset, architecture, parameters and search")
    constructor = yaml.constructor.SafeConstructor()
    count = [0]

    def conv(node: yaml.Node, path: str, key_loc: Loc | None) -> Node:
        """A composed node as a Node, checked (tags, keys, numbers) and counted against MAX_YAML_VALUES."""
        count[0] += 1
        loc = Loc(file, node.start_mark.line + 1, node.start_mark.column + 1, path)
        if count[0] > MAX_YAML_VALUES:
            raise loc.error(f"the document has more than {MAX_YAML_VALUES} values (YAML aliases expanding?)",
                            "a spec of a few kilobytes")
        where = path or "(top level)"
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise SpecError(f"unsupported YAML tag {short(node.tag)}", file=file, line=loc.line, col=loc.col,
                                field=where, expected="plain YAML mappings, lists, numbers, strings, booleans")
            out: dict[str, Node] = {}
            for knode, vnode in node.value:
                kloc = Loc(file, knode.start_mark.line + 1, knode.start_mark.column + 1, path)
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in ("tag:yaml.org,2002:str",
                                                                               "tag:yaml.org,2002:int"):
                    what = "a merge key '<<'" if knode.tag == "tag:yaml.org,2002:merge" else "this key"
                    raise kloc.error(f"{what} is not supported in a spec" if knode.tag.endswith("merge")
                                     else f"key {short(str(getattr(knode, 'value', '?')))!r} is not a string",
                                     "string keys (quote keys such as yes, no, on, off)")
                key = str(knode.value)
                sub = f"{path}.{key}" if path else key
                if key in out:
                    raise Loc(file, kloc.line, kloc.col, sub).error(f"duplicate key {key!r}", "each key once")
                out[key] = conv(vnode, sub, Loc(file, kloc.line, kloc.col, sub))
            return Node(out, loc, key_loc)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise SpecError(f"unsupported YAML tag {short(node.tag)}", file=file, line=loc.line, col=loc.col,
                                field=where, expected="plain YAML mappings, lists, numbers, strings, booleans")
            return Node([conv(v, f"{path}[{i}]", None) for i, v in enumerate(node.value)], loc, key_loc)
        if node.tag not in SCALAR_TAGS:
            kind = node.tag.rsplit(":", 1)[-1]
            raise SpecError(f"unsupported YAML value of type {short(kind)!r} ({short(str(node.value))!r})",
                            file=file, line=loc.line, col=loc.col, field=where,
                            expected="a number, string, boolean or null (quote strings such as dates)")
        try:
            value = constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            raise loc.error(f"cannot read value {short(str(node.value))!r}: {short(str(e), 80)}",
                            "a number, string, boolean or null") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise loc.error(f"{value} is not a finite number", "a finite number")
        if type(value) is int and abs(value) > 10 ** 15:
            raise loc.error(f"integer {short(str(value))} is too large", "|n| <= 10**15")
        return Node(value, loc, key_loc)

    return conv(root, "", None)
