"""The package's shape: imports run one way (no cycle, counting imports inside functions and under TYPE_CHECKING;
packages in one order), only the public entry points stand at the top, no two modules share a file name, Ray and
Optuna stay at the edges, no module owns too much. (ruff runs in `make test` before pytest.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "scalesearch"
MAX_LINES = 530  # "about 500" (5% over it at most): a module longer than this owns more than one concern
EDGES_ALLOWED_RAY_OPTUNA = ("scalesearch.strategies", "scalesearch.search", "scalesearch.simulate", "scalesearch.cli")
# Imports run down this list only: a package (or top-level module) imports itself and those before it. `errors` is
# the root every package may raise; `api` is the public facade over the core. The root package `scalesearch` is not
# in it: its `__init__` imports nothing of scalesearch until a name is used (any module may read `__version__`).
ORDER = ("errors", "util", "analysis", "strategies", "nets", "data", "train", "plot", "spec", "trial", "store",
         "search", "simulate", "results", "rediscover", "cli", "api", "__main__")
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "api.py"}  # the public entry points, beside the packages


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every scalesearch module `name` imports, wherever the import statement is (top level, function,
    TYPE_CHECKING block)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import scalesearch.spec.diagnostics as e` names a module; an attribute's
                t = t.rpartition(".")[0]    # owner is the nearest module above it
            if t and t != name and t.startswith("scalesearch"):
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_imports_run_one_way_no_cycle_even_inside_functions_or_type_checking():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (each a set of modules that import each other): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_the_cycle_check_sees_function_level_and_type_checking_imports(tmp_path):
    modules = {"scalesearch.a": tmp_path / "a.py", "scalesearch.b": tmp_path / "b.py"}
    modules["scalesearch.a"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                        "    from scalesearch.b import X\n")
    modules["scalesearch.b"].write_text("def f():\n    import scalesearch.a\n")
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert _cycles(graph) == [["scalesearch.a", "scalesearch.b"]]


def _rank(module: str) -> int:
    """The place in ORDER of the package (or top-level module) that holds `module`."""
    return ORDER.index(module.split(".")[1])


def test_packages_import_only_those_before_them_in_the_order():
    graph = _graph()
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() if m != "scalesearch"
                    for d in deps if d != "scalesearch" and _rank(d) > _rank(m))
    assert not upward, f"{len(upward)} imports against the package order {ORDER}:\n" + "\n".join(upward)
    assert {m.split(".")[1] for m in graph if m != "scalesearch"} == set(ORDER)  # every package is placed


def test_only_the_public_entry_points_stand_at_the_top_and_no_two_modules_share_a_file_name():
    top = {p.name for p in PKG.glob("*.py")}
    assert top == TOP_LEVEL, sorted(top - TOP_LEVEL)
    names: dict[str, list[str]] = {}
    for name, path in _modules().items():
        if path.name != "__init__.py":
            names.setdefault(path.name, []).append(name)
    assert not {n: ms for n, ms in names.items() if len(ms) > 1}


def test_ray_and_optuna_are_imported_only_by_the_search_engine_and_the_cli():
    offenders = []
    for name, path in _modules().items():
        if name.startswith(EDGES_ALLOWED_RAY_OPTUNA):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in ("ray", "optuna")]
    assert not offenders


def test_no_module_is_longer_than_about_500_lines():
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in _modules().items()}
    assert not {n: k for n, k in long.items() if k > MAX_LINES}


def test_importing_the_package_changes_no_environment_variable():
    """Importing any scalesearch module sets none of the variables scalesearch gives Ray (they are set where Ray is
    started: `cluster.connect`, `run.run_study`); Ray's own import may set its own."""
    import subprocess

    code = ("import os, pkgutil, importlib, scalesearch\n"
            "before = dict(os.environ)\n"
            "for m in pkgutil.walk_packages(scalesearch.__path__, 'scalesearch.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "from scalesearch.search.cluster import set_ray_environment\n"
            "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
            "after = dict(os.environ)\n"
            "set_ray_environment()\n"
            "ours = sorted(k for k in os.environ if after.get(k) != os.environ.get(k))\n"
            "print(sorted(set(changed) & set(ours)), len(ours))\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("RAY_", "TUNE_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split()[0] == "[]" and int(out.split()[-1]) >= 5, out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(name: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """Every place module `name` takes another scalesearch module's `_name`: `from scalesearch.X import _name`
    (relative imports resolved, at any nesting level) and `mod._name` where `mod` is bound to a scalesearch module by
    `import scalesearch.X as mod` or `from scalesearch import X`; dunder names are not private."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    bound: dict[str, str] = {}  # local name -> the scalesearch module it is bound to
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:  # `import scalesearch.x.y` binds `scalesearch`; `... as m` binds `m` to the module
                if a.name.split(".")[0] == "scalesearch":
                    bound[a.asname or "scalesearch"] = a.name if a.asname else "scalesearch"
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("scalesearch"):
                continue
            for a in node.names:
                if f"{base}.{a.name}" in modules:
                    bound[a.asname or a.name] = f"{base}.{a.name}"
                elif _private(a.name) and base != name:
                    out.append(f"{name}:{node.lineno}: from {base} import {a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [], node.value  # `scalesearch.search.state._x` or `mod._x`
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                owner = ".".join([bound[value.id], *chain])
                if owner in modules and owner != name:
                    out.append(f"{name}:{node.lineno}: {owner}.{node.attr}")
    return out


def test_no_module_uses_another_modules_private_names():
    """A name another module needs is public where it is defined (or moves there): no `_name` crosses a module."""
    modules = _modules()
    uses = [u for m, p in sorted(modules.items()) for u in _private_uses(m, p, modules)]
    assert not uses, f"{len(uses)} uses of another module's private name:\n" + "\n".join(uses)


def test_the_private_name_check_sees_relative_function_level_and_attribute_uses(tmp_path):
    modules = {m: tmp_path / f"{m.rsplit('.', 1)[1]}.py" for m in ("scalesearch.p.a", "scalesearch.p.b")}
    modules["scalesearch.p.a"].write_text("_x = 1\n__all__ = []\nprint(_x)\n")
    modules["scalesearch.p.b"].write_text(
        "from . import a\nimport scalesearch.p.a as m\nfrom .a import __all__\n"
        "def f(store):\n    from .a import _x\n    return a._x, m._x, store._x, a.__all__\n")
    assert _private_uses("scalesearch.p.a", modules["scalesearch.p.a"], modules) == []
    assert _private_uses("scalesearch.p.b", modules["scalesearch.p.b"], modules) == [
        "scalesearch.p.b:5: from scalesearch.p.a import _x", "scalesearch.p.b:6: scalesearch.p.a._x",
        "scalesearch.p.b:6: scalesearch.p.a._x"]


def test_benchmarks_and_scripts_import_the_installed_package_and_no_private_name():
    """They run with the project's environment (`make setup` installs the package), so no sys.path patch; the one
    exception is scripts/train_points.py, which also runs from a bare checkout on an accelerator machine's image
    (PyTorch only, nothing installed)."""
    import re

    root = PKG.parent
    files = [*sorted((root / "benchmarks").glob("*.py")), *sorted((root / "scripts").glob("*.py"))]
    assert len(files) >= 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.name != "train_points.py":
            assert "sys.path.insert" not in text, path
        assert not re.search(r"from scalesearch[\w.]* import [^\n]*\b_[a-z]", text), path
