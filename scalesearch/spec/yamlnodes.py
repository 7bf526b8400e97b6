"""YAML with positions: compose with SafeLoader, convert nodes ourselves (only plain scalars are
constructed), so that every key and value keeps its file, line, column and dotted field path; and the typed
readers of those nodes, each returning the value or raising a located SpecError."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import yaml

from scalesearch.spec.diagnostics import Loc, SpecError
from scalesearch.spec.expr import Expr, ExprError, parse_expr
from scalesearch.util.checks import range_text
from scalesearch.util.files import MAX_FILE_BYTES
from scalesearch.util.text import one_line, short, show

MAX_YAML_VALUES = 20_000  # keys, lists and scalars in one spec file (YAML aliases cannot blow it up)
MAX_YAML_DEPTH = 64  # nesting of mappings and lists in one spec file (a spec needs about 6)


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

    __slots__ = ("key_loc", "loc", "v")

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


# ---------------------------------------------------------------------------------------------------------------
# Typed readers: each returns the node's value or raises a SpecError located at the node.

def got(v: Any) -> str:
    """What a message says it found: 'got an integer 3', "got a string 'x'", 'got a list', 'got null'."""
    return f"got {show(v.v if isinstance(v, Node) else v)}"


def literal(v: Any) -> str:
    """A scalar as a spec file writes it: true, false, null, 3, 0.5, 'text'."""
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    return short(repr(v))


def member(value: Any, values: tuple[Any, ...]) -> bool:
    """Whether `value` is one of `values`, of the same type (True is not 1, 1 is not 1.0)."""
    return any(type(value) is type(v) and value == v for v in values)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices` to a misspelt `word`, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_mapping(n: Node, expected: str) -> dict[str, Node]:
    """The mapping a node holds."""
    if not isinstance(n.v, dict):
        raise n.err(got(n), expected)
    return n.v


def check_keys(n: Node, allowed: Iterable[str], required: Iterable[str] = (), what: str = "") -> dict[str, Node]:
    """The mapping a node holds, with only `allowed` keys and every `required` one."""
    m = read_mapping(n, f"a mapping{' of ' + what if what else ''}")
    allowed = list(allowed)
    for k, sub in m.items():
        if k not in allowed:
            hint = did_you_mean(k, allowed)
            raise sub.key_err(f"unknown key {k!r}{hint}", f"one of {', '.join(allowed)}")
    for k in required:
        if k not in m:
            raise n.err(f"missing required key {k!r}", f"{k} among the keys of {n.path or 'the file'}")
    return m


def read_int(n: Node, low: int | None = None, high: int | None = None, *, null: bool = False) -> int | None:
    """An integer (not a float, not a boolean) in [low, high]; None for null if `null`."""
    v = n.v
    if v is None and null:
        return None
    if type(v) is not int:
        raise n.err(got(v), _range("an integer", low, high, null))
    if (low is not None and v < low) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range("an integer", low, high, null))
    return v


def read_num(n: Node, low: float | None = None, high: float | None = None, *, null: bool = False,
             low_open: bool = False) -> float | None:
    """A number (not a boolean) in [low, high] (or (low, high] with `low_open`), as a float; None for null if
    `null`."""
    v = n.v
    if v is None and null:
        return None
    if type(v) not in (int, float):
        raise n.err(got(v), _range("a number", low, high, null, low_open))
    if (low is not None and (v < low or (low_open and v == low))) or (high is not None and v > high):
        raise n.err(f"{v} is out of range", _range("a number", low, high, null, low_open))
    return float(v)


def _range(kind: str, low: Any, high: Any, null: bool = False, low_open: bool = False) -> str:
    """`checks.range_text`, with ' or null' where null is allowed."""
    return range_text(kind, low, high, low_open=low_open) + (" or null" if null else "")


def read_str(n: Node, choices: Sequence[str] | None = None) -> str:
    """A string, one of `choices` if given."""
    v = n.v
    if not isinstance(v, str):
        raise n.err(got(v), f"one of {', '.join(choices)}" if choices else "a string")
    if choices is not None and v not in choices:
        hint = did_you_mean(v, choices)
        raise n.err(f"unknown value {short(v)!r}{hint}", f"one of {', '.join(choices)}")
    return v


def read_bool(n: Node) -> bool:
    """true or false."""
    if not isinstance(n.v, bool):
        raise n.err(got(n), "true or false")
    return n.v


def read_list(n: Node, expected: str) -> list[Node]:
    """The list a node holds."""
    if not isinstance(n.v, list):
        raise n.err(got(n), expected)
    return n.v


def read_pair(v: Node, items: str) -> tuple[Node, Node]:
    """[low, high] of an int or float range."""
    pair = read_list(v, f"[low, high] ({items})")
    if len(pair) != 2:
        raise v.err(f"got {len(pair)} values", "[low, high]")
    return pair[0], pair[1]


def read_distinct(v: Node, kind: str, expected: str, check: Callable[[Node], None],
                  limit: int) -> tuple[Any, ...]:
    """The values of a grid or choice list: non-empty, each passing `check`, no two equal (of one type), at most
    `limit`."""
    items = read_list(v, f"a non-empty list of {expected}")
    if not items:
        raise v.err(f"empty {kind}: the parameter has no values",
                    "a non-empty list" + (" of numbers" if kind == "grid" else ""))
    vals: list[Any] = []
    for it in items:
        check(it)
        if member(it.v, tuple(vals)):
            raise it.err(f"duplicate value {literal(it.v)}", "distinct values")
        vals.append(it.v)
    if len(vals) > limit:
        raise v.err(f"{len(vals)} values", f"at most {limit}")
    return tuple(vals)


def read_scalar(n: Node, expected: str) -> Any:
    """A number, string, boolean or null (not a mapping or list)."""
    if isinstance(n.v, (dict, list)):
        raise n.err(got(n), expected)
    return n.v


def read_expr(n: Node, what: str = "an expression") -> Expr:
    """An Expr from a node holding a string or a number (numbers are constant expressions)."""
    v = n.v
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise n.err(got(v), f"{what} (a string such as \"2 * base_macs\") or a number")
    try:
        return parse_expr(v if isinstance(v, str) else repr(v))
    except ExprError as e:
        raise n.err(f"{short(str(v), 60)!r}: {e.problem}", e.expected or "an expression of numbers, names, "
                    "+ - * / ** %, comparisons, and/or/not and min/max/abs/sqrt/log/exp/round/ceil/floor") from None


def read_condition(n: Node, example: str) -> Expr:
    """A boolean expression, written as a string (a bare number, list or mapping is not a condition)."""
    if not isinstance(n.v, str):
        raise n.err(got(n), f"a condition: a string such as \"{example}\"")
    e = read_expr(n, "a condition")
    if e.kind == "num":
        raise n.err(f"{short(e.source)!r} is a number, not a condition", f"a comparison such as \"{example}\"")
    return e


def num_or_expr(e: Expr) -> Any:
    """An expression's YAML form, the inverse of `read_expr`: a number where the expression is exactly a number
    literal (reads back as the same Expr), else its text."""
    src = e.source
    try:
        if str(int(src)) == src:
            return int(src)
    except ValueError:
        pass
    try:
        if repr(float(src)) == src:
            return float(src)
    except ValueError:
        pass
    return src
