"""Safe arithmetic expressions for derived parameters, matched targets and constraints.

Spec files never execute code. An expression is parsed with `ast.parse(mode="eval")` (parsing runs nothing) and
every node is checked against a whitelist; the accepted tree is compiled into a tree of small closures, so that
screening thousands of candidates costs microseconds each. Nothing outside the whitelist is ever evaluated.

Grammar (a subset of Python's expression syntax):
    numbers          3, 0.5, 1e-3, true, false (bools), 'text' / "text" (string literals: compare them with == !=)
    names            parameters of the spec, and `macs`, `params`, `base_macs`, `base_params` where a spec allows
    arithmetic       + - * / ** %   and unary + -     (/ is true division; % is Python's modulo)
    comparisons      < <= > >= == !=, chained as in Python: 1.9 <= a * b**2 <= 2.1
    logic            and, or, not   (operands must be booleans; the result is a boolean)
    functions        min(x, y, ...), max(x, y, ...), abs(x), sqrt(x), log(x) or log(x, base), exp(x),
                     round(x) (to the nearest integer, halves to even, as Python), round(x, ndigits),
                     ceil(x), floor(x)   (round with one argument, ceil and floor return integers)

Bounds: at most 1000 characters and 200 nodes, nesting depth 32, integer literals up to 10**15 in magnitude;
`x ** y` needs |y| <= 64; integer results beyond 2**63 and non-finite float results are errors, as are division
by zero and math domain errors (sqrt(-1), log(0)). Attribute access, subscripts, calls of anything but the
functions above, keyword arguments, lambdas, comprehensions, f-strings, conditional expressions, walrus and
names starting with an underscore are rejected when the expression is parsed.

Errors are `ExprError` (a ValueError) with a one-line message; `scalesearch.spec` adds the file, line and field.

Example:
    >>> e = parse_expr("sqrt(2 / (alpha * beta**2))")
    >>> sorted(e.names)
    ['alpha', 'beta']
    >>> round(e({"alpha": 1.2, "beta": 1.1}), 4)
    1.1736
    >>> parse_expr("1.9 <= a * b**2 <= 2.1")({"a": 1.2, "b": 1.1})
    False
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalesearch.errors import ScalesearchError
from scalesearch.util.text import short

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_LITERAL",
    "MAX_INT_RESULT",
    "MAX_LENGTH",
    "MAX_NODES",
    "NAME_RE",
    "Expr",
    "ExprError",
    "evaluate",
    "parse_expr",
]

MAX_LENGTH = 1000
MAX_NODES = 200
MAX_DEPTH = 32
MAX_EXPONENT = 64
MAX_INT_LITERAL = 10 ** 15
MAX_INT_RESULT = 2 ** 63
MAX_STRING = 64
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

Value = "int | float | bool | str"
Env = Mapping[str, Any]
_Fn = Callable[[Env], Any]


class ExprError(ScalesearchError, ValueError):
    """A malformed or unsafe expression, or one that fails on the given values (one-line message).

    Attributes:
        problem: what is wrong (the message up to "; expected").
        expected: what is expected ("" if the message does not say).
    """

    def __init__(self, message: str) -> None:
        message = " ".join(str(message).split())
        self.problem, _, self.expected = message.partition("; expected ")
        super().__init__(message)


# ---------------------------------------------------------------------------------------------------------------
# Checked arithmetic: every intermediate value is an int within MAX_INT_RESULT or a finite float.

def _type_name(v: Any) -> str:
    return "a boolean" if isinstance(v, bool) else "a string" if isinstance(v, str) else type(v).__name__


def _num(v: Any, what: str) -> int | float:
    """v if it is an int or float (not a bool, string or anything else)."""
    t = type(v)
    if t is int or t is float:
        return v
    raise ExprError(f"{what} needs numbers, got {_type_name(v)} {v!r}")


def _check(v: Any, what: str) -> int | float:
    """Bound a numeric result: finite floats, ints within MAX_INT_RESULT, never complex."""
    t = type(v)
    if t is float:
        if not math.isfinite(v):
            raise ExprError(f"{what} gives a non-finite number")
        return v
    if t is int:
        if -MAX_INT_RESULT <= v <= MAX_INT_RESULT:
            return v
        raise ExprError(f"{what} gives an integer beyond 2**63")
    if t is complex:
        raise ExprError(f"{what} gives a complex number (math domain error)")
    raise ExprError(f"{what} gives {_type_name(v)}")  # pragma: no cover - defensive


def _pow(a: Any, b: Any) -> int | float:
    a, b = _num(a, "'**'"), _num(b, "'**'")
    if abs(b) > MAX_EXPONENT:
        raise ExprError(f"exponent {b!r} is out of bounds; expected |exponent| <= {MAX_EXPONENT}")
    if type(a) is int and type(b) is int and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > 63:
        raise ExprError(f"{a} ** {b} gives an integer beyond 2**63")
    try:
        r = a ** b
    except ZeroDivisionError:
        raise ExprError(f"{a!r} ** {b!r}: zero to a negative power") from None
    except OverflowError:
        raise ExprError(f"{a!r} ** {b!r} overflows") from None
    return _check(r, "'**'")


def _binop(sym: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    what = f"'{sym}'"

    def run(a: Any, b: Any) -> Any:
        a, b = _num(a, what), _num(b, what)
        try:
            r = op(a, b)
        except ZeroDivisionError:
            raise ExprError(f"division by zero in {a!r} {sym} {b!r}") from None
        except OverflowError:
            raise ExprError(f"{a!r} {sym} {b!r} overflows") from None
        return _check(r, what)

    return run


_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", _binop("+", lambda a, b: a + b)),
    ast.Sub: ("-", _binop("-", lambda a, b: a - b)),
    ast.Mult: ("*", _binop("*", lambda a, b: a * b)),
    ast.Div: ("/", _binop("/", lambda a, b: a / b)),
    ast.Mod: ("%", _binop("%", lambda a, b: a % b)),
    ast.Pow: ("**", _pow),
}

_CMPOPS: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Lt: ("<", lambda a, b: a < b), ast.LtE: ("<=", lambda a, b: a <= b),
    ast.Gt: (">", lambda a, b: a > b), ast.GtE: (">=", lambda a, b: a >= b),
    ast.Eq: ("==", lambda a, b: a == b), ast.NotEq: ("!=", lambda a, b: a != b),
}


def _math1(name: str, fn: Callable[[float], Any]) -> Callable[..., Any]:
    def run(x: Any) -> Any:
        x = _num(x, f"{name}()")
        try:
            r = fn(x)
        except ValueError:
            raise ExprError(f"{name}({x!r}): math domain error") from None
        except OverflowError:
            raise ExprError(f"{name}({x!r}) overflows") from None
        return _check(r, f"{name}()")

    return run


def _log(x: Any, base: Any = None) -> float:
    x = _num(x, "log()")
    try:
        r = math.log(x) if base is None else math.log(x, _num(base, "log()"))
    except (ValueError, ZeroDivisionError):
        args = f"{x!r}" if base is None else f"{x!r}, {base!r}"
        raise ExprError(f"log({args}): math domain error") from None
    return _check(r, "log()")


def _round(x: Any, ndigits: Any = None) -> int | float:
    x = _num(x, "round()")
    if ndigits is not None:
        if type(ndigits) is not int or abs(ndigits) > 32:
            raise ExprError(f"round(x, ndigits): ndigits must be an integer within 32, got {ndigits!r}")
        return _check(round(x, ndigits), "round()")
    try:
        return _check(round(x), "round()")
    except OverflowError:  # pragma: no cover - x is finite, so round cannot overflow a Python int
        raise ExprError(f"round({x!r}) overflows") from None


def _minmax(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*xs: Any) -> Any:
        return fn(_num(x, f"{name}()") for x in xs)

    return run


# name -> (function, minimum arguments, maximum arguments or None)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "min": (_minmax("min", min), 1, None),
    "max": (_minmax("max", max), 1, None),
    "abs": (_math1("abs", abs), 1, 1),
    "sqrt": (_math1("sqrt", math.sqrt), 1, 1),
    "log": (_log, 1, 2),
    "exp": (_math1("exp", math.exp), 1, 1),
    "round": (_round, 1, 2),
    "ceil": (_math1("ceil", math.ceil), 1, 1),
    "floor": (_math1("floor", math.floor), 1, 1),
}

_ALLOWED = ("numbers, parameter names, + - * / ** %, comparisons, and/or/not and calls of "
            + "/".join(FUNCTIONS))


# ---------------------------------------------------------------------------------------------------------------
# Compilation: check each node against the whitelist and build a closure for it.

@dataclass
class _Compiler:
    text: str
    names: set[str] = field(default_factory=set)
    nodes: int = 0

    def fail(self, node: ast.AST, msg: str) -> ExprError:
        col = getattr(node, "col_offset", None)
        at = f" (column {col + 1})" if col is not None else ""
        problem, sep, expected = msg.partition("; expected ")
        return ExprError(f"{problem}{at}{sep}{expected}")

    def compile(self, node: ast.AST, depth: int = 0) -> tuple[_Fn, str]:
        """(closure, kind) with kind 'num', 'bool' or 'any' (a name or constant of unknown use)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"expression is too large; expected at most {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression is nested too deeply; expected depth <= {MAX_DEPTH}")
        meth = getattr(self, f"_{type(node).__name__}", None)
        if meth is None:
            raise self.fail(node, f"{_describe(node)} is not allowed; expected {_ALLOWED}")
        return meth(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> tuple[_Fn, str]:
        v = node.value
        if isinstance(v, bool):
            return (lambda env: v), "bool"
        if type(v) is int:
            if abs(v) > MAX_INT_LITERAL:
                raise self.fail(node, f"integer literal {str(v)[:20]}... is too large; expected |n| <= 10**15"
                                if len(str(v)) > 20 else
                                f"integer literal {v} is too large; expected |n| <= 10**15")
            return (lambda env: v), "num"
        if type(v) is float:
            if not math.isfinite(v):
                raise self.fail(node, "number literal is not finite; expected a finite number")
            return (lambda env: v), "num"
        if type(v) is str:
            if len(v) > MAX_STRING:
                raise self.fail(node, f"string literal is too long; expected at most {MAX_STRING} characters")
            return (lambda env: v), "any"
        raise self.fail(node, f"literal {type(v).__name__} {short(repr(v))} is not allowed; expected a number")

    def _Name(self, node: ast.Name, depth: int) -> tuple[_Fn, str]:
        name = node.id
        if name in ("true", "True"):
            return (lambda env: True), "bool"
        if name in ("false", "False"):
            return (lambda env: False), "bool"
        if name in FUNCTIONS:
            raise self.fail(node, f"{name!r} is a function; expected a call such as {name}(x)")
        if not NAME_RE.match(name):
            raise self.fail(node, f"name {name!r} is not allowed; expected a parameter name (letters, digits, _; "
                                  "not starting with _)")
        self.names.add(name)

        def run(env: Env) -> Any:
            try:
                return env[name]
            except KeyError:
                raise ExprError(f"undefined name {name!r}") from None

        return run, "any"

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> tuple[_Fn, str]:
        f, kind = self.compile(node.operand, depth)
        if isinstance(node.op, ast.Not):
            if kind == "num":
                raise self.fail(node, "'not' needs a boolean operand; expected a comparison")

            def run_not(env: Env) -> bool:
                v = f(env)
                if type(v) is not bool:
                    raise ExprError(f"'not' needs a boolean, got {_type_name(v)} {v!r}")
                return not v

            return run_not, "bool"
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            if kind == "bool":
                raise self.fail(node, "unary minus/plus needs a number, got a boolean")
            neg = isinstance(node.op, ast.USub)
            if isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
                c = -node.operand.value if neg else node.operand.value
                return (lambda env: c), "num"
            if neg:
                return (lambda env: -_num(f(env), "unary '-'")), "num"
            return (lambda env: _num(f(env), "unary '+'")), "num"
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed; expected {_ALLOWED}")

    def _BinOp(self, node: ast.BinOp, depth: int) -> tuple[_Fn, str]:
        entry = _BINOPS.get(type(node.op))
        if entry is None:
            raise self.fail(node, f"operator {_OPNAMES.get(type(node.op), type(node.op).__name__)} is not allowed; "
                                  "expected + - * / ** %")
        sym, op = entry
        fa, ka = self.compile(node.left, depth)
        fb, kb = self.compile(node.right, depth)
        if "bool" in (ka, kb):
            raise self.fail(node, f"'{sym}' needs numbers, got a boolean")
        if sym == "**" and isinstance(node.right, (ast.Constant, ast.UnaryOp)):
            ef, _ = fb, kb
            try:
                e = ef({})
            except ExprError:
                e = None
            if type(e) in (int, float) and abs(e) > MAX_EXPONENT:
                raise self.fail(node, f"exponent {e!r} is out of bounds; expected |exponent| <= {MAX_EXPONENT}")
        return (lambda env: op(fa(env), fb(env))), "num"

    def _Compare(self, node: ast.Compare, depth: int) -> tuple[_Fn, str]:
        fs = [self.compile(node.left, depth)[0]]
        ops = []
        for o, c in zip(node.ops, node.comparators, strict=True):
            entry = _CMPOPS.get(type(o))
            if entry is None:
                raise self.fail(node, f"comparison {_OPNAMES.get(type(o), type(o).__name__)} is not allowed; "
                                      "expected < <= > >= == !=")
            ops.append(entry)
            fs.append(self.compile(c, depth)[0])

        def run(env: Env) -> bool:
            a = fs[0](env)
            for (sym, op), fb in zip(ops, fs[1:], strict=True):
                b = fb(env)
                if (sym not in ("==", "!=") and (type(a) not in (int, float) or type(b) not in (int, float))
                        and not (type(a) is str and type(b) is str)):
                    raise ExprError(f"'{sym}' needs two numbers (or two strings), got {_type_name(a)} {a!r} "
                                    f"and {_type_name(b)} {b!r}")
                if not op(a, b):
                    return False
                a = b
            return True

        return run, "bool"

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> tuple[_Fn, str]:
        parts = []
        for v in node.values:
            f, kind = self.compile(v, depth)
            if kind == "num":
                raise self.fail(v, "'and'/'or' need boolean operands; expected comparisons")
            parts.append(f)
        is_and = isinstance(node.op, ast.And)
        sym = "and" if is_and else "or"

        def run(env: Env) -> bool:
            for f in parts:
                v = f(env)
                if type(v) is not bool:
                    raise ExprError(f"'{sym}' needs booleans, got {_type_name(v)} {v!r}")
                if v is not is_and:  # False short-circuits 'and', True short-circuits 'or'
                    return v
            return is_and

        return run, "bool"

    def _Call(self, node: ast.Call, depth: int) -> tuple[_Fn, str]:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"calling {short(ast.unparse(node.func))!r} is not allowed; expected one of "
                                  f"{', '.join(FUNCTIONS)}")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node, f"function {short(name)!r} is not allowed; expected one of {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{name}() takes no *arguments")
        fn, lo, hi = FUNCTIONS[name]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} or {hi}" if hi is not None else f"at least {lo}"
            want = "at least one" if want == "at least 1" else want
            plural = "" if want in ("1", "at least one") else "s"
            raise self.fail(node, f"{name}() takes {want} argument{plural}, got {n}")
        args = []
        for a in node.args:
            f, kind = self.compile(a, depth)
            if kind == "bool":
                raise self.fail(a, f"{name}() needs numbers, got a boolean")
            args.append(f)
        if n == 1:
            (f0,) = args
            return (lambda env: fn(f0(env))), "num"
        if n == 2:
            f0, f1 = args
            return (lambda env: fn(f0(env), f1(env))), "num"
        return (lambda env: fn(*[f(env) for f in args])), "num"


_OPNAMES = {ast.FloorDiv: "'//'", ast.MatMult: "'@'", ast.LShift: "'<<'", ast.RShift: "'>>'", ast.BitOr: "'|'",
            ast.BitAnd: "'&'", ast.BitXor: "'^'", ast.Is: "'is'", ast.IsNot: "'is not'", ast.In: "'in'",
            ast.NotIn: "'not in'", ast.Invert: "'~'"}

_DESCRIPTIONS = {
    "Attribute": "attribute access", "Subscript": "subscripting", "Lambda": "lambda", "IfExp": "a conditional "
    "expression", "ListComp": "a comprehension", "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression", "NamedExpr": "':=' assignment", "JoinedStr": "an f-string",
    "FormattedValue": "an f-string", "Tuple": "a tuple", "List": "a list", "Dict": "a dict", "Set": "a set",
    "Starred": "'*' unpacking", "Await": "await", "Yield": "yield", "YieldFrom": "yield", "Slice": "a slice",
}


def _describe(node: ast.AST) -> str:
    return _DESCRIPTIONS.get(type(node).__name__, type(node).__name__)


# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    """A parsed, checked expression; call it with a mapping of names to values.

    Attributes:
        source: the expression text (stripped); two Exprs are equal when their texts are.
        names: the free names it reads (parameters, `macs`, ...), not the function names.
        kind: "bool" for comparisons and logic, "num" for arithmetic and function calls, "any" for a bare name or
            string literal (its type is known only from the values).
    """

    source: str
    names: frozenset[str] = field(compare=False)
    kind: str = field(compare=False)
    _fn: _Fn = field(compare=False, repr=False)

    def __call__(self, env: Env) -> Any:
        """Evaluate with `env` (name -> int/float/bool/str); raises ExprError (one line) on any failure."""
        try:
            return self._fn(env)
        except ExprError:
            raise
        except RecursionError:  # pragma: no cover - depth is bounded at parse time
            raise ExprError("expression is nested too deeply") from None
        except (TypeError, ValueError, ArithmeticError) as e:  # defensive: every path above raises ExprError
            raise ExprError(f"cannot evaluate: {short(str(e), 80)}") from None

    def __str__(self) -> str:
        return self.source


@functools.lru_cache(maxsize=8192)
def parse_expr(text: str) -> Expr:
    """Parse and check an expression (cached by its text).

    Args:
        text: the expression, e.g. "sqrt(2 / (alpha * beta**2))" or "macs <= 2 * base_macs".

    Returns:
        An `Expr`: callable with a mapping of names to values.

    Raises:
        ExprError: the text is empty, too long, not valid syntax, or uses anything outside the whitelist.

    Example:
        >>> parse_expr("max(1, round(32 * g))")({"g": 1.15})
        37
    """
    if not isinstance(text, str):
        raise ExprError(f"expected an expression string, got {type(text).__name__}")
    src = text.strip()
    if not src:
        raise ExprError("empty expression; expected an arithmetic or boolean expression")
    if len(src) > MAX_LENGTH:
        raise ExprError(f"expression is {len(src)} characters long; expected at most {MAX_LENGTH}")
    if "\x00" in src:
        raise ExprError("expression contains a NUL character")
    if src.count("(") + src.count("[") + src.count("{") > MAX_DEPTH * 2:
        raise ExprError(f"expression has too many brackets; expected nesting depth <= {MAX_DEPTH}")
    try:
        tree = ast.parse(" ".join(src.split()) if "\n" in src else src, mode="eval")
    except SyntaxError as e:
        col = f" at column {e.offset}" if e.offset else ""
        why = "" if e.msg == "invalid syntax" else f": {e.msg}"  # Python's generic message says nothing more
        raise ExprError(f"invalid syntax{col} in {short(src)!r}{why}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot parse {short(src)!r}: {type(e).__name__}") from None
    comp = _Compiler(src)
    fn, kind = comp.compile(tree.body)
    return Expr(src, frozenset(comp.names), kind, fn)


def evaluate(text: str, env: Env) -> Any:
    """Parse (cached) and evaluate `text` with `env`: `evaluate("a * 2", {"a": 3}) == 6`."""
    return parse_expr(text)(env)
