"""`common/` has no import cycle: not among its packages, not among its modules, and no import
tucked inside a function (or under `TYPE_CHECKING`) to hide one.

Read from the source with `ast`, so every import counts wherever it sits in a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "common"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in COMMON.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> list[tuple[str, ast.AST]]:
    """(imported module, import node) for every import of a `common` module in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "common":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub if sub in known else node.module, node))
        elif isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names if a.name.split(".")[0] == "common"]
    return found


def _graph(level) -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        src = level(name)
        for target, _ in _imports(path, known):
            dst = level(target)
            if dst != src:
                graph.setdefault(src, set()).add(dst)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_cycle_among_common_packages():
    assert _cycles(_graph(_package)) == []


def test_no_cycle_among_common_modules():
    assert _cycles(_graph(lambda m: m)) == []


def test_no_import_of_common_hidden_in_a_function_or_type_checking_block():
    hidden = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(), str(path))
        for outer in ast.walk(tree):
            inner_blocks = []
            if (
                isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef)
                or isinstance(outer, ast.If)
                and "TYPE_CHECKING" in ast.unparse(outer.test)
            ):
                inner_blocks = outer.body
            for stmt in inner_blocks:
                for node in ast.walk(stmt):
                    is_import = isinstance(node, ast.Import | ast.ImportFrom)
                    if is_import and "common" in ast.unparse(node).split()[1].split(".")[0]:
                        hidden.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert hidden == []


def test_the_checks_see_a_cycle():
    """The cycle finder itself finds one (so an empty answer above means something)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
