"""The package's shape: imports run one way (no cycle, counting imports inside functions and under TYPE_CHECKING),
Ray and Optuna stay at the edges, no module owns too much. (ruff runs in `make test` before pytest.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "scalesearch"
MAX_LINES = 530  # "about 500" (5% over it at most): a module longer than this owns more than one concern
EDGES_ALLOWED_RAY_OPTUNA = ("scalesearch.search", "scalesearch.cli")


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
            while t and t not in modules:  # `import scalesearch.spec.errors as e` names a module; an attribute's
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
