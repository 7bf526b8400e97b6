"""Tests of scalesearch.spec.expr: the AST whitelist, bounds, runtime errors, evaluation against Python's own."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalesearch.spec.expr import FUNCTIONS, MAX_EXPONENT, Expr, ExprError, evaluate, parse_expr

ENV = {"a": 2, "b": 3.5, "c": -1, "alpha": 1.2, "beta": 1.1, "flag": True, "blk": "bottleneck"}


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7),
    ("2 ** 10", 1024),
    ("2 ** -1", 0.5),
    ("7 % 3", 1),
    ("-7 % 3", 2),
    ("7 / 2", 3.5),
    ("-a", -2),
    ("+a", 2),
    ("a * b - c", 8.0),
    ("sqrt(16)", 4.0),
    ("log(math_e)".replace("math_e", repr(math.e)), 1.0),
    ("log(8, 2)", 3.0),
    ("exp(0)", 1.0),
    ("abs(c)", 1),
    ("min(a, b, c)", -1),
    ("max(a, b)", 3.5),
    ("min(5)", 5),
    ("round(2.5)", 2),  # half to even, as Python
    ("round(3.5)", 4),
    ("round(3.14159, 2)", 3.14),
    ("ceil(1.1)", 2),
    ("floor(-1.1)", -2),
    ("1 < a <= 2", True),
    ("1 < a < 2", False),
    ("a == 2 and b != 3", True),
    ("a > 5 or not flag", False),
    ("not (a > 5)", True),
    ("blk == 'bottleneck'", True),
    ("blk != \"basic\"", True),
    ("true and not false", True),
    ("1.9 <= alpha * beta**2 * 1.15**2 <= 2.1", True),
    ("1e-3 * 1000", 1.0),
])
def test_evaluates_whitelisted_expressions(text: str, expected: object) -> None:
    got = evaluate(text, ENV)
    assert got == pytest.approx(expected) if isinstance(expected, float) else got == expected
    assert type(got) is type(expected) or isinstance(expected, float)


def test_round_ceil_floor_return_ints() -> None:
    for text in ("round(2.7)", "ceil(2.1)", "floor(2.9)", "round(32 * alpha)"):
        assert type(evaluate(text, ENV)) is int


def test_names_and_kind() -> None:
    e = parse_expr("sqrt(2 / (alpha * beta**2)) + max(a, 1)")
    assert e.names == frozenset({"alpha", "beta", "a"})
    assert e.kind == "num"
    assert parse_expr("macs <= 2 * base_macs").kind == "bool"
    assert parse_expr("x").kind == "any"
    assert parse_expr("not x").kind == "bool"


def test_parse_is_cached_and_equality_is_by_source() -> None:
    assert parse_expr("a + 1") is parse_expr("a + 1")
    assert parse_expr(" a + 1 ") == parse_expr("a + 1")
    assert parse_expr("a + 1") != parse_expr("a+1")
    assert hash(parse_expr("a + 1")) == hash(Expr("a + 1", frozenset(), "num", lambda env: 0))
    assert str(parse_expr("a + 1")) == "a + 1"


UNSAFE = [
    "__import__('os').system('touch pwned')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1]",
    "a.real",
    "a[0]",
    "lambda: 1",
    "(lambda: 1)()",
    "[x for x in (1, 2)]",
    "{x: 1 for x in (1, 2)}",
    "sum(x for x in (1, 2))",
    "(y := 3)",
    "f'{a}'",
    "eval('1')",
    "exec('1')",
    "open('/etc/passwd')",
    "getattr(a, 'real')",
    "globals()",
    "x if a else b",
    "[1, 2]",
    "(1, 2)",
    "{1: 2}",
    "{1}",
    "a // 2",
    "a @ b",
    "a << 2",
    "a | b",
    "~a",
    "a in b",
    "a is b",
    "max(*a)",
    "round(a, ndigits=1)",
    "_private",
    "__builtins__",
    "None",
    "b'bytes'",
    "1j",
    "sqrt",
    "await a",
    "a; b",
    "import os",
    "a = 1",
    "",
    "   ",
    "(",
    "a +",
    "x" * 1001,
    "(" * 70 + "1" + ")" * 70,
    "-" * 100 + "1",
    "2 ** 1000",
    "2 ** -1000",
    "10 ** 65",
    "2 ** 2 ** 2 ** 2 ** 2",
    "123456789012345678901234567890",
    "1e999",
    "'" + "x" * 100 + "'",
    " + ".join(["a"] * 250),
    "a\x00",
]


@pytest.mark.parametrize("text", UNSAFE)
def test_rejects_anything_outside_the_whitelist(text: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExprError) as info:
        parse_expr(text)(ENV)  # parse errors for most; evaluation errors (e.g. bounds) for the rest
    msg = str(info.value)
    assert "\n" not in msg and msg
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text", ["1 / 0", "a % 0", "0 ** -1", "sqrt(-1)", "log(0)", "log(-1)", "log(8, 1)",
                                  "exp(1000)", "ceil(1e300)", "10 ** 15 * 10 ** 15 * 10 ** 15", "(-8) ** 0.5",
                                  "2.0 ** 64 * 1e300", "a ** 9 ** 2", "'a' * 3", "blk + 1", "flag * 2",
                                  "a and b", "not a", "blk < 1", "max(blk, 1)", "undefined + 1",
                                  "round(1.5, 100)"])
def test_runtime_errors_are_expr_errors(text: str) -> None:
    e = parse_expr(text)  # valid syntax: the failure shows only with the values
    with pytest.raises(ExprError) as info:
        e(ENV)
    assert "\n" not in str(info.value)


def test_static_type_errors() -> None:
    for text in ("(a < b) + 1", "not 3", "1 and a < 2", "sqrt(a < b)", "-(a < b)"):
        with pytest.raises(ExprError):
            parse_expr(text)


def test_error_has_problem_and_expected() -> None:
    with pytest.raises(ExprError) as info:
        parse_expr("a.b")
    assert "attribute access" in info.value.problem and "(column 1)" in info.value.problem
    assert "min/max" in info.value.expected
    with pytest.raises(ExprError) as info:
        parse_expr("foo(1)")
    assert "'foo'" in info.value.problem and "sqrt" in info.value.expected


def test_exponent_bound_is_inclusive() -> None:
    assert evaluate(f"1.0001 ** {MAX_EXPONENT}", {}) == pytest.approx(1.0001 ** MAX_EXPONENT)
    assert evaluate(f"2 ** {MAX_EXPONENT - 2}", {}) == 2 ** (MAX_EXPONENT - 2)
    with pytest.raises(ExprError):
        evaluate(f"2 ** {MAX_EXPONENT}", {})  # 2**64 is beyond 2**63
    with pytest.raises(ExprError):
        evaluate(f"1.0 ** {MAX_EXPONENT + 1}", {})


def test_every_function_is_documented_and_callable() -> None:
    import scalesearch.spec.expr as module

    for name in FUNCTIONS:
        assert f"{name}(" in module.__doc__
        assert evaluate(f"{name}(2)", {}) is not None


# Property: on random arithmetic trees, the whitelist evaluator agrees with Python's own evaluation.
_leaf = st.one_of(st.integers(-50, 50).map(str), st.floats(-50, 50, allow_nan=False).map(repr),
                  st.sampled_from(["a", "b", "c", "alpha", "beta"]))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})")
    call = st.tuples(st.sampled_from(["min", "max", "abs"]), children, children).map(
        lambda t: f"{t[0]}({t[1]})" if t[0] == "abs" else f"{t[0]}({t[1]}, {t[2]})")
    return st.one_of(binop, call, children.map(lambda s: f"-{s}"))


_exprs = st.recursive(_leaf, _combine, max_leaves=12)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # the recursive strategy's long repr
@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_agrees_with_python(text: str) -> None:
    env = {k: v for k, v in ENV.items() if k in ("a", "b", "c", "alpha", "beta")}
    try:
        want = eval(text, {"__builtins__": {}, "min": min, "max": max, "abs": abs}, dict(env))  # trusted text
    except ZeroDivisionError:
        with pytest.raises(ExprError):
            evaluate(text, env)
        return
    if isinstance(want, float) and not math.isfinite(want) or isinstance(want, int) and abs(want) > 2 ** 63:
        with pytest.raises(ExprError):
            evaluate(text, env)
        return
    got = evaluate(text, env)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_escapes(text: str) -> None:
    """Any text either parses into a whitelisted tree or raises ExprError; evaluation raises only ExprError."""
    try:
        e = parse_expr(text)
    except ExprError as err:
        assert "\n" not in str(err)
        return
    try:
        e({n: 1 for n in e.names})
    except ExprError:
        pass
