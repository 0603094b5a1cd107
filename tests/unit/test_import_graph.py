"""The fasterapi package has no import cycles, and imports inside functions are only for optional
dependencies (each listed below with its reason).

The module-level import graph (imports under `if TYPE_CHECKING:` excluded: they never run) is built
from the sources with `ast`. Print it:

    python3 tests/unit/test_import_graph.py
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

# The package's sources: the checkout's, else the installed package's (CI runs the tests beside an
# installed copy on the other interpreters, .ci/interpreters.sh).
_CHECKOUT = Path(__file__).resolve().parents[2] / "src" / "fasterapi"
PACKAGE = _CHECKOUT if _CHECKOUT.is_dir() else Path(importlib.util.find_spec("fasterapi").origin).parent  # type: ignore[arg-type,union-attr]

# What may be imported inside a function, and why it is not imported at the top of the module.
OPTIONAL = {
    "watchfiles": "not installed on PyPy (no wheel); --reload polls mtimes without it",
    "dotenv": "python-dotenv is optional (--env-file)",
    "yaml": "PyYAML is optional (--log-config *.yaml)",
    "resource": "POSIX only",
    "fasterapi.testclient": "needs httpx (the test extra); the pytest plugin loads it when a test uses it",
    # --loop-threads in sub-interpreters (fasterapi._subinterp): what cannot load there stays out
    "ctypes": "3.12's _ctypes does not load in sub-interpreters; only the supervisor's SO_REUSEPORT steering uses it",
    "fastapi": "pydantic-core does not load in sub-interpreters: the CLI's import_app runs there (not _find_app)",
    "fasterapi.compiler": "imports FastAPI: an engine built in a sub-interpreter has no FastAPI routes to compile",
    "_xxsubinterpreters": "CPython 3.12's sub-interpreter API",
    "_interpreters": "CPython 3.13's sub-interpreter API",
    "concurrent": "concurrent.interpreters, CPython 3.14's sub-interpreter API",
}


def module_names() -> dict[str, Path]:
    names = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = ("fasterapi", *f.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = f
    return names


def imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The modules an import statement loads: a submodule named in `from X import name` counts as
    that submodule (not X's __init__, which is loaded by then anyway when X is this package)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known or a.name == "_core"]
    rest = [a for a in node.names if f"{base}.{a.name}" not in subs]
    return subs + ([base] if rest or not subs else [])


def imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level imports, function-level imports) of every module of the package."""
    names = module_names()
    known = set(names)
    top: dict[str, set[str]] = {m: set() for m in names}
    inner: dict[str, set[str]] = {m: set() for m in names}

    for m, f in names.items():
        is_package = f.name == "__init__.py"

        def visit(node: ast.AST, in_function: bool, m: str = m, is_package: bool = is_package) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    for other in child.orelse:
                        visit(other, in_function)
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    (inner if in_function else top)[m].update(imported(m, is_package, child, known))
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

        visit(ast.parse(f.read_text(), str(f)), False)
    return top, inner


def package_graph() -> dict[str, list[str]]:
    top, _ = imports()
    return {m: sorted(t for t in deps if t in top and t != m) for m, deps in top.items()}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (cycle := dfs(n)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in graph:
        if m not in state and (cycle := dfs(m)):
            return cycle
    return None


def test_the_graph_is_read() -> None:
    graph = package_graph()
    assert "fasterapi._engine" in graph["fasterapi.server"]
    assert "fasterapi._asgi_server" in graph["fasterapi._engine"]
    assert "fasterapi._asgi_server" in graph["fasterapi.compiler"]


def test_no_import_cycles() -> None:
    assert find_cycle(package_graph()) is None, " -> ".join(find_cycle(package_graph()) or [])


def test_a_cycle_is_found() -> None:
    # The checker itself: a graph with a cycle is reported as one.
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]


def test_function_level_imports_only_for_optional_dependencies() -> None:
    _, inner = imports()
    found = {(m, name) for m, names in inner.items() for name in names}
    unexpected = sorted((m, name) for m, name in found
                        if name not in OPTIONAL and name.split(".")[0] not in OPTIONAL)
    assert not unexpected, f"imports inside functions that are not optional dependencies: {unexpected}"
    used = {name for _m, name in found} | {name.split(".")[0] for _m, name in found}
    assert not set(OPTIONAL) - used, f"allowed but no longer imported lazily: {set(OPTIONAL) - used}"


# The native concerns (src/native/<concern>/) and what each may include: only bridge/ sees Python.
NATIVE = Path(__file__).resolve().parents[2] / "src" / "native"
NATIVE_INCLUDES = {
    "http": {"http"},
    "http2": {"http", "http2", "server"},  # server/: ConnLink (link.hpp) and now_ms (loop.hpp)
    "router": {"router"},
    "json": {"json", "http"},
    "server": {"server", "http", "http2", "tls"},
    "tls": {"tls"},
}


def test_native_concerns_include_only_their_own_and_no_python() -> None:
    bad = []
    for concern, allowed in NATIVE_INCLUDES.items():
        for f in sorted((NATIVE / concern).glob("*.[ch]pp")):
            for inc in re.findall(r'^#include\s+[<"]([^>"]+)[>"]', f.read_text(), re.M):
                if inc == "Python.h" or inc.startswith("Python") or ("/" in inc and inc.split("/")[0] not in allowed
                                                                      and (NATIVE / inc.split("/")[0]).is_dir()):
                    bad.append(f"{f.relative_to(NATIVE)}: {inc}")
    assert not bad, bad


if __name__ == "__main__":
    for module, deps in package_graph().items():
        print(f"{module} -> {', '.join(deps) or '(nothing in the package)'}")
