"""No module of the web tier imports `worker/`, not even inside a function (`web → common ←
worker`); that building the app loads none of it: tests/service/web/test_celery_wiring.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def imported_modules(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module or "")
    return names


def test_no_web_module_imports_worker_even_inside_a_function():
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in (ROOT / "web").rglob("*.py")
        if (names := sorted(n for n in imported_modules(path) if n.split(".")[0] == "worker"))
    }
    assert offenders == {}
